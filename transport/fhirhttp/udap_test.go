package fhirhttp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/ocsp"

	"github.com/ferry-health/ferry/queue"
)

// testCA is a certificate authority minted for a test: a trust
// community's root, or an intermediate (sub).
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	// crl, once serveCRL started it, publishes the CA's CRL; the
	// certificates the CA issues from then on name it.
	crl *crlServer
	// ocsp, once serveOCSP started it, answers OCSP requests for the
	// CA's certificates; the certificates it issues from then on name it.
	ocsp *ocspServer
}

var serial int64 = 1

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// issue signs an end-entity certificate for key naming uri (none when
// empty) as its URI subject alternative name; edit, if given, changes the
// template first.
func (ca *testCA) issue(t *testing.T, cn, uri string, key crypto.Signer, edit ...func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if uri != "" {
		u, _ := url.Parse(uri)
		tmpl.URIs = []*url.URL{u}
	}
	if ca.crl != nil {
		tmpl.CRLDistributionPoints = []string{ca.crl.URL + "/ca.crl"}
	}
	if ca.ocsp != nil {
		tmpl.OCSPServer = []string{ca.ocsp.URL + "/ocsp"}
	}
	for _, e := range edit {
		e(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// sub issues an intermediate CA under ca.
func (ca *testCA) sub(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := ca.issue(t, name, "", key, func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid = true, true
		c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	})
	return &testCA{cert: cert, key: key}
}

// crlServer serves a CA's CRL over plain http, as community CAs do.
type crlServer struct {
	*httptest.Server
	mu      sync.Mutex
	der     []byte
	fetches int
}

// serveCRL starts ca's CRL server with an empty, current CRL; the
// certificates ca issues from now on name it.
func (ca *testCA) serveCRL(t *testing.T) *crlServer {
	t.Helper()
	cs := &crlServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		cs.fetches++
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(cs.der)
	}))
	t.Cleanup(cs.Close)
	ca.crl = cs
	ca.publish(t, crlOptions{})
	return cs
}

// crlOptions shape a published CRL: the certificates it lists, a
// nextUpdate other than an hour ahead, another signer than the CA.
type crlOptions struct {
	revoked    []*x509.Certificate
	nextUpdate time.Time
	signer     *testCA
}

// publish replaces the CRL ca's server serves.
func (ca *testCA) publish(t *testing.T, o crlOptions) {
	t.Helper()
	now := time.Now()
	tmpl := &x509.RevocationList{Number: big.NewInt(now.UnixNano()), ThisUpdate: now.Add(-2 * time.Hour), NextUpdate: now.Add(time.Hour)}
	if !o.nextUpdate.IsZero() {
		tmpl.NextUpdate = o.nextUpdate
	}
	for _, c := range o.revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now.Add(-time.Hour), ReasonCode: 1})
	}
	signer := ca
	if o.signer != nil {
		signer = o.signer
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, signer.cert, signer.key)
	if err != nil {
		t.Fatal(err)
	}
	ca.crl.mu.Lock()
	ca.crl.der = der
	ca.crl.mu.Unlock()
}

func (cs *crlServer) count() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.fetches
}

// ocspServer is a CA's OCSP responder: it answers good for every
// certificate but those revoked lists, signing with the CA's key unless
// told otherwise.
type ocspServer struct {
	*httptest.Server
	mu       sync.Mutex
	revoked  map[string]bool // by serial, in hex
	unknown  bool            // answer unknown for every certificate
	signer   *testCA         // signs with another key than the CA's
	delegate *testCA         // a delegated responder: its certificate and key
	requests int
}

// serveOCSP starts ca's OCSP responder; the certificates ca issues from
// now on name it.
func (ca *testCA) serveOCSP(t *testing.T) *ocspServer {
	t.Helper()
	rs := &ocspServer{revoked: map[string]bool{}}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		rs.requests++
		b, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(b)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/ocsp-request" || err != nil {
			w.Write(ocsp.MalformedRequestErrorResponse)
			return
		}
		now := time.Now()
		tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber, IssuerHash: req.HashAlgorithm,
			ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour)}
		switch {
		case rs.unknown:
			tmpl.Status = ocsp.Unknown
		case rs.revoked[req.SerialNumber.Text(16)]:
			tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, now.Add(-time.Hour), ocsp.KeyCompromise
		}
		responder, key := ca.cert, ca.key
		switch {
		case rs.signer != nil:
			responder, key = rs.signer.cert, rs.signer.key
		case rs.delegate != nil:
			responder, key = rs.delegate.cert, rs.delegate.key
			tmpl.Certificate = rs.delegate.cert
		}
		der, err := ocsp.CreateResponse(ca.cert, responder, tmpl, key)
		if err != nil {
			w.Write(ocsp.InternalErrorErrorResponse)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(der)
	}))
	t.Cleanup(rs.Close)
	ca.ocsp = rs
	return rs
}

// delegateOCSP has ca issue a responder certificate (for OCSP signing
// unless edit says otherwise) and its responder sign with it.
func (ca *testCA) delegateOCSP(t *testing.T, edit ...func(*x509.Certificate)) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := ca.issue(t, "community OCSP responder", "", key, append([]func(*x509.Certificate){func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		c.OCSPServer, c.CRLDistributionPoints = nil, nil
	}}, edit...)...)
	ca.ocsp.mu.Lock()
	ca.ocsp.delegate = &testCA{cert: cert, key: key}
	ca.ocsp.mu.Unlock()
}

func (rs *ocspServer) revoke(c *x509.Certificate) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.revoked[c.SerialNumber.Text(16)] = true
}

func (rs *ocspServer) count() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.requests
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func writeCerts(t *testing.T, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func x5cOf(certs ...*x509.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, (&UDAPClient{Chain: []*x509.Certificate{c}}).x5c()...)
	}
	return out
}

const clientURIValue = "https://clinic-12.example.org/ferry"

// udapServer is a UDAP authorization server in front of the test
// exchange, checking what ferry sends as a server must: the software
// statement (signature by the x5c leaf, chain to the community CA, iss =
// the leaf's URI, aud, exp at most five minutes after iat, grant types)
// and the authentication token (the same, plus iss = sub = the client id
// registered for that URI, aud = the token URL, hl7-b2b, single-use jti),
// and a FHIR base that wants a valid Bearer token.
type udapServer struct {
	t        *testing.T
	ex       *exchange
	ca       *testCA // the community: issues ferry's and the server's certificates
	base     string
	tokenURL string
	regURL   string

	// What the metadata says; tests change them.
	metaKey    crypto.Signer
	metaChain  []*x509.Certificate
	metaIss    string
	metaExp    time.Duration
	clock      time.Duration // how far the server's clock is from the test's
	plainToken string        // the unsigned token_endpoint

	mu        sync.Mutex
	clients   map[string]string // client id → URI
	registers int
	issued    int
	tokens    map[string]bool
	revoked   map[string]bool
	jtis      map[string]bool
	lastB2B   map[string]any
	grant     string // the scope a token response names; empty: none
}

func newUDAPServer(t *testing.T, ex *exchange, ca *testCA) *udapServer {
	base := ex.url()
	root := strings.TrimSuffix(base, "/fhir/R4")
	metaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	s := &udapServer{t: t, ex: ex, ca: ca, base: base, tokenURL: root + "/auth/token", regURL: root + "/auth/register",
		metaKey: metaKey, metaIss: base, metaExp: time.Hour,
		clients: map[string]string{}, tokens: map[string]bool{}, revoked: map[string]bool{}, jtis: map[string]bool{}}
	s.metaChain = []*x509.Certificate{ca.issue(t, "hie metadata", base, metaKey)}
	s.plainToken = s.tokenURL
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		ex.mu.Lock()
		body := ex.bodies[len(ex.bodies)-1]
		ex.mu.Unlock()
		switch r.URL.Path {
		case "/fhir/R4/.well-known/udap":
			s.metadata(w)
		case "/auth/register":
			s.register(w, body)
		case "/auth/token":
			form, _ := url.ParseQuery(body)
			s.token(w, form)
		default:
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			s.mu.Lock()
			ok := s.tokens[tok] && !s.revoked[tok]
			s.mu.Unlock()
			w.Header().Set("Content-Type", MediaType)
			if !ok {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login"}]}`)
				return
			}
			io.WriteString(w, txResponse)
		}
	})
	return s
}

func (s *udapServer) metadata(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	alg := jose.RS256
	if _, ok := s.metaKey.(*ecdsa.PrivateKey); ok {
		alg = jose.ES256
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: s.metaKey}, (&jose.SignerOptions{}).WithHeader("x5c", x5cOf(s.metaChain...)))
	if err != nil {
		s.t.Fatal(err)
	}
	now := time.Now().Add(s.clock)
	signed, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": s.metaIss, "sub": s.metaIss, "iat": now.Unix(), "exp": now.Add(s.metaExp).Unix(), "jti": "meta-1",
		"token_endpoint": s.tokenURL, "registration_endpoint": s.regURL,
	}).Serialize()
	if err != nil {
		s.t.Fatal(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	json.NewEncoder(w).Encode(map[string]any{
		"udap_versions_supported":                                []string{"1"},
		"udap_profiles_supported":                                []string{"udap_dcr", "udap_authn", "udap_authz"},
		"udap_authorization_extensions_supported":                []string{"hl7-b2b"},
		"udap_authorization_extensions_required":                 []string{"hl7-b2b"},
		"udap_certifications_supported":                          []string{},
		"grant_types_supported":                                  []string{"client_credentials"},
		"token_endpoint":                                         s.plainToken,
		"token_endpoint_auth_methods_supported":                  []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported":       []string{"RS256", "ES256", "ES384"},
		"registration_endpoint":                                  s.regURL,
		"registration_endpoint_jwt_signing_alg_values_supported": []string{"RS256", "ES256", "ES384"},
		"signed_metadata":                                        signed,
	})
}

func oauthFail(w http.ResponseWriter, e string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"error": e, "error_description": e})
}

// verifyJWT checks a UDAP JWT as a server does: x5c chains to the
// community CA, the leaf signed it; it returns the leaf and the claims.
func (s *udapServer) verifyJWT(raw string, claims any) (*x509.Certificate, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.ES384})
	if err != nil {
		return nil, err
	}
	chains, err := tok.Headers[0].Certificates(x509.VerifyOptions{Roots: s.ca.pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("x5c: %w", err)
	}
	leaf := chains[0][0]
	if err := tok.Claims(leaf.PublicKey, claims); err != nil {
		return nil, err
	}
	return leaf, nil
}

func (s *udapServer) register(w http.ResponseWriter, body string) {
	var req struct {
		SoftwareStatement string `json:"software_statement"`
		UDAP              string `json:"udap"`
	}
	if err := json.Unmarshal([]byte(body), &req); err != nil || req.UDAP != "1" {
		s.t.Errorf("registration body %s", body)
		oauthFail(w, "invalid_request")
		return
	}
	var c struct {
		jwt.Claims
		ClientName  string   `json:"client_name"`
		Contacts    []string `json:"contacts"`
		GrantTypes  []string `json:"grant_types"`
		AuthMethod  string   `json:"token_endpoint_auth_method"`
		Scope       string   `json:"scope"`
		Redirects   []string `json:"redirect_uris"`
		ResponseTyp []string `json:"response_types"`
	}
	leaf, err := s.verifyJWT(req.SoftwareStatement, &c)
	if err != nil {
		s.t.Errorf("software statement: %v", err)
		oauthFail(w, "invalid_software_statement")
		return
	}
	if len(leaf.URIs) == 0 || c.Issuer != leaf.URIs[0].String() || c.Subject != c.Issuer ||
		c.IssuedAt == nil || c.Expiry == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) > 5*time.Minute || c.ID == "" ||
		c.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{s.regURL}, Time: time.Now()}, 0) != nil ||
		!slices.Equal(c.GrantTypes, []string{"client_credentials"}) || c.AuthMethod != "private_key_jwt" ||
		c.ClientName == "" || c.Scope != DefaultSMARTScope || len(c.Contacts) == 0 || c.Redirects != nil || c.ResponseTyp != nil {
		s.t.Errorf("software statement claims %+v", c)
		oauthFail(w, "invalid_software_statement")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registers++
	// Registering the same URI again changes that client's registration:
	// the same client id.
	id := ""
	for k, v := range s.clients {
		if v == c.Issuer {
			id = k
		}
	}
	code := http.StatusOK
	if id == "" {
		id, code = fmt.Sprintf("client-%d", len(s.clients)+1), http.StatusCreated
		s.clients[id] = c.Issuer
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"client_id": id, "software_statement": req.SoftwareStatement,
		"client_name": c.ClientName, "grant_types": c.GrantTypes, "token_endpoint_auth_method": "private_key_jwt", "scope": c.Scope})
}

func (s *udapServer) token(w http.ResponseWriter, form url.Values) {
	if form.Get("grant_type") != "client_credentials" || form.Get("udap") != "1" || form.Get("scope") != DefaultSMARTScope ||
		form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		s.t.Errorf("token request %v", form)
		oauthFail(w, "invalid_request")
		return
	}
	var c struct {
		jwt.Claims
		Extensions map[string]map[string]any `json:"extensions"`
	}
	leaf, err := s.verifyJWT(form.Get("client_assertion"), &c)
	if err != nil {
		s.t.Errorf("authentication token: %v", err)
		oauthFail(w, "invalid_client")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	uri, known := s.clients[c.Issuer]
	if !known || len(leaf.URIs) == 0 || leaf.URIs[0].String() != uri || c.Subject != c.Issuer ||
		c.IssuedAt == nil || c.Expiry == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) > 5*time.Minute || c.ID == "" || s.jtis[c.ID] ||
		c.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{s.tokenURL}, Time: time.Now()}, 0) != nil {
		s.t.Errorf("authentication token claims %+v (client %s known %v)", c, uri, known)
		oauthFail(w, "invalid_client")
		return
	}
	b2b := c.Extensions["hl7-b2b"]
	pou, _ := b2b["purpose_of_use"].([]any)
	if b2b["version"] != "1" || b2b["organization_id"] == nil || len(pou) == 0 {
		s.t.Errorf("hl7-b2b %v", b2b)
		oauthFail(w, "invalid_grant")
		return
	}
	s.jtis[c.ID] = true
	s.lastB2B = b2b
	s.issued++
	access := fmt.Sprintf("udap-tok-%d", s.issued)
	s.tokens[access] = true
	ans := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600}
	if s.grant != "" {
		ans["scope"] = s.grant
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ans)
}

func (s *udapServer) counts() (registers, issued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registers, s.issued
}

// udapSetup is ferry's side: a key of the given kind, a certificate for
// it from the community CA naming clientURIValue, and the configuration.
func udapSetup(t *testing.T, ca *testCA, key crypto.Signer) UDAPConfig {
	t.Helper()
	cert := ca.issue(t, "ferry clinic 12", clientURIValue, key)
	return UDAPConfig{
		CertFile:         writeCerts(t, "client.pem", cert),
		KeyFile:          writeKey(t, key),
		TrustAnchors:     writeCerts(t, "anchors.pem", ca.cert),
		OrganizationID:   "urn:oid:2.16.840.1.113883.4.6#1234567893",
		OrganizationName: "Clinic 12",
		Contacts:         []string{"mailto:it@clinic-12.example.org"},
	}
}

// TestUDAPB2B: with exchange.auth.udap ferry verifies the signed metadata,
// registers once (the client id survives a restart), gets a token with
// the hl7-b2b extension, reuses it, and gets a new one after a 401; with
// RSA (RS256) and EC (ES256, ES384) keys.
func TestUDAPB2B(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  jose.SignatureAlgorithm
	}{{"RS256", rk, jose.RS256}, {"ES256", p256, jose.ES256}, {"ES384", p384, jose.ES384}} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t, "community root")
			ex := newExchange(t, false)
			srv := newUDAPServer(t, ex, ca)
			cfg := udapSetup(t, ca, tc.key)
			if id, err := LoadUDAPClient(cfg.CertFile, cfg.KeyFile); err != nil || id.Alg != tc.alg || id.URI != clientURIValue {
				t.Fatalf("client %+v, %v", id, err)
			}
			regFile := filepath.Join(t.TempDir(), "udap", "client.json")
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
			for i := range 3 {
				if err := s.Send(context.Background(), item(fmt.Sprint("01UDAP", i))); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if r, n := srv.counts(); r != 1 || n != 1 {
				t.Errorf("%d registrations, %d tokens for 3 sends, want 1 and 1", r, n)
			}
			srv.mu.Lock()
			b2b := srv.lastB2B
			srv.mu.Unlock()
			if b2b["organization_id"] != cfg.OrganizationID || b2b["organization_name"] != "Clinic 12" ||
				fmt.Sprint(b2b["purpose_of_use"]) != "["+DefaultUDAPPurposeOfUse+"]" {
				t.Errorf("hl7-b2b %v", b2b)
			}
			var stored udapRegistration
			if b, err := os.ReadFile(regFile); err != nil || json.Unmarshal(b, &stored) != nil || stored.ClientID != "client-1" || stored.Issuer != clientURIValue {
				t.Errorf("stored registration %+v, %v", stored, err)
			}

			// The exchange revokes the token: one new token, same send.
			srv.mu.Lock()
			srv.revoked["udap-tok-1"] = true
			srv.mu.Unlock()
			if err := s.Send(context.Background(), item("01UDAPR")); err != nil {
				t.Fatalf("send after revocation: %v", err)
			}
			if r, n := srv.counts(); r != 1 || n != 2 {
				t.Errorf("%d registrations, %d tokens after a revocation, want 1 and 2", r, n)
			}

			// A restart reads the stored client id: no new registration.
			s2 := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
			if err := s2.Send(context.Background(), item("01UDAPS")); err != nil {
				t.Fatal(err)
			}
			if r, n := srv.counts(); r != 1 || n != 3 {
				t.Errorf("%d registrations, %d tokens after a restart, want 1 and 3", r, n)
			}

			// A new client name is a change of registration: ferry
			// registers again and keeps the (same) client id.
			cfg.ClientName = "ferry at clinic 12"
			s3 := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
			if err := s3.Send(context.Background(), item("01UDAPN")); err != nil {
				t.Fatal(err)
			}
			if r, n := srv.counts(); r != 2 || n != 4 {
				t.Errorf("%d registrations, %d tokens after a change, want 2 and 4", r, n)
			}
			if b, err := os.ReadFile(regFile); err != nil || json.Unmarshal(b, &stored) != nil || stored.ClientID != "client-1" || stored.ClientName != cfg.ClientName {
				t.Errorf("stored registration %+v, %v", stored, err)
			}
		})
	}
}

// TestUDAPDoctorAndRegister: `ferry doctor` verifies the metadata without
// registering; `ferry udap-register` registers and stores; doctor then
// gets a real token.
func TestUDAPDoctorAndRegister(t *testing.T) {
	ca := newTestCA(t, "community root")
	ex := newExchange(t, false)
	srv := newUDAPServer(t, ex, ca)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := udapSetup(t, ca, key)
	regFile := filepath.Join(t.TempDir(), "udap", "client.json")
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	c, err := CheckUDAP(context.Background(), cfg, ex.url(), s.client, regFile)
	if err != nil || c.ClientID != "" || c.TokenEndpoint != srv.tokenURL || !strings.Contains(c.Signer, "hie metadata") {
		t.Fatalf("doctor before registration: %+v, %v", c, err)
	}
	if r, _ := srv.counts(); r != 0 {
		t.Fatalf("doctor registered")
	}
	id, err := RegisterUDAP(context.Background(), cfg, ex.url(), s.client, regFile, nil)
	if err != nil || id != "client-1" {
		t.Fatalf("register: %q, %v", id, err)
	}
	c, err = CheckUDAP(context.Background(), cfg, ex.url(), s.client, regFile)
	if err != nil || c.ClientID != "client-1" || c.Life != time.Hour {
		t.Fatalf("doctor after registration: %+v, %v", c, err)
	}
	if r, n := srv.counts(); r != 1 || n != 1 {
		t.Errorf("%d registrations, %d tokens", r, n)
	}
}

// TestUDAPMetadataRefused: metadata ferry cannot trust is an endpoint
// problem naming what is wrong, and nothing is sent: a signer from
// another CA, an iss other than the FHIR base, a signer certificate that
// does not name it, expired metadata, a token endpoint that differs from
// the signed one, a signer certificate whose key usage excludes
// signatures.
func TestUDAPMetadataRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, s *udapServer)
		want  string
	}{
		{"untrusted CA", func(t *testing.T, s *udapServer) {
			other := newTestCA(t, "someone else")
			s.metaChain = []*x509.Certificate{other.issue(t, "impostor", s.base, s.metaKey)}
		}, "not trusted"},
		{"iss mismatch", func(t *testing.T, s *udapServer) {
			s.metaIss = "https://other.example.org/fhir"
			s.metaChain = []*x509.Certificate{s.ca.issue(t, "hie metadata", s.metaIss, s.metaKey)}
		}, "not by this FHIR base"},
		{"signer does not name iss", func(t *testing.T, s *udapServer) {
			s.metaChain = []*x509.Certificate{s.ca.issue(t, "hie metadata", "https://elsewhere.example.org", s.metaKey)}
		}, "does not name"},
		{"expired", func(t *testing.T, s *udapServer) { s.metaExp = -10 * time.Minute }, "expired"},
		{"endpoints differ", func(t *testing.T, s *udapServer) { s.plainToken = "https://evil.example.org/token" }, "differs from the unsigned"},
		{"signer may not sign", func(t *testing.T, s *udapServer) {
			s.metaChain = []*x509.Certificate{s.ca.issue(t, "hie metadata", s.base, s.metaKey, func(c *x509.Certificate) {
				c.KeyUsage = x509.KeyUsageKeyEncipherment
			})}
		}, "lacks digitalSignature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t, "community root")
			ex := newExchange(t, false)
			srv := newUDAPServer(t, ex, ca)
			tc.spoil(t, srv)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			cfg := udapSetup(t, ca, key)
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: filepath.Join(t.TempDir(), "client.json")})
			err := s.Send(context.Background(), item("01META"))
			var ee *EndpointError
			if err == nil || queue.IsPermanent(err) || !errors.As(err, &ee) || !strings.Contains(ee.Problem, tc.want) {
				t.Fatalf("send: %v, want an endpoint problem saying %q", err, tc.want)
			}
			if r, n := srv.counts(); r != 0 || n != 0 {
				t.Errorf("%d registrations, %d tokens despite bad metadata", r, n)
			}
		})
	}
}

// revocationEnv is a trust community with a two-level PKI, each CA
// publishing its CRL: the root, an issuing CA under it that signed the
// exchange's metadata certificate, and the exchange.
type revocationEnv struct {
	root, sub *testCA
	srv       *udapServer
	ex        *exchange
}

func newRevocationEnv(t *testing.T) revocationEnv {
	t.Helper()
	root := newTestCA(t, "community root")
	root.serveCRL(t)
	sub := root.sub(t, "community issuing CA")
	sub.serveCRL(t)
	ex := newExchange(t, false)
	srv := newUDAPServer(t, ex, root)
	srv.metaChain = []*x509.Certificate{sub.issue(t, "hie metadata", srv.base, srv.metaKey), sub.cert}
	return revocationEnv{root: root, sub: sub, srv: srv, ex: ex}
}

// TestUDAPRevocation: the certificates of the metadata signer's chain
// (the trust anchor aside) are checked against the CRLs they name. A
// certificate an authentic CRL lists is refused whatever the policy, even
// when the CRL is stale; a CRL that cannot be read, is forged or stale
// refuses the metadata under strict (the default) and lets it pass under
// soft-fail, with a warning `ferry doctor` shows; off reads none. Every
// refusal is an endpoint problem, and nothing is registered.
func TestUDAPRevocation(t *testing.T) {
	revokeSigner := func(o crlOptions) func(t *testing.T, e revocationEnv) {
		return func(t *testing.T, e revocationEnv) {
			o.revoked = []*x509.Certificate{e.srv.metaChain[0]}
			e.sub.publish(t, o)
		}
	}
	down := func(t *testing.T, e revocationEnv) { e.sub.crl.Close() }
	forged := func(t *testing.T, e revocationEnv) {
		// A CA of the same name, but not the key that issued the
		// signer's certificate.
		e.sub.publish(t, crlOptions{signer: newTestCA(t, "community issuing CA")})
	}
	stale := func(t *testing.T, e revocationEnv) {
		e.sub.publish(t, crlOptions{nextUpdate: time.Now().Add(-time.Minute)})
	}
	for _, tc := range []struct {
		name   string
		policy string
		spoil  func(t *testing.T, e revocationEnv)
		want   []string // the endpoint problem says these; none: delivered
		warned bool     // delivered with a warning
	}{
		{name: "not revoked"},
		{name: "signer revoked", spoil: revokeSigner(crlOptions{}), want: []string{`"hie metadata"`, "revoked on", "key compromise"}},
		{name: "signer revoked, soft-fail", policy: RevocationSoftFail, spoil: revokeSigner(crlOptions{}), want: []string{`"hie metadata"`, "revoked on"}},
		{name: "intermediate revoked", spoil: func(t *testing.T, e revocationEnv) {
			e.root.publish(t, crlOptions{revoked: []*x509.Certificate{e.sub.cert}})
		}, want: []string{`"community issuing CA"`, "revoked on"}},
		{name: "CRL server down", spoil: down, want: []string{"cannot tell whether", `"hie metadata"`, "strict"}},
		{name: "CRL server down, soft-fail", policy: RevocationSoftFail, spoil: down, warned: true},
		{name: "CRL server down, off", policy: RevocationOff, spoil: down},
		{name: "CRL forged", spoil: forged, want: []string{"signature does not verify"}},
		{name: "CRL forged, soft-fail", policy: RevocationSoftFail, spoil: forged, warned: true},
		{name: "stale CRL", spoil: stale, want: []string{"stale", "has passed"}},
		{name: "stale CRL, soft-fail", policy: RevocationSoftFail, spoil: stale, warned: true},
		{name: "stale CRL lists the signer, soft-fail", policy: RevocationSoftFail,
			spoil: revokeSigner(crlOptions{nextUpdate: time.Now().Add(-time.Minute)}), want: []string{"revoked on"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRevocationEnv(t)
			if tc.spoil != nil {
				tc.spoil(t, e)
			}
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			cfg := udapSetup(t, e.root, key)
			cfg.Revocation = tc.policy
			regFile := filepath.Join(t.TempDir(), "client.json")
			s := newSink(t, Config{URL: e.ex.url(), TLS: e.ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
			err := s.Send(context.Background(), item("01CRL"))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				if r, n := e.srv.counts(); r != 1 || n != 1 {
					t.Errorf("%d registrations, %d tokens, want 1 and 1", r, n)
				}
				c, err := CheckUDAP(context.Background(), cfg, e.ex.url(), s.client, regFile)
				if err != nil || (len(c.Warnings) > 0) != tc.warned {
					t.Errorf("doctor: warnings %q, %v; want warned %v", c.Warnings, err, tc.warned)
				}
				return
			}
			assertRefused(t, err, e.srv, tc.want...)
		})
	}
}

// assertRefused checks that a send was refused as an endpoint problem (the
// bundle waits, never a dead letter) whose words include want, before
// anything was registered or a token asked for.
func assertRefused(t *testing.T, err error, srv *udapServer, want ...string) {
	t.Helper()
	var ee *EndpointError
	if err == nil || queue.IsPermanent(err) || !errors.As(err, &ee) {
		t.Fatalf("send: %v, want an endpoint problem", err)
	}
	for _, w := range want {
		if !strings.Contains(ee.Problem, w) {
			t.Errorf("problem %q does not say %q", ee.Problem, w)
		}
	}
	if r, n := srv.counts(); r != 0 || n != 0 {
		t.Errorf("%d registrations, %d tokens despite the refusal", r, n)
	}
}

// TestCRLCache: a CRL is read once and kept until its nextUpdate, then
// read again; the cache holds a bounded number of CRLs.
func TestCRLCache(t *testing.T) {
	e := newRevocationEnv(t)
	chain := append(slices.Clone(e.srv.metaChain), e.root.cert)
	c := newRevocationChecker("", nil)
	now := time.Now()
	c.now = func() time.Time { return now }
	for range 3 {
		if problem, warnings := c.check(context.Background(), chain); problem != "" || warnings != nil {
			t.Fatalf("check: %q, %q", problem, warnings)
		}
	}
	if r, s := e.root.crl.count(), e.sub.crl.count(); r != 1 || s != 1 {
		t.Errorf("%d and %d fetches for three checks, want 1 and 1", r, s)
	}
	// Past nextUpdate (an hour ahead) both are read again, and the
	// new CRL's revocation is seen.
	e.sub.publish(t, crlOptions{revoked: []*x509.Certificate{chain[0]}, nextUpdate: now.Add(3 * time.Hour)})
	e.root.publish(t, crlOptions{nextUpdate: now.Add(3 * time.Hour)})
	now = now.Add(time.Hour + time.Second)
	if problem, _ := c.check(context.Background(), chain); !strings.Contains(problem, "revoked on") {
		t.Errorf("check after nextUpdate: %q", problem)
	}
	if r, s := e.root.crl.count(), e.sub.crl.count(); r != 1 || s != 2 {
		// The signer is refused before its issuer's CRL is needed.
		t.Errorf("%d and %d fetches after nextUpdate, want 1 and 2", r, s)
	}
	var crl *x509.RevocationList // a current one: the signer's issuer's
	for _, v := range c.cache {
		if now.Before(v.until) {
			crl = v.crl
		}
	}
	for i := range maxCachedCRLs + 5 {
		c.store(fmt.Sprintf("http://crl.example.org/%d.crl", i), crl, now)
	}
	if len(c.cache) != maxCachedCRLs {
		t.Errorf("%d CRLs cached, want at most %d", len(c.cache), maxCachedCRLs)
	}
}

// ocspEnv is a trust community whose issuing CA, under the root, runs
// an OCSP responder (and, withCRL, publishes a CRL too) and signed the
// exchange's metadata certificate, which names them.
type ocspEnv struct {
	root, sub *testCA
	srv       *udapServer
	ex        *exchange
}

func newOCSPEnv(t *testing.T, withCRL bool) ocspEnv {
	t.Helper()
	root := newTestCA(t, "community root")
	sub := root.sub(t, "community issuing CA")
	sub.serveOCSP(t)
	if withCRL {
		sub.serveCRL(t)
	}
	ex := newExchange(t, false)
	srv := newUDAPServer(t, ex, root)
	srv.metaChain = []*x509.Certificate{sub.issue(t, "hie metadata", srv.base, srv.metaKey), sub.cert}
	return ocspEnv{root: root, sub: sub, srv: srv, ex: ex}
}

// TestUDAPOCSP: a certificate of the metadata signer's chain that names
// an OCSP responder is checked with it first, then with its CRL. Either
// saying it is revoked refuses the metadata whatever the policy; one
// authentic, current answer of good suffices when the other source
// cannot be had; only when neither can tell does the policy decide. A
// response that does not verify (another key, a delegated responder
// certificate not for OCSP signing) or answers unknown tells nothing.
func TestUDAPOCSP(t *testing.T) {
	revokeSigner := func(t *testing.T, e ocspEnv) { e.sub.ocsp.revoke(e.srv.metaChain[0]) }
	down := func(t *testing.T, e ocspEnv) { e.sub.ocsp.Close() }
	wrongKey := func(t *testing.T, e ocspEnv) {
		e.sub.ocsp.mu.Lock()
		e.sub.ocsp.signer = newTestCA(t, "community issuing CA")
		e.sub.ocsp.mu.Unlock()
	}
	for _, tc := range []struct {
		name    string
		policy  string
		withCRL bool
		spoil   func(t *testing.T, e ocspEnv)
		want    []string // the endpoint problem says these; none: delivered
		warned  bool     // delivered with a warning
	}{
		{name: "good"},
		{name: "good, delegated responder", spoil: func(t *testing.T, e ocspEnv) { e.sub.delegateOCSP(t) }},
		{name: "good, CRL good too", withCRL: true},
		{name: "revoked", spoil: revokeSigner, want: []string{`"hie metadata"`, "revoked on", "key compromise", "says the OCSP responder at"}},
		{name: "revoked, soft-fail", policy: RevocationSoftFail, spoil: revokeSigner, want: []string{"revoked on", "OCSP responder"}},
		{name: "revoked, CRL good", withCRL: true, spoil: revokeSigner, want: []string{"revoked on", "OCSP responder"}},
		{name: "good, CRL lists the signer", withCRL: true, spoil: func(t *testing.T, e ocspEnv) {
			e.sub.publish(t, crlOptions{revoked: []*x509.Certificate{e.srv.metaChain[0]}})
		}, want: []string{"revoked on", "says the CRL at"}},
		{name: "responder down", spoil: down, want: []string{"cannot tell whether", `"hie metadata"`, "OCSP responder", "strict"}},
		{name: "responder down, soft-fail", policy: RevocationSoftFail, spoil: down, warned: true},
		{name: "responder down, off", policy: RevocationOff, spoil: down},
		{name: "responder down, CRL good", withCRL: true, spoil: down},
		{name: "responder down, CRL down", withCRL: true, spoil: func(t *testing.T, e ocspEnv) {
			e.sub.ocsp.Close()
			e.sub.crl.Close()
		}, want: []string{"cannot tell whether", "OCSP responder", "CRL"}},
		{name: "CRL down, responder good", withCRL: true, spoil: func(t *testing.T, e ocspEnv) { e.sub.crl.Close() }},
		{name: "signed by a wrong key", spoil: wrongKey, want: []string{"cannot tell whether", "signature does not verify", "strict"}},
		{name: "signed by a wrong key, soft-fail", policy: RevocationSoftFail, spoil: wrongKey, warned: true},
		{name: "signed by a wrong key, CRL good", withCRL: true, spoil: wrongKey},
		{name: "delegated responder not for OCSP", spoil: func(t *testing.T, e ocspEnv) {
			e.sub.delegateOCSP(t, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
		}, want: []string{"cannot tell whether", "not for OCSP signing"}},
		{name: "delegated responder of another CA", spoil: func(t *testing.T, e ocspEnv) {
			other := newTestCA(t, "community issuing CA")
			other.ocsp = e.sub.ocsp
			other.delegateOCSP(t)
		}, want: []string{"cannot tell whether", "was not issued by"}},
		{name: "unknown", spoil: func(t *testing.T, e ocspEnv) {
			e.sub.ocsp.mu.Lock()
			e.sub.ocsp.unknown = true
			e.sub.ocsp.mu.Unlock()
		}, want: []string{"cannot tell whether", "unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOCSPEnv(t, tc.withCRL)
			if tc.spoil != nil {
				tc.spoil(t, e)
			}
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			cfg := udapSetup(t, e.root, key)
			cfg.Revocation = tc.policy
			regFile := filepath.Join(t.TempDir(), "client.json")
			s := newSink(t, Config{URL: e.ex.url(), TLS: e.ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
			err := s.Send(context.Background(), item("01OCSP"))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				for i := range 2 {
					if err := s.Send(context.Background(), item(fmt.Sprint("01OCSP", i))); err != nil {
						t.Fatalf("send %d: %v", i+2, err)
					}
				}
				if r, n := e.srv.counts(); r != 1 || n != 1 {
					t.Errorf("%d registrations, %d tokens, want 1 and 1", r, n)
				}
				if n := e.sub.ocsp.count(); tc.policy != RevocationOff && tc.spoil == nil && n != 1 {
					t.Errorf("%d OCSP requests for three sends, want 1", n)
				}
				c, err := CheckUDAP(context.Background(), cfg, e.ex.url(), s.client, regFile)
				if err != nil || (len(c.Warnings) > 0) != tc.warned {
					t.Errorf("doctor: warnings %q, %v; want warned %v", c.Warnings, err, tc.warned)
				}
				return
			}
			assertRefused(t, err, e.srv, tc.want...)
		})
	}
}

// TestOCSPCache: an OCSP answer is asked once and kept until its
// nextUpdate, then asked again; the cache holds a bounded number of
// answers.
func TestOCSPCache(t *testing.T) {
	e := newOCSPEnv(t, false)
	chain := append(slices.Clone(e.srv.metaChain), e.root.cert)
	c := newRevocationChecker("", nil)
	now := time.Now()
	c.now = func() time.Time { return now }
	for range 3 {
		if problem, warnings := c.check(context.Background(), chain); problem != "" || warnings != nil {
			t.Fatalf("check: %q, %q", problem, warnings)
		}
	}
	if n := e.sub.ocsp.count(); n != 1 {
		t.Errorf("%d OCSP requests for three checks, want 1", n)
	}
	// Past nextUpdate (an hour ahead) the responder is asked again, and
	// its revocation is seen; a revocation is kept.
	e.sub.ocsp.revoke(chain[0])
	now = now.Add(time.Hour + time.Second)
	for range 2 {
		if problem, _ := c.check(context.Background(), chain); !strings.Contains(problem, "revoked on") {
			t.Errorf("check after nextUpdate: %q", problem)
		}
	}
	if n := e.sub.ocsp.count(); n != 2 {
		t.Errorf("%d OCSP requests after nextUpdate, want 2", n)
	}
	var good cachedOCSP
	for _, v := range c.ocsp {
		good = v
	}
	for i := range maxCachedOCSP + 5 {
		c.storeOCSP(fmt.Sprint("k", i), good.resp, good.src, now)
	}
	if len(c.ocsp) != maxCachedOCSP {
		t.Errorf("%d OCSP answers cached, want at most %d", len(c.ocsp), maxCachedOCSP)
	}
}

// TestCRLScope: a CRL whose issuing distribution point narrows it to
// other certificates, or some reasons, does not decide a status.
func TestCRLScope(t *testing.T) {
	leaf, ca := &x509.Certificate{}, &x509.Certificate{IsCA: true}
	for _, tc := range []struct {
		idp  issuingDistributionPoint
		cert *x509.Certificate
		ok   bool
	}{
		{issuingDistributionPoint{}, leaf, true},
		{issuingDistributionPoint{OnlyContainsUserCerts: true}, leaf, true},
		{issuingDistributionPoint{OnlyContainsUserCerts: true}, ca, false},
		{issuingDistributionPoint{OnlyContainsCACerts: true}, leaf, false},
		{issuingDistributionPoint{OnlySomeReasons: asn1.BitString{Bytes: []byte{0x40}, BitLength: 2}}, leaf, false},
		{issuingDistributionPoint{IndirectCRL: true}, leaf, false},
	} {
		der, err := asn1.Marshal(tc.idp)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkIDPScope(der, tc.cert); (err == nil) != tc.ok {
			t.Errorf("%+v for CA %v: %v", tc.idp, tc.cert.IsCA, err)
		}
	}
	if checkIDPScope([]byte{0x30, 0x03, 0x01}, leaf) == nil {
		t.Error("a damaged extension was accepted")
	}
}

// TestUDAPRegistrationNotStored: when the registration cannot be written
// to the data folder, the operator hears of it once, as an endpoint
// problem naming the file, and deliveries go on with the client id the
// exchange assigned, instead of registering again at every attempt.
func TestUDAPRegistrationNotStored(t *testing.T) {
	ca := newTestCA(t, "community root")
	ex := newExchange(t, false)
	srv := newUDAPServer(t, ex, ca)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := udapSetup(t, ca, key)
	// A name the file system takes, but not with the suffix of the
	// temporary file it is written through: a store that fails while
	// reading works (tests may run as root, which no mode stops).
	regFile := filepath.Join(t.TempDir(), strings.Repeat("r", 250))
	s := newSink(t, Config{URL: ex.url() + "/", TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
	err := s.Send(context.Background(), item("01NOSTORE0"))
	var ee *EndpointError
	if err == nil || queue.IsPermanent(err) || !errors.As(err, &ee) || !strings.Contains(ee.Problem, "could not store") {
		t.Fatalf("first send: %v, want an endpoint problem about storing the registration", err)
	}
	for i := range 3 {
		if err := s.Send(context.Background(), item(fmt.Sprint("01NOSTORE", i+1))); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	if r, n := srv.counts(); r != 1 || n != 1 {
		t.Errorf("%d registrations, %d tokens, want 1 and 1", r, n)
	}
}

// TestUDAPClientCertificateRefused: a certificate without a URI subject
// alternative name cannot be registered (the software statement's iss is
// that URI), nor can a key that is not the certificate's or too weak.
func TestUDAPClientCertificateRefused(t *testing.T) {
	ca := newTestCA(t, "community root")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	noURI := writeCerts(t, "nouri.pem", ca.issue(t, "ferry", "", key))
	if _, err := CheckUDAPCertificate(noURI); err == nil || !strings.Contains(err.Error(), "no URI subject alternative name") {
		t.Errorf("certificate without URI: %v", err)
	}
	if _, err := LoadUDAPClient(noURI, writeKey(t, key)); err == nil {
		t.Error("certificate without URI loaded")
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := writeCerts(t, "good.pem", ca.issue(t, "ferry", clientURIValue, key))
	if _, err := LoadUDAPClient(good, writeKey(t, other)); err == nil || !strings.Contains(err.Error(), "not the private key") {
		t.Errorf("someone else's key: %v", err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, err := LoadUDAPClient(writeCerts(t, "p224.pem", ca.issue(t, "ferry", clientURIValue, p224)), writeKey(t, p224)); err == nil {
		t.Error("P-224 key accepted")
	}
	// The sink refuses to connect with it, before anything is sent.
	s, err := New(Config{URL: "https://hie.example.org/fhir", UDAP: UDAPConfig{CertFile: noURI, KeyFile: writeKey(t, key),
		TrustAnchors: writeCerts(t, "a.pem", ca.cert), OrganizationID: "urn:oid:1.2.3", Contacts: []string{"mailto:a@b.example"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(context.Background()); err == nil || !strings.Contains(err.Error(), "URI subject alternative name") {
		t.Errorf("connect: %v", err)
	}
}

func TestUDAPConfigValidate(t *testing.T) {
	ok := UDAPConfig{CertFile: "c.pem", KeyFile: "k.pem", TrustAnchors: "a.pem", OrganizationID: "urn:oid:1.2.3", Contacts: []string{"mailto:it@example.org"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := UDAPConfig{CertFile: "c.pem", OrganizationID: "clinic 12", PurposeOfUse: []string{"TREAT"}}
	err := bad.Validate()
	for _, want := range []string{"key_file", "trust_anchors", "organization_id: \"clinic 12\"", "purpose_of_use[0]", "contacts"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v, want %q", err, want)
		}
	}
	withID := ok
	withID.Contacts, withID.ClientID = nil, "assigned-1"
	if err := withID.Validate(); err != nil {
		t.Errorf("a client id needs no contacts: %v", err)
	}
	for _, r := range []string{"", RevocationStrict, RevocationSoftFail, RevocationOff} {
		withRev := ok
		withRev.Revocation = r
		if err := withRev.Validate(); err != nil {
			t.Errorf("revocation %q: %v", r, err)
		}
	}
	badRev := ok
	badRev.Revocation = "soft"
	if err := badRev.Validate(); err == nil || !strings.Contains(err.Error(), `revocation: "soft" is not one of strict, soft-fail, off`) {
		t.Errorf("revocation soft: %v", err)
	}
	both := Config{URL: "https://hie.example.org/fhir", UDAP: ok, SMART: SMARTConfig{ClientID: "x", KeyFile: "k"}}
	if err := both.Validate(); err == nil || !strings.Contains(err.Error(), "one of them") {
		t.Errorf("SMART and UDAP: %v", err)
	}
}
