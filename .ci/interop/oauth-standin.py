#!/usr/bin/env python3
"""oauth-standin.py: an OAuth 2.0 token endpoint for the mailbox suite, as Microsoft Entra ID is for
Microsoft 365's IMAP: the client credentials grant over HTTPS (the suite's test CA) issues bearer tokens
to one client, and an introspection endpoint (RFC 7662, plain HTTP on loopback) lets Dovecot's oauth2
passdb check them. With SA_PUBKEY it also takes the JWT bearer grant (RFC 7523, as Google's token
endpoint does for a service account): the RS256 signature is verified by OpenSSL with that public key,
and iss, sub, aud, scope and exp are checked. Usage: oauth-standin.py CERT KEY CLIENT_ID SECRET_FILE
SCOPE USER PORTFILE [SA_PUBKEY SA_EMAIL SA_SCOPE]"""
import base64, json, os, secrets, ssl, subprocess, sys, tempfile, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

cert, key, client_id, secret_file, scope, user, portfile = sys.argv[1:8]
sa_pub, sa_email, sa_scope = (sys.argv[8:11] + [None, None, None])[:3]


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_jwt(assertion, aud):
    """Returns the claims of an RS256 JWT signed with SA_PUBKEY's key, or raises."""
    head, body, sig = assertion.split(".")
    if json.loads(b64url(head)).get("alg") != "RS256":
        raise ValueError("alg is not RS256")
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "in"), "w").write(head + "." + body)
        open(os.path.join(d, "sig"), "wb").write(b64url(sig))
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", sa_pub, "-signature", os.path.join(d, "sig"), os.path.join(d, "in")],
                           capture_output=True)
        if r.returncode != 0:
            raise ValueError("signature does not verify")
    c = json.loads(b64url(body))
    want_aud = c.get("aud") if isinstance(c.get("aud"), str) else (c.get("aud") or [None])[0]
    if c.get("iss") != sa_email or c.get("sub") != user or want_aud != aud or c.get("scope") != sa_scope or c.get("exp", 0) < time.time():
        raise ValueError("claims: %r" % {k: c.get(k) for k in ("iss", "sub", "aud", "scope", "exp")})
    return c
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
        if self.path.endswith("/token") and f.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer" and sa_pub:
            asked["n"] += 1
            try:
                verify_jwt(f.get("assertion", ""), "https://%s:%d%s" % ("127.0.0.1", self.server.server_address[1], self.path))
            except Exception as e:
                return self.answer(400, {"error": "invalid_grant", "error_description": str(e)})
            tok = secrets.token_urlsafe(24)
            issued.add(tok)
            return self.answer(200, {"access_token": tok, "token_type": "Bearer", "expires_in": 3599})
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
