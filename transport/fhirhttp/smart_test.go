package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/ferry-health/ferry/queue"
)

// writeKey writes a PKCS#8 PEM private key (0600) and returns its path.
func writeKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "smart.key")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// authServer is a SMART Backend Services authorization server in front of
// the test exchange: discovery, a token endpoint that checks the client
// assertion with the registered public key as a server must (signature,
// alg, kid, typ, iss = sub = client_id, aud = the token URL, exp at most
// five minutes ahead, jti used once), and a FHIR base that wants a valid
// Bearer token.
type authServer struct {
	t         *testing.T
	ex        *exchange
	clientID  string
	jwk       jose.JSONWebKey // the registered public key
	expiresIn int

	mu      sync.Mutex
	tokens  map[string]bool
	jtis    map[string]bool
	issued  int
	refuse  string // a token endpoint error to answer, e.g. "invalid_client"
	revoked map[string]bool
	grant   string // the scope granted; empty: the scope asked for
	jku     string // the JWKS URL registered; empty: keys registered by value (no jku expected)
}

func newAuthServer(t *testing.T, ex *exchange, pub jose.JSONWebKey) *authServer {
	a := &authServer{t: t, ex: ex, clientID: "ferry-clinic-12", jwk: pub, expiresIn: 300,
		tokens: map[string]bool{}, jtis: map[string]bool{}, revoked: map[string]bool{}}
	base := ex.url()
	tokenURL := strings.TrimSuffix(base, "/fhir/R4") + "/auth/token"
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/fhir/R4/.well-known/smart-configuration":
			json.NewEncoder(w).Encode(map[string]any{"token_endpoint": tokenURL, "token_endpoint_auth_methods_supported": []string{"private_key_jwt"}})
		case r.URL.Path == "/auth/token":
			// The exchange recorded (read) the body before this handler.
			ex.mu.Lock()
			body := ex.bodies[len(ex.bodies)-1]
			ex.mu.Unlock()
			form, _ := url.ParseQuery(body)
			a.token(w, form, tokenURL)
		default:
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			a.mu.Lock()
			ok := a.tokens[tok] && !a.revoked[tok]
			a.mu.Unlock()
			if !ok {
				w.Header().Set("Content-Type", MediaType)
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login"}]}`)
				return
			}
			w.Header().Set("Content-Type", MediaType)
			io.WriteString(w, txResponse)
		}
	})
	return a
}

func (a *authServer) token(w http.ResponseWriter, form url.Values, tokenURL string) {
	fail := func(code int, e string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": e, "error_description": e})
	}
	if form.Get("grant_type") != "client_credentials" ||
		form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || form.Get("scope") != DefaultSMARTScope {
		fail(400, "invalid_request")
		return
	}
	a.mu.Lock()
	refuse := a.refuse
	a.mu.Unlock()
	if refuse != "" {
		fail(400, refuse)
		return
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.RS384, jose.ES384})
	if err != nil {
		fail(400, "invalid_client")
		return
	}
	h := tok.Headers[0]
	jku, _ := h.ExtraHeaders["jku"].(string)
	if h.KeyID != a.jwk.KeyID || h.ExtraHeaders["typ"] != "JWT" || h.Algorithm != a.jwk.Algorithm || jku != a.jku {
		a.t.Errorf("assertion header %+v", h)
		fail(400, "invalid_client")
		return
	}
	var c jwt.Claims
	if err := tok.Claims(a.jwk.Key, &c); err != nil {
		a.t.Errorf("assertion signature: %v", err)
		fail(400, "invalid_client")
		return
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: a.clientID, Subject: a.clientID, AnyAudience: jwt.Audience{tokenURL}, Time: time.Now()}, 0); err != nil ||
		c.Expiry == nil || time.Until(c.Expiry.Time()) > 5*time.Minute || c.ID == "" {
		a.t.Errorf("assertion claims %+v: %v", c, err)
		fail(400, "invalid_client")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.jtis[c.ID] {
		a.t.Errorf("jti %s used twice", c.ID)
		fail(400, "invalid_client")
		return
	}
	a.jtis[c.ID] = true
	a.issued++
	access := fmt.Sprintf("tok-%d", a.issued)
	a.tokens[access] = true
	scope := form.Get("scope")
	if a.grant != "" {
		scope = a.grant
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "bearer", "expires_in": a.expiresIn, "scope": scope})
}

// newSMARTFixture makes an EC P-384 key file, a test exchange and its
// authorization server registering that key.
func newSMARTFixture(t *testing.T) (keyFile string, ex *exchange, a *authServer) {
	t.Helper()
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	keyFile = writeKey(t, ec)
	k, err := LoadSMARTKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ex = newExchange(t, false)
	return keyFile, ex, newAuthServer(t, ex, k.PublicJWK(""))
}

func (a *authServer) stats() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.issued
}

// TestSMARTBackendServices: with exchange.auth.smart the sink discovers
// the token endpoint, gets a token with a signed client assertion (ES384
// and RS384 keys), reuses it, replaces it before it expires or when the
// exchange answers 401, and treats a refused assertion as an endpoint
// problem, never a dead letter.
func TestSMARTBackendServices(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name string
		key  any
		alg  jose.SignatureAlgorithm
	}{{"ES384", ec, jose.ES384}, {"RS384", rk, jose.RS384}} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeKey(t, tc.key)
			k, err := LoadSMARTKey(path)
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != tc.alg {
				t.Fatalf("alg %s, want %s", k.Alg, tc.alg)
			}
			ex := newExchange(t, false)
			a := newAuthServer(t, ex, k.PublicJWK(""))
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: a.clientID, KeyFile: path}})
			for i := range 3 {
				if err := s.Send(context.Background(), item(fmt.Sprint("01SMART", i))); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if n := a.stats(); n != 1 {
				t.Errorf("%d tokens for 3 sends, want 1 reused", n)
			}
			// The exchange revokes the token: one new token, same send.
			a.mu.Lock()
			a.revoked["tok-1"] = true
			a.mu.Unlock()
			if err := s.Send(context.Background(), item("01SMARTR")); err != nil {
				t.Fatalf("send after revocation: %v", err)
			}
			if n := a.stats(); n != 2 {
				t.Errorf("%d tokens after a revocation, want 2", n)
			}
			// The registration is withdrawn: the next token request is
			// refused; the bundle stays queued (an endpoint problem).
			a.mu.Lock()
			a.refuse = "invalid_client"
			a.revoked["tok-2"] = true
			a.mu.Unlock()
			err = s.Send(context.Background(), item("01SMARTX"))
			var ee *EndpointError
			if err == nil || queue.IsPermanent(err) || !errors.As(err, &ee) || !strings.Contains(err.Error(), "invalid_client") {
				t.Fatalf("refused assertion: %v, want a retryable endpoint problem", err)
			}
		})
	}
}

// TestSMARTTokenExpiry: a token is replaced tokenSkew before it expires.
func TestSMARTTokenExpiry(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	path := writeKey(t, ec)
	k, _ := LoadSMARTKey(path)
	ex := newExchange(t, false)
	a := newAuthServer(t, ex, k.PublicJWK(""))
	a.expiresIn = int(tokenSkew/time.Second) + 1 // usable for one second
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: a.clientID, KeyFile: path}})
	if err := s.Send(context.Background(), item("01E1")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := s.Send(context.Background(), item("01E2")); err != nil {
		t.Fatal(err)
	}
	if n := a.stats(); n != 2 {
		t.Errorf("%d tokens, want a new one after expiry", n)
	}
}

func TestLoadSMARTKeyRefuses(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, key := range map[string]any{"P-256": p256, "RSA 1024": small} {
		if _, err := LoadSMARTKey(writeKey(t, key)); err == nil {
			t.Errorf("%s key accepted", name)
		}
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	path := writeKey(t, ec)
	os.Chmod(path, 0o644)
	// On Windows the file's ACL, not mode bits, says who may read it.
	if _, err := LoadSMARTKey(path); err == nil && runtime.GOOS != "windows" {
		t.Error("a world-readable key accepted")
	}
}

// TestSMARTDiscoveryChecks: a smart-configuration that rules ferry out
// (a token endpoint in clear, no private_key_jwt, no accepted signing
// algorithm) is an endpoint problem that names the field, not a token
// request refused for no stated reason; lists the server leaves out say
// nothing.
func TestSMARTDiscoveryChecks(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	keyFile := writeKey(t, ec)
	var doc string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, doc)
	}))
	defer srv.Close()
	for _, tc := range []struct{ doc, want string }{
		{`{"token_endpoint":"https://auth.example.org/token"}`, ""},
		{`{"token_endpoint":"https://auth.example.org/token","token_endpoint_auth_methods_supported":["private_key_jwt"],"token_endpoint_auth_signing_alg_values_supported":["RS384","ES384"]}`, ""},
		{`{"token_endpoint":"http://auth.example.org/token"}`, "not an https URL"},
		{`{"token_endpoint":"https://auth.example.org/token","token_endpoint_auth_methods_supported":["client_secret_basic"]}`, "without private_key_jwt"},
		{`{"token_endpoint":"https://auth.example.org/token","token_endpoint_auth_signing_alg_values_supported":["RS384"]}`, "not ES384"},
	} {
		doc = tc.doc
		ts, err := newSMARTTokens(SMARTConfig{ClientID: "c", KeyFile: keyFile}, srv.URL, srv.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := ts.discover(context.Background())
		var ee *EndpointError
		switch {
		case tc.want == "" && (err != nil || u != "https://auth.example.org/token"):
			t.Errorf("%s: %q, %v", tc.doc, u, err)
		case tc.want != "" && (!errors.As(err, &ee) || !strings.Contains(ee.Problem, tc.want)):
			t.Errorf("%s: %v, want an EndpointError saying %q", tc.doc, err, tc.want)
		}
	}
}

// TestScopeAllowsWrites: a token whose granted SMART scopes are all
// read-only would have every bundle refused; other scope strings are not
// judged.
func TestScopeAllowsWrites(t *testing.T) {
	for scope, want := range map[string]bool{
		"":               true,
		"system/*.cruds": true,
		"system/Patient.rs system/Observation.cu": true,
		"system/*.write":                 true,
		"system/*.*":                     true,
		"system/*.rs":                    false,
		"system/*.read system/Patient.s": false,
		"system/Observation.rs?category=laboratory": false,
		"openid udap": true,
		"system/Observation.cruds?category=vital-signs": true,
	} {
		if got := scopeAllowsWrites(scope); got != want {
			t.Errorf("%q: %v, want %v", scope, got, want)
		}
	}
}

// TestSMARTJWKSURL: with jwks_url set, every client assertion carries it
// as jku, which a server that registered the client by its JWKS URL
// matches; jwks_url must be https.
func TestSMARTJWKSURL(t *testing.T) {
	path, ex, a := newSMARTFixture(t)
	a.jku = "https://clinic.example.org/.well-known/ferry-jwks.json"
	cfg := SMARTConfig{ClientID: a.clientID, KeyFile: path, JWKSURL: a.jku}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: cfg})
	if err := s.Send(context.Background(), item("01SMARTJKU")); err != nil {
		t.Fatal(err)
	}
	if a.stats() != 1 {
		t.Errorf("%d tokens", a.stats())
	}
	bad := SMARTConfig{ClientID: "c", KeyFile: path, JWKSURL: "http://clinic.example.org/jwks.json"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "jwks_url") {
		t.Errorf("http jwks_url: %v", err)
	}
}
