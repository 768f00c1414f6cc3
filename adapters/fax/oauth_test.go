package fax

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

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
	// saKey, when set, is the public key of a Google-style service
	// account whose signed JWTs (the jwt_bearer grant) it takes too.
	saKey *rsa.PublicKey
	// claims are those of the last JWT it took.
	claims map[string]any
	// clientCert, when set, is the certificate whose key may sign client
	// assertions (client_credentials with a certificate).
	clientCert *x509.Certificate
	// expiresIn, when set, is the expires_in it answers (else 3599).
	expiresIn any
}

func (ti *tokenIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.asked++
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if r.Form.Get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer" && ti.saKey != nil {
		tok, err := jwt.ParseSigned(r.Form.Get("assertion"), []jose.SignatureAlgorithm{jose.RS256})
		var claims map[string]any
		if err == nil {
			err = tok.Claims(ti.saKey, &claims)
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":%q}`, err.Error())
			return
		}
		ti.claims = claims
		ti.issue(w)
		return
	}
	if r.Form.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" && ti.clientCert != nil {
		tok, err := jwt.ParseSigned(r.Form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.RS256})
		var claims map[string]any
		if err == nil {
			err = tok.Claims(ti.clientCert.PublicKey, &claims)
		}
		thumb := sha1.Sum(ti.clientCert.Raw)
		if err == nil && (len(tok.Headers) != 1 || tok.Headers[0].ExtraHeaders["x5t"] != base64.RawURLEncoding.EncodeToString(thumb[:])) {
			err = fmt.Errorf("x5t is not the certificate's thumbprint")
		}
		if err != nil || claims["iss"] != "ferry" || claims["sub"] != "ferry" || r.Form.Get("client_id") != "ferry" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"AADSTS700027: assertion: %v %v"}`, err, claims)
			return
		}
		ti.claims = claims
		ti.issue(w)
		return
	}
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
	ti.issue(w)
}

// issue answers with a new bearer token (ti.mu held).
func (ti *tokenIssuer) issue(w http.ResponseWriter) {
	tok := fmt.Sprintf("tok-%d", ti.asked)
	ti.issued[tok] = true
	var exp any = 3599
	if ti.expiresIn != nil {
		exp = ti.expiresIn
	}
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": exp})
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

// oauthSite is go-imap's in-memory server over TLS taking XOAUTH2 tokens
// from issuer, and issuer as a token endpoint over TLS, both with a test
// CA, as an Entra ID tenant and Exchange Online are to a mailbox.
type oauthSite struct {
	imapAddr, tokenURL string
	pool               *x509.CertPool
}

func startOAuthSite(t *testing.T, issuer *tokenIssuer) oauthSite {
	t.Helper()
	paths, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(paths.ServerCert, paths.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(paths.CA)
	pool.AppendCertsFromPEM(ca)
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
	return oauthSite{imapAddr: ln.Addr().String(), tokenURL: tokSrv.URL, pool: pool}
}

// mailbox is a fax mailbox of user fax on the site's server, logging in
// with o (its token requests trusting the site's CA), handing its faxes
// to nothing.
func (site oauthSite) mailbox(t *testing.T, name string, o *OAuth2Config) *Mailbox {
	t.Helper()
	cfg := MailboxConfig{Name: name, Address: site.imapAddr, Username: "fax", OAuth2: o,
		HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: site.pool}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	mb, err := NewMailbox(adapters.Settings{}, cfg, &tls.Config{RootCAs: site.pool}, adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil }), nil)
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

// invalidOAuth2 checks that a mailbox logging in with each OAuth2Config
// is refused with the message given beside it.
func invalidOAuth2(t *testing.T, cases map[string]OAuth2Config) {
	t.Helper()
	for want, o := range cases {
		mc := MailboxConfig{Name: "x", Address: "h:993", Username: "u", OAuth2: &o}
		if err := mc.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: missing %q in %v", o, want, err)
		}
	}
}

// TestMailboxOAuth2: a mailbox that logs in with XOAUTH2 gets its token
// from the token endpoint (client credentials, the configured scope),
// keeps it while it is good, asks for a new one when the server refuses
// it, and reports a refused client secret by the endpoint's own words.
func TestMailboxOAuth2(t *testing.T) {
	dir := t.TempDir()
	issuer := &tokenIssuer{issued: map[string]bool{}}
	site := startOAuthSite(t, issuer)

	secret := filepath.Join(dir, "client.secret")
	os.WriteFile(secret, []byte("app-secret\n"), 0o600)
	mb := site.mailbox(t, "m365", &OAuth2Config{TokenURL: site.tokenURL + "/tenant/oauth2/v2.0/token", ClientID: "ferry", ClientSecretFile: secret, Scopes: []string{"https://outlook.office365.com/.default"}})
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
	err := mb.Poll(t.Context())
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

// TestMailboxTokenExpiresInString: an expires_in written as a string
// ("300"), as Microsoft's v1.0 token endpoint and others write it, is
// the token's life, not taken for an hour: a token kept past its end
// fails a poll's login each time it is used.
func TestMailboxTokenExpiresInString(t *testing.T) {
	dir := t.TempDir()
	issuer := &tokenIssuer{issued: map[string]bool{}}
	site := startOAuthSite(t, issuer)
	secret := filepath.Join(dir, "client.secret")
	os.WriteFile(secret, []byte("app-secret\n"), 0o600)
	mb := site.mailbox(t, "m365", &OAuth2Config{TokenURL: site.tokenURL + "/tenant/oauth2/token", ClientID: "ferry", ClientSecretFile: secret, Scopes: []string{"https://outlook.office365.com/.default"}})
	for _, tc := range []struct {
		expiresIn any
		want      time.Duration
	}{{"300", 300 * time.Second}, {"3599", 3599 * time.Second}, {300.0, 300 * time.Second}, {"", time.Hour}} {
		issuer.mu.Lock()
		issuer.expiresIn = tc.expiresIn
		issuer.mu.Unlock()
		mb.tokMu.Lock()
		mb.tok = ""
		mb.tokMu.Unlock()
		before := time.Now()
		if _, err := mb.token(t.Context()); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		mb.tokMu.Lock()
		exp := mb.tokExp
		mb.tokMu.Unlock()
		if exp.Before(before.Add(tc.want)) || exp.After(after.Add(tc.want)) {
			t.Errorf("expires_in %#v: token kept for %s, want %s", tc.expiresIn, exp.Sub(before).Round(time.Second), tc.want)
		}
	}
}

// TestMailboxJWTBearer: a Google Workspace service account (domain-wide
// delegation) signs a JWT for the mailbox's user (RFC 7523 §2.1); the
// token endpoint verifies it with the account's public key, and the token
// it gives logs in with XOAUTH2. token_url defaults to the key's
// token_uri.
func TestMailboxJWTBearer(t *testing.T) {
	dir := t.TempDir()
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	issuer := &tokenIssuer{issued: map[string]bool{}, saKey: &saKey.PublicKey}
	site := startOAuthSite(t, issuer)
	der, _ := x509.MarshalPKCS8PrivateKey(saKey)
	keyJSON, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "ferry-fax@clinic-project.iam.gserviceaccount.com",
		"private_key_id": "k1", "private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri": site.tokenURL + "/token",
	})
	keyFile := filepath.Join(dir, "sa.json")
	os.WriteFile(keyFile, keyJSON, 0o600)

	mb := site.mailbox(t, "gmail", &OAuth2Config{Grant: GrantJWTBearer, ServiceAccountFile: keyFile, Scopes: []string{"https://mail.google.com/"}})
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := issuer.claims
	if c["iss"] != "ferry-fax@clinic-project.iam.gserviceaccount.com" || c["sub"] != "fax" || c["scope"] != "https://mail.google.com/" || c["aud"] != site.tokenURL+"/token" {
		t.Errorf("claims %v", c)
	}
	// A key from another account: the endpoint's refusal is told, not the key.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ = x509.MarshalPKCS8PrivateKey(other)
	bad := strings.Replace(string(keyJSON), "k1", "k2", 1)
	var m map[string]string
	json.Unmarshal([]byte(bad), &m)
	m["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	keyJSON, _ = json.Marshal(m)
	os.WriteFile(keyFile, keyJSON, 0o600)
	issuer.revoke()
	mb.Poll(t.Context()) // the held token is refused and dropped
	if err := mb.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "400 Bad Request invalid_grant") || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("a key the endpoint does not know: %v", err)
	}
	os.WriteFile(keyFile, []byte(`{"private_key": "-----BEGIN PRIVATE KEY-----\nsecret`), 0o600)
	if err := mb.Poll(t.Context()); err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("a broken key file: %v", err)
	}
	// A token_uri that is not https would get the signed assertion in
	// clear: refused before anything is sent.
	m["token_uri"] = strings.Replace(site.tokenURL, "https://", "http://", 1) + "/token"
	keyJSON, _ = json.Marshal(m)
	os.WriteFile(keyFile, keyJSON, 0o600)
	if err := mb.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "token_uri: want an https:// URL") {
		t.Errorf("a token_uri over http: %v", err)
	}
	invalidOAuth2(t, map[string]OAuth2Config{
		"oauth2.service_account_file: required":                  {Grant: GrantJWTBearer},
		"leave client_id, client_secret_file":                    {Grant: GrantJWTBearer, ServiceAccountFile: "k", ClientID: "x"},
		"client_cert_file and client_key_file out":               {Grant: GrantJWTBearer, ServiceAccountFile: "k", ClientKeyFile: "x"},
		"oauth2.grant: want client_credentials or jwt_bearer":    {Grant: "password"},
		"oauth2.client_cert_file: required with client_key_file": {TokenURL: "https://login.example/token", ClientID: "x", ClientSecretFile: "s", ClientKeyFile: "k"},
		"oauth2.service_account_file: only for grant jwt_bearer": {TokenURL: "https://login.example/token", ClientID: "x", ClientSecretFile: "s", ServiceAccountFile: "k"},
	})
}

// TestMailboxClientCertificate: client_credentials authenticated with a
// certificate instead of a secret (RFC 7523 §2.2, as Entra ID takes it):
// the assertion verifies with the certificate's key, its x5t is the
// certificate's thumbprint, iss and sub the client id, aud the endpoint.
func TestMailboxClientCertificate(t *testing.T) {
	dir := t.TempDir()
	// The app's certificate: self-signed RSA, as uploaded to Entra ID.
	appKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ferry fax mailbox"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &appKey.PublicKey, appKey)
	if err != nil {
		t.Fatal(err)
	}
	appCert, _ := x509.ParseCertificate(der)
	certFile, keyFile := filepath.Join(dir, "app.pem"), filepath.Join(dir, "app.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kder, _ := x509.MarshalPKCS8PrivateKey(appKey)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)

	issuer := &tokenIssuer{issued: map[string]bool{}, clientCert: appCert}
	site := startOAuthSite(t, issuer)
	mb := site.mailbox(t, "m365", &OAuth2Config{TokenURL: site.tokenURL + "/tenant/oauth2/v2.0/token", ClientID: "ferry", ClientCertFile: certFile, ClientKeyFile: keyFile, Scopes: []string{"https://outlook.office365.com/.default"}})
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if issuer.claims["aud"] != site.tokenURL+"/tenant/oauth2/v2.0/token" || issuer.claims["jti"] == nil {
		t.Errorf("claims %v", issuer.claims)
	}
	invalidOAuth2(t, map[string]OAuth2Config{
		"give client_secret_file or client_cert_file, not both":  {TokenURL: "https://h/t", ClientID: "c", ClientSecretFile: "s", ClientCertFile: "c.pem", ClientKeyFile: "k"},
		"oauth2.client_key_file: required with client_cert_file": {TokenURL: "https://h/t", ClientID: "c", ClientCertFile: "c.pem"},
	})
}

// TestMailboxTokenURLCredentials: a token_url with a user and password
// (https://app:secret@login.example/token, which Go's HTTP client would
// send as Basic credentials) is refused as exchange.auth.smart.token_url
// is: the URL is no secret type, and ferry names it in every token
// error, which is logged at each failed poll and shown on the status
// page. Neither refusal repeats the password.
func TestMailboxTokenURLCredentials(t *testing.T) {
	for _, raw := range []string{
		"https://ferry-app:Sup3rS3cret@login.example/tenant/oauth2/v2.0/token",
		"http://ferry-app:Sup3rS3cret@login.example/tenant/oauth2/v2.0/token",
		"https://ferry-app:Sup3rS3cret@login example/token", // not a URL
	} {
		mc := MailboxConfig{Name: "x", Address: "h:993", Username: "u",
			OAuth2: &OAuth2Config{TokenURL: raw, ClientID: "c", ClientSecretFile: "s"}}
		err := mc.Validate()
		if err == nil || !strings.Contains(err.Error(), "oauth2.token_url") {
			t.Errorf("%s: %v, want oauth2.token_url refused", raw, err)
			continue
		}
		if strings.Contains(err.Error(), "Sup3rS3cret") {
			t.Errorf("%s: the refusal repeats the password: %v", raw, err)
		}
	}
}
