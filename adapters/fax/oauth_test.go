package fax

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/config/pki"
)

// tokenIssuer is an OAuth 2.0 token endpoint for the client credentials
// grant: it issues a token to client "ferry" with secret "app-secret" and
// the IMAP scope, and remembers the tokens it issued.
type tokenIssuer struct {
	mu     sync.Mutex
	issued map[string]bool
	asked  int
}

func (ti *tokenIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.asked++
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_id") != "ferry" || r.Form.Get("client_secret") != "app-secret" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
		return
	}
	if r.Form.Get("scope") != "https://outlook.office365.com/.default" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_scope"}`)
		return
	}
	tok := fmt.Sprintf("tok-%d", ti.asked)
	ti.issued[tok] = true
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3599})
}

func (ti *tokenIssuer) revoke() {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	clear(ti.issued)
}

func (ti *tokenIssuer) valid(tok string) bool {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.issued[tok]
}

// xoauthSession is go-imap's in-memory session that also takes SASL
// XOAUTH2, checking the bearer token with the issuer, as Microsoft 365
// does with its own.
type xoauthSession struct {
	imapserver.Session
	issuer *tokenIssuer
}

func (s *xoauthSession) AuthenticateMechanisms() []string { return []string{"XOAUTH2"} }

func (s *xoauthSession) Authenticate(mech string) (sasl.Server, error) {
	if mech != "XOAUTH2" {
		return nil, fmt.Errorf("mechanism %s not supported", mech)
	}
	return serverFunc(func(resp []byte) ([]byte, bool, error) {
		if resp == nil {
			return []byte{}, false, nil // no initial response: ask for it
		}
		parts := strings.Split(string(resp), "\x01")
		if len(parts) < 2 || parts[0] != "user=fax" || !strings.HasPrefix(parts[1], "auth=Bearer ") || !s.issuer.valid(strings.TrimPrefix(parts[1], "auth=Bearer ")) {
			return nil, false, imapserver.ErrAuthFailed
		}
		return nil, true, s.Session.Login("fax", "s3cret")
	}), nil
}

type serverFunc func([]byte) ([]byte, bool, error)

func (f serverFunc) Next(resp []byte) ([]byte, bool, error) { return f(resp) }

// TestMailboxOAuth2: a mailbox that logs in with XOAUTH2 gets its token
// from the token endpoint (client credentials, the configured scope),
// keeps it while it is good, asks for a new one when the server refuses
// it, and reports a refused client secret by the endpoint's own words.
func TestMailboxOAuth2(t *testing.T) {
	dir := t.TempDir()
	paths, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := tls.LoadX509KeyPair(paths.ServerCert, paths.ServerKey)
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(paths.CA)
	pool.AppendCertsFromPEM(ca)
	issuer := &tokenIssuer{issued: map[string]bool{}}
	tokSrv := httptest.NewUnstartedServer(issuer)
	tokSrv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tokSrv.StartTLS()
	t.Cleanup(tokSrv.Close)

	mem := imapmemserver.New()
	u := imapmemserver.NewUser("fax", "s3cret")
	u.Create("INBOX", nil)
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &xoauthSession{Session: mem.NewSession(), issuer: issuer}, nil, nil
		},
		// IMAP4rev1 and SASL-IR (the token in the AUTHENTICATE line):
		// the session wrapper offers none of IMAP4rev2's commands.
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapSASLIR: {}, "AUTH=XOAUTH2": {}},
		Logger: log.New(io.Discard, "", 0),
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	secret := filepath.Join(dir, "client.secret")
	os.WriteFile(secret, []byte("app-secret\n"), 0o600)
	cfg := MailboxConfig{Name: "m365", Address: ln.Addr().String(), Username: "fax",
		OAuth2: &OAuth2Config{TokenURL: tokSrv.URL + "/tenant/oauth2/v2.0/token", ClientID: "ferry", ClientSecretFile: secret, Scopes: []string{"https://outlook.office365.com/.default"}},
		HTTP:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	mb, err := NewMailbox(adapters.Settings{}, cfg, &tls.Config{RootCAs: pool}, adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil }), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := mb.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if issuer.asked != 1 {
		t.Errorf("token endpoint asked %d times for 3 polls, want 1 (the token is kept)", issuer.asked)
	}
	issuer.revoke() // the server no longer takes it
	if err := mb.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "XOAUTH2") {
		t.Errorf("revoked token: %v", err)
	}
	if err := mb.Poll(t.Context()); err != nil {
		t.Errorf("after a refusal the next poll asks for a new token: %v", err)
	}
	if issuer.asked != 2 {
		t.Errorf("token endpoint asked %d times, want 2", issuer.asked)
	}
	os.WriteFile(secret, []byte("wrong\n"), 0o600)
	issuer.revoke()
	if err := mb.Poll(t.Context()); err == nil {
		t.Error("a refused token with a wrong secret: no error")
	}
	err = mb.Poll(t.Context())
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized invalid_client AADSTS7000215") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong client secret: %v", err)
	}
	bad := MailboxConfig{Name: "x", Address: "h:993", Username: "u", PasswordFile: "p", OAuth2: &OAuth2Config{TokenURL: "http://h/t"}}
	for _, want := range []string{"give password_file or oauth2, not both"} {
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	bad.PasswordFile = ""
	for _, want := range []string{"oauth2.token_url: want an https:// URL", "oauth2.client_id: required", "oauth2.client_secret_file: required"} {
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
