package fhirhttp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// SMARTConfig is SMART Backend Services (SMART App Launch 2.2, "Backend
// Services"): ferry authenticates to the exchange's authorization server
// with a JWT it signs with its private key (private_key_jwt), gets an
// access token for client_credentials, and sends it as a Bearer token with
// every request, beside or instead of its client certificate.
type SMARTConfig struct {
	// ClientID is the client id the exchange registered for this gateway.
	ClientID string `yaml:"client_id" json:"client_id"`
	// KeyFile is the PEM private key whose public half the exchange knows
	// (as a JWKS): RSA of 2048 bits or more (signs RS384) or EC P-384
	// (signs ES384). `ferry smart-key` makes one and prints its JWKS.
	KeyFile string `yaml:"key_file" json:"key_file"`
	// KeyID is the JWT header's kid; empty means the key's JWK thumbprint
	// (RFC 7638), which is what `ferry smart-key` registers.
	KeyID string `yaml:"key_id" json:"key_id"`
	// Scope is the scope requested; default DefaultSMARTScope.
	Scope string `yaml:"scope" json:"scope"`
	// TokenURL is the token endpoint; empty means the one the exchange
	// publishes in [base]/.well-known/smart-configuration.
	TokenURL string `yaml:"token_url" json:"token_url"`
	// JWKSURL is where the exchange fetches this client's public keys,
	// when it registered the client by a JWKS URL (SMART's preferred way:
	// a key can then be rotated by publishing the new JWKS, see `ferry
	// smart-key --also`). It goes in every client assertion's jku header,
	// which the server matches against the URL it registered. Empty: no
	// jku (a JWKS registered by value).
	JWKSURL string `yaml:"jwks_url" json:"jwks_url"`
}

// DefaultSMARTScope asks for what ferry does at the exchange and no more:
// create, read, update (PATCH included) and search any resource type
// (conditional writes search). ferry never deletes at the exchange, so
// it does not ask for d.
const DefaultSMARTScope = "system/*.crus"

// Enabled reports whether SMART Backend Services is configured: any of
// its settings is, so that a block without client_id or key_file (the
// exchange's token_url and scope written down, the rest to come) has
// them named as missing rather than being taken for no SMART at all.
func (c SMARTConfig) Enabled() bool { return c != SMARTConfig{} }

// Validate checks the settings offline; each error starts with its field.
func (c SMARTConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if c.ClientID == "" {
		errs = append(errs, errors.New("client_id: required: the id the exchange registered for this gateway"))
	}
	if c.KeyFile == "" {
		errs = append(errs, errors.New("key_file: required: the private key whose JWKS the exchange registered (`ferry smart-key` makes one)"))
	}
	if c.TokenURL != "" {
		if err := checkHTTPSURL(c.TokenURL); err != nil {
			errs = append(errs, fmt.Errorf("token_url: %w", err))
		}
	}
	if c.JWKSURL != "" {
		if err := checkHTTPSURL(c.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("jwks_url: %w (SMART registers keys only at an https URL)", err))
		}
	}
	return errors.Join(errs...)
}

// checkHTTPSURL checks that raw is an https URL without credentials
// (user:password@), repeating no password: one there would go to the
// token endpoint as Basic authentication beside the client assertion
// (RFC 6749 §2.3: the client "MUST NOT use more than one
// authentication method in each request"), or to the exchange in the jku
// header, and into every message that names the URL.
func checkHTTPSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.User != nil:
		return errors.New("must not contain credentials (user:password@): ferry proves who it is with its signed client assertion")
	case u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("%q is not an https URL", raw)
	}
	return nil
}

// SMARTKey is a loaded signing key.
type SMARTKey struct {
	Signer crypto.Signer
	Alg    jose.SignatureAlgorithm
	KeyID  string // the key's JWK thumbprint (RFC 7638, SHA-256, base64url)
}

// LoadSMARTKey reads a PEM private key (PKCS#8, PKCS#1 RSA or SEC 1 EC)
// and checks that it is one SMART Backend Services allows: RSA of at least
// 2048 bits (RS384) or EC P-384 (ES384). Like the TLS keys, a file other
// accounts can read is refused.
func LoadSMARTKey(path string) (*SMARTKey, error) {
	key, err := readPrivateKey(path)
	if err != nil {
		return nil, err
	}
	k := &SMARTKey{}
	switch key := key.(type) {
	case *rsa.PrivateKey:
		if key.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%s: RSA key of %d bits; SMART asks for 2048 or more", path, key.N.BitLen())
		}
		k.Signer, k.Alg = key, jose.RS384
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P384() {
			return nil, fmt.Errorf("%s: EC key on %s; SMART's ES384 needs P-384", path, key.Curve.Params().Name)
		}
		k.Signer, k.Alg = key, jose.ES384
	default:
		return nil, fmt.Errorf("%s: a %T key; SMART needs RSA (RS384) or EC P-384 (ES384)", path, key)
	}
	jwk := k.PublicJWK("")
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return k, nil
}

// PublicJWK is the public key as a JWK with kid (k.KeyID when empty).
func (k *SMARTKey) PublicJWK(kid string) jose.JSONWebKey {
	if kid == "" {
		kid = k.KeyID
	}
	return jose.JSONWebKey{Key: k.Signer.Public(), KeyID: kid, Algorithm: string(k.Alg), Use: "sig"}
}

// smartTokens gets SMART Backend Services access tokens; its tokenCache
// keeps them.
type smartTokens struct {
	tokenCache
	cfg    SMARTConfig
	base   string // the FHIR base, for discovery
	client *http.Client
	key    *SMARTKey
	kid    string
	log    *slog.Logger

	// Set by the one fetch in flight (see tokenCache).
	tokenURL string
	// file is what key_file held when key was loaded from it; tried,
	// what it held at the last reload that failed (warned of once).
	file, tried []byte
}

// assertionLife is the client assertion's exp: SMART and UDAP allow at
// most five minutes.
const assertionLife = 4 * time.Minute

func newSMARTTokens(cfg SMARTConfig, base string, client *http.Client, log *slog.Logger) (*smartTokens, error) {
	file, _ := os.ReadFile(cfg.KeyFile)
	key, err := LoadSMARTKey(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("smart key: %w", err)
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultSMARTScope
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &smartTokens{cfg: cfg, base: base, client: client, log: log, tokenURL: cfg.TokenURL, file: file}
	t.useKey(key)
	t.tokenCache.fetch = t.discoverAndFetch
	return t, nil
}

// useKey makes key the one the client assertions are signed with, under
// the configured key_id, else its thumbprint.
func (t *smartTokens) useKey(key *SMARTKey) {
	t.key, t.kid = key, t.cfg.KeyID
	if t.kid == "" {
		t.kid = key.KeyID
	}
}

// reload loads key_file again when it changed, so that a key replaced
// on disk (the one the exchange registered put in place of a wrong one,
// a rotation done in place) signs the next token request without a
// restart, as a renewed UDAP key does, and as ferry doctor, which reads
// the file anew, signs with it. A file that cannot be used as it is (half
// written, a key of a kind SMART does not sign with) leaves the loaded
// key in use, with a warning, and is tried again at the next fetch.
func (t *smartTokens) reload() {
	now, err := os.ReadFile(t.cfg.KeyFile)
	if err != nil || bytes.Equal(now, t.file) {
		return
	}
	key, err := LoadSMARTKey(t.cfg.KeyFile)
	if err != nil {
		if !bytes.Equal(now, t.tried) {
			t.log.Warn("exchange.auth.smart.key_file changed but cannot be used; the key loaded before stays in use", "error", err)
			t.tried = now
		}
		return
	}
	if key.Alg != t.key.Alg && t.cfg.TokenURL == "" {
		// The discovery document says which algorithms the server
		// takes: read it again for this key.
		t.tokenURL = ""
	}
	t.useKey(key)
	t.file, t.tried = now, nil
	t.log.Info("exchange.auth.smart.key_file read again; its key signs the client assertions from now on", "kid", t.kid)
}

// discoverAndFetch finds the token endpoint the first time, then asks it.
// A discovered endpoint that fails is forgotten, so that the next attempt
// reads the discovery document again (the exchange may have moved its
// endpoint) rather than asking the old one until ferry restarts: one
// that refuses, and one that cannot be reached or answers 5xx, as an
// endpoint whose host was taken down, or with nothing left behind its
// load balancer, does. Only a request its own sender gave up on (the
// context ended) says nothing of the endpoint.
func (t *smartTokens) discoverAndFetch(ctx context.Context) (string, time.Duration, error) {
	t.reload()
	if t.tokenURL == "" {
		u, err := t.discover(ctx)
		if err != nil {
			return "", 0, err
		}
		t.tokenURL = u
	}
	tok, life, _, err := t.request(ctx)
	if t.cfg.TokenURL == "" && err != nil && ctx.Err() == nil {
		t.tokenURL = ""
	}
	return tok, life, err
}

// discover reads token_endpoint from [base]/.well-known/smart-configuration.
func (t *smartTokens) discover(ctx context.Context) (string, error) {
	u := t.base + "/.well-known/smart-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("smart discovery %s: %w", u, err)
	}
	defer resp.Body.Close()
	var doc struct {
		TokenEndpoint string   `json:"token_endpoint"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		SigningAlgs   []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	}
	switch {
	case serverBusy(resp.StatusCode):
		// Busy or down for now: an outage, retried, not a setting to
		// fix. A Retry-After date is on the server's clock (answerTime).
		return "", &StatusError{Code: resp.StatusCode, Status: statusText(resp.StatusCode, resp.Status), Entry: -1,
			Wait: parseRetryAfter(resp.Header.Get("Retry-After"), answerTime(resp)), Server: "SMART discovery " + u}
	case resp.StatusCode != http.StatusOK:
		return "", &EndpointError{Problem: fmt.Sprintf("SMART discovery at %s answered %s; set exchange.auth.smart.token_url", u, resp.Status), Err: errors.New(resp.Status)}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil || doc.TokenEndpoint == "" {
		return "", &EndpointError{Problem: fmt.Sprintf("%s names no token_endpoint; set exchange.auth.smart.token_url", u), Err: errors.New("no token_endpoint")}
	}
	// What the server says it takes is checked here, so that a mismatch
	// reads as what it is rather than as a refused token request. Lists it
	// leaves out say nothing (SMART makes them RECOMMENDED).
	if tu, err := url.Parse(doc.TokenEndpoint); err != nil || tu.Scheme != "https" || tu.Host == "" {
		return "", &EndpointError{Problem: fmt.Sprintf("%s names token_endpoint %q, which is not an https URL; the client assertion and the access token must not travel in clear", u, doc.TokenEndpoint), Err: errors.New("token_endpoint not https")}
	}
	if len(doc.AuthMethods) > 0 && !slices.Contains(doc.AuthMethods, "private_key_jwt") {
		return "", &EndpointError{Problem: fmt.Sprintf("%s lists token_endpoint_auth_methods_supported %v without private_key_jwt, the only method SMART Backend Services uses; ask the exchange to enable it for ferry's client", u, doc.AuthMethods), Err: errors.New("private_key_jwt not supported")}
	}
	if len(doc.SigningAlgs) > 0 && !slices.Contains(doc.SigningAlgs, string(t.key.Alg)) {
		return "", &EndpointError{Problem: fmt.Sprintf("%s accepts client assertions signed with %v, not %s (the key in exchange.auth.smart.key_file); make a key of an accepted kind", u, doc.SigningAlgs, t.key.Alg), Err: errors.New("signing algorithm not supported")}
	}
	return doc.TokenEndpoint, nil
}

// assertion signs the client assertion JWT for the token request.
func (t *smartTokens) assertion() (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", t.kid)
	if t.cfg.JWKSURL != "" {
		opts = opts.WithHeader("jku", t.cfg.JWKSURL)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: t.key.Alg, Key: t.key.Signer}, opts)
	if err != nil {
		return "", err
	}
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	now := time.Now()
	claims := jwt.Claims{
		Issuer:   t.cfg.ClientID,
		Subject:  t.cfg.ClientID,
		Audience: jwt.Audience{t.tokenURL},
		Expiry:   jwt.NewNumericDate(now.Add(assertionLife)),
		IssuedAt: jwt.NewNumericDate(now),
		ID:       jti,
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// request asks the token endpoint for an access token (client_credentials
// with a private_key_jwt client assertion); scope is the scope granted.
func (t *smartTokens) request(ctx context.Context) (token string, life time.Duration, scope string, err error) {
	a, err := t.assertion()
	if err != nil {
		return "", 0, "", fmt.Errorf("sign SMART client assertion: %w", err)
	}
	source := "exchange.auth.smart.token_url"
	if t.cfg.TokenURL == "" {
		source = "the token_endpoint " + t.base + "/.well-known/smart-configuration names (the exchange's to fix; exchange.auth.smart.token_url overrides it)"
	}
	return requestToken(ctx, t.client, tokenRequest{
		what: "SMART",
		url:  t.tokenURL,
		form: url.Values{
			"grant_type":            {"client_credentials"},
			"scope":                 {t.cfg.Scope},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {a},
		},
		field:  "exchange.auth.smart",
		check:  "check exchange.auth.smart client_id, key_file and the JWKS registered with the exchange",
		source: source,
	})
}

// GenerateSMARTKey writes a new EC P-384 private key (PKCS#8 PEM, mode
// 0600) to path, refusing to replace a file, and returns it loaded.
func GenerateSMARTKey(path string) (*SMARTKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return LoadSMARTKey(path)
}

// CheckSMART gets one access token with cfg, for `ferry doctor`: the
// scope granted and the token's lifetime, or why there is none; and tries
// it at the FHIR server at base (tryToken), a *TokenRefusedError, with
// the scope and lifetime, when that refuses it.
func CheckSMART(ctx context.Context, cfg SMARTConfig, base string, client *http.Client) (scope string, life time.Duration, err error) {
	ts, err := newSMARTTokens(cfg, strings.TrimSuffix(base, "/"), client, nil)
	if err != nil {
		return "", 0, err
	}
	if ts.tokenURL == "" {
		if ts.tokenURL, err = ts.discover(ctx); err != nil {
			return "", 0, err
		}
	}
	tok, life, scope, err := ts.request(ctx)
	if err != nil {
		return "", 0, err
	}
	return scope, life, tryToken(ctx, client, base, tok)
}
