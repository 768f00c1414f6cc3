#!/usr/bin/env python3
"""oauth-standin.py: an OAuth 2.0 token endpoint for the mailbox suite, as Microsoft Entra ID is for
Microsoft 365's IMAP: the client credentials grant over HTTPS (the suite's test CA) issues bearer tokens
to one client, and an introspection endpoint (RFC 7662, plain HTTP on loopback) lets Dovecot's oauth2
passdb check them. Usage: oauth-standin.py CERT KEY CLIENT_ID SECRET_FILE SCOPE USER PORTFILE"""
import json, secrets, ssl, sys, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

cert, key, client_id, secret_file, scope, user, portfile = sys.argv[1:8]
secret = open(secret_file).read().splitlines()[0]
issued = set()
asked = {"n": 0}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        return urllib.parse.parse_qs(self.rfile.read(n).decode())

    def answer(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_POST(self):
        f = {k: v[0] for k, v in self.form().items()}
        if self.path.endswith("/token"):
            asked["n"] += 1
            if f.get("grant_type") != "client_credentials" or f.get("client_id") != client_id or f.get("client_secret") != secret:
                return self.answer(401, {"error": "invalid_client", "error_description": "bad client credentials"})
            if f.get("scope") != scope:
                return self.answer(400, {"error": "invalid_scope"})
            tok = secrets.token_urlsafe(24)
            issued.add(tok)
            return self.answer(200, {"access_token": tok, "token_type": "Bearer", "expires_in": 3599})
        if self.path == "/introspect":
            if f.get("token") in issued:
                return self.answer(200, {"active": True, "username": user})
            return self.answer(200, {"active": False})
        if self.path == "/asked":
            return self.answer(200, {"asked": asked["n"]})
        self.answer(404, {})


tls = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
plain = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as fh:
    fh.write("%d %d\n" % (tls.server_address[1], plain.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
threading.Thread(target=plain.serve_forever, daemon=True).start()
tls.serve_forever()
