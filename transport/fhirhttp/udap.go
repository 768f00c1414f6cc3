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
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/queue/durable"
)

// UDAPConfig is UDAP B2B client credentials (HL7 UDAP Security IG, the
// "udap_dcr" and "udap_authn" profiles with the hl7-b2b extension), which
// TEFCA Facilitated FHIR requires. ferry's identity is an X.509
// certificate from the trust community, whose URI subject alternative name
// names the client; ferry checks the exchange's signed metadata against
// the community's trust anchors, registers itself (once: the client_id is
// kept under data_dir), and signs each token request with its key, the
// certificate chain in the JWT header.
type UDAPConfig struct {
	// CertFile is PEM: ferry's client certificate (with a URI subject
	// alternative name), then its intermediates up to, not including,
	// the community's root.
	CertFile string `yaml:"cert_file" json:"cert_file"`
	// KeyFile is the certificate's PEM private key: RSA of 2048 bits or
	// more (signs RS256, which every UDAP server takes) or EC P-256 or
	// P-384 (ES256, ES384).
	KeyFile string `yaml:"key_file" json:"key_file"`
	// TrustAnchors is a PEM file of the CA certificates ferry trusts to
	// have issued the certificate that signs the exchange's metadata.
	TrustAnchors string `yaml:"trust_anchors" json:"trust_anchors"`
	// ClientID is a client id the exchange assigned out of band; empty
	// (the usual case) means ferry registers dynamically and keeps the
	// client id it gets in <data_dir>/udap/client.json.
	ClientID string `yaml:"client_id" json:"client_id"`
	// OrganizationID identifies the organization ferry sends for (a URI,
	// e.g. its NPI as urn:oid:2.16.840.1.113883.4.6#1234567890): the
	// hl7-b2b extension's organization_id.
	OrganizationID string `yaml:"organization_id" json:"organization_id"`
	// OrganizationName is the hl7-b2b organization_name (optional).
	OrganizationName string `yaml:"organization_name" json:"organization_name"`
	// PurposeOfUse is the hl7-b2b purpose_of_use, codes as system#code;
	// default [DefaultUDAPPurposeOfUse]. TEFCA names its own exchange
	// purpose codes: use what the exchange asks for.
	PurposeOfUse []string `yaml:"purpose_of_use" json:"purpose_of_use"`
	// Scope is registered and requested; default DefaultSMARTScope.
	Scope string `yaml:"scope" json:"scope"`
	// ClientName is the software statement's client_name; default
	// DefaultUDAPClientName.
	ClientName string `yaml:"client_name" json:"client_name"`
	// Contacts are the software statement's contacts: the IG requires at
	// least one mailto: URI for the exchange to reach the operator.
	Contacts []string `yaml:"contacts" json:"contacts"`
	// Community, when set, is sent as ?community= with the metadata
	// request, for an exchange in several trust communities.
	Community string `yaml:"community" json:"community"`
	// Revocation is what ferry does when it cannot learn whether a
	// certificate of the metadata signer's chain (the trust anchor
	// aside) is revoked: neither its OCSP responder nor its CRL gives an
	// authentic, current answer (they cannot be reached, do not verify
	// or are stale). RevocationStrict ("strict", the default) refuses
	// the metadata, RevocationSoftFail ("soft-fail") accepts it with a
	// warning, RevocationOff ("off") asks no responder and reads no CRL.
	// A certificate an authentic OCSP response or CRL says is revoked
	// is refused unless off.
	//
	// strict is the default because the IG makes the check a SHALL
	// ("verifying that the certificates in the chain have not expired
	// or been revoked"), and a check that passes whenever its answer is
	// missing does not stop the one it is for: whoever holds a revoked
	// key and can answer for the exchange can also keep the CRL and the
	// OCSP response from ferry. Its price is small here: ferry reads the
	// metadata again only when it expires, keeps each CRL and OCSP
	// answer until its nextUpdate, and a refusal is an endpoint problem,
	// so the bundles wait (never dead letters) and the operator is told
	// which responder or CRL cannot be read.
	Revocation string `yaml:"revocation" json:"revocation"`
}

// Defaults for UDAPConfig fields left empty.
const (
	// DefaultUDAPPurposeOfUse is treatment in HL7 v3 PurposeOfUse
	// (2.16.840.1.113883.5.8), in the IG's preferred system#code form.
	DefaultUDAPPurposeOfUse = "urn:oid:2.16.840.1.113883.5.8#TREAT"
	DefaultUDAPClientName   = "ferry gateway"
)

// Enabled reports whether UDAP is configured: any of its settings is,
// as for SMART, so that a block without its certificate yet (the
// exchange's community, scope and purpose_of_use, the operator's
// contacts written down, the rest to come) has what it lacks named
// rather than being taken for no UDAP at all.
func (c UDAPConfig) Enabled() bool {
	return c.CertFile != "" || c.KeyFile != "" || c.TrustAnchors != "" || c.ClientID != "" || c.OrganizationID != "" ||
		c.OrganizationName != "" || len(c.PurposeOfUse) > 0 || c.Scope != "" || c.ClientName != "" || len(c.Contacts) > 0 ||
		c.Community != "" || c.Revocation != ""
}

// Validate checks the settings offline; each error starts with its field.
func (c UDAPConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	req := func(v, field, why string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s: required: %s", field, why))
		}
	}
	req(c.CertFile, "cert_file", "ferry's certificate from the trust community (PEM, then its intermediates)")
	req(c.KeyFile, "key_file", "the certificate's private key")
	req(c.TrustAnchors, "trust_anchors", "the trust community's CA certificates, to check the exchange's signed metadata")
	req(c.OrganizationID, "organization_id", "a URI for the organization ferry sends for (hl7-b2b organization_id)")
	if c.OrganizationID != "" && !isAbsURI(c.OrganizationID) {
		errs = append(errs, fmt.Errorf("organization_id: %q is not a URI (e.g. urn:oid:2.16.840.1.113883.4.6#1234567890 for an NPI)", c.OrganizationID))
	}
	for i, p := range c.PurposeOfUse {
		if !isAbsURI(p) {
			errs = append(errs, fmt.Errorf("purpose_of_use[%d]: %q is not a code as system#code (e.g. %s)", i, p, DefaultUDAPPurposeOfUse))
		}
	}
	if c.ClientID == "" {
		// Only registration sends contacts; the IG wants an e-mail.
		if !slices.ContainsFunc(c.Contacts, func(s string) bool { return strings.HasPrefix(s, "mailto:") && len(s) > len("mailto:") }) {
			errs = append(errs, errors.New("contacts: required for registration: at least one mailto: address the exchange can reach the operator at"))
		}
	}
	if strings.TrimSpace(c.Scope) == "" && c.Scope != "" {
		errs = append(errs, errors.New("scope: blank"))
	}
	if c.Community != "" && !isAbsURI(c.Community) {
		errs = append(errs, fmt.Errorf("community: %q is not a URI", c.Community))
	}
	switch c.Revocation {
	case "", RevocationStrict, RevocationSoftFail, RevocationOff:
	default:
		errs = append(errs, fmt.Errorf("revocation: %q is not one of %s, %s, %s", c.Revocation, RevocationStrict, RevocationSoftFail, RevocationOff))
	}
	return errors.Join(errs...)
}

func isAbsURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && !strings.ContainsAny(s, " \t\n")
}

// UDAPClient is ferry's loaded UDAP identity: its key, the algorithm it
// signs with, the certificate chain sent as x5c, and the URI the
// certificate names it by.
type UDAPClient struct {
	Signer crypto.Signer
	Alg    jose.SignatureAlgorithm
	Chain  []*x509.Certificate // leaf first
	URI    string              // the leaf's (first) URI subject alternative name
}

// CheckUDAPCertificate reads a UDAP client certificate file and returns
// the URI it names the client by, refusing a certificate without one (a
// registration would be refused for it), for `ferry config check`.
func CheckUDAPCertificate(path string) (string, error) {
	chain, err := readCertificates(path)
	if err != nil {
		return "", err
	}
	return clientURI(path, chain[0])
}

func clientURI(path string, leaf *x509.Certificate) (string, error) {
	if len(leaf.URIs) == 0 {
		return "", fmt.Errorf("%s: certificate %q has no URI subject alternative name; UDAP names the client by it (the software statement's iss), so ask the trust community for a certificate with one", path, leaf.Subject.CommonName)
	}
	return leaf.URIs[0].String(), nil
}

// readCertificates reads every CERTIFICATE block of a PEM file, in order,
// a UTF-8 byte-order mark before the first read past, as the tls blocks'
// files are (behind it the first block, ferry's own certificate or a
// trust anchor, went unseen).
func readCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = configtls.TrimBOM(b)
	var chain []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return chain, nil
}

// LoadUDAPClient reads ferry's UDAP certificate chain and key and checks
// them: the certificate names a URI and is within its validity, the key
// is its own and of a kind UDAP signs with.
func LoadUDAPClient(certFile, keyFile string) (*UDAPClient, error) {
	chain, err := readCertificates(certFile)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	uri, err := clientURI(certFile, leaf)
	if err != nil {
		return nil, err
	}
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("%s: certificate %q is valid from %s to %s only", certFile, leaf.Subject.CommonName,
			leaf.NotBefore.UTC().Format(time.DateOnly), leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	key, err := readPrivateKey(keyFile)
	if err != nil {
		return nil, err
	}
	c := &UDAPClient{Signer: key, Chain: chain, URI: uri}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%s: RSA key of %d bits; UDAP asks for 2048 or more", keyFile, k.N.BitLen())
		}
		c.Alg = jose.RS256
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			c.Alg = jose.ES256
		case elliptic.P384():
			c.Alg = jose.ES384
		default:
			return nil, fmt.Errorf("%s: EC key on %s; UDAP signs with P-256 (ES256) or P-384 (ES384)", keyFile, k.Curve.Params().Name)
		}
	default:
		return nil, fmt.Errorf("%s: a %T key; UDAP needs RSA (RS256) or EC P-256/P-384", keyFile, key)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("%s is not the private key of the certificate in %s", keyFile, certFile)
	}
	return c, nil
}

// x5c is the chain as the JWT x5c header carries it: base64 (not URL
// encoding) DER, leaf first (RFC 7515 §4.1.6).
func (c *UDAPClient) x5c() []string {
	out := make([]string, len(c.Chain))
	for i, cert := range c.Chain {
		out[i] = base64.StdEncoding.EncodeToString(cert.Raw)
	}
	return out
}

// sign serializes claims as a JWT signed with ferry's key, x5c in the
// header, as every UDAP JWT is.
func (c *UDAPClient) sign(claims any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: c.Alg, Key: c.Signer},
		(&jose.SignerOptions{}).WithHeader("x5c", c.x5c()))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// newJTI is a fresh random JWT id.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// udapMetadata is what ferry uses of the exchange's UDAP metadata, the
// endpoints taken from the signed metadata.
type udapMetadata struct {
	TokenEndpoint        string
	RegistrationEndpoint string
	Signer               *x509.Certificate // the metadata signer's certificate
	// Expires is the signed metadata's exp: past it, the endpoints are
	// read and verified again rather than trusted from memory.
	Expires time.Time
	// Warnings are what soft-fail revocation checking accepted
	// unchecked, for the log and `ferry doctor`.
	Warnings []string
}

// metadataSkew is the clock difference allowed for the signed metadata's
// iat and exp: they are the exchange's times, read by ferry's clock, which
// may run a little behind or ahead of it.
const metadataSkew = 2 * time.Minute

// metadataClockHint says how far ferry's clock is from the exchange's (the
// answer's Date header) when that is more than clockHintSkew: the signed
// metadata's iat and exp are the exchange's times, which ferry reads by
// its own clock. clockHint's words are for a server reading ferry's times.
func metadataClockHint(h http.Header, now time.Time) string {
	skew, where, ok := clockOff(h, now)
	if !ok {
		return ""
	}
	return fmt.Sprintf("; ferry's clock is %s %s the exchange's (its Date header), and reads the metadata's iat and exp by its own: set this computer's clock right (NTP; on Windows the Windows Time service)",
		skew, where)
}

// discoverUDAP reads {base}/.well-known/udap and verifies its
// signed_metadata: the x5c chain leads to one of anchors, the JWT is signed
// by the chain's leaf (whose key usage, if stated, allows signatures), and
// it is the exchange's own (iss = sub = the FHIR base, a URI of the
// signer's certificate), current, and names https endpoints that agree
// with the unsigned ones; last, the chain's certificates are checked
// with their OCSP responders and CRLs (rev, nil when revocation is off). Any failure is an
// *EndpointError: nothing ferry could send is safe to send to an exchange
// it cannot authenticate, and the operator must look.
func discoverUDAP(ctx context.Context, client *http.Client, issuer, community string, alg jose.SignatureAlgorithm, anchors *x509.CertPool, rev *revocationChecker, register bool) (*udapMetadata, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/udap"
	if community != "" {
		u += "?community=" + url.QueryEscape(community)
	}
	fail := func(format string, a ...any) error {
		p := fmt.Sprintf(format, a...)
		return &EndpointError{Problem: "UDAP metadata at " + u + ": " + p, Err: errors.New("UDAP discovery refused")}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("UDAP discovery %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch {
	case serverBusy(resp.StatusCode):
		// A Retry-After date is on the server's clock (answerTime).
		return nil, &StatusError{Code: resp.StatusCode, Status: statusText(resp.StatusCode, resp.Status), Entry: -1,
			Wait: parseRetryAfter(resp.Header.Get("Retry-After"), answerTime(resp)), Server: "UDAP metadata " + u}
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusNoContent:
		return nil, fail("answered %s: the exchange does not offer UDAP here; check exchange.url (and exchange.auth.udap.community)", resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fail("answered %s", resp.Status)
	}
	var doc struct {
		Versions             []string `json:"udap_versions_supported"`
		Profiles             []string `json:"udap_profiles_supported"`
		GrantTypes           []string `json:"grant_types_supported"`
		CertsRequired        []string `json:"udap_certifications_required"`
		TokenEndpoint        string   `json:"token_endpoint"`
		RegistrationEndpoint string   `json:"registration_endpoint"`
		TokenAlgs            []string `json:"token_endpoint_auth_signing_alg_values_supported"`
		RegistrationAlgs     []string `json:"registration_endpoint_jwt_signing_alg_values_supported"`
		SignedMetadata       string   `json:"signed_metadata"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, fail("not JSON: %v", err)
	}
	// What the server says it supports is checked first, so that a
	// mismatch reads as what it is rather than as a refused request.
	// Lists it leaves out say nothing.
	switch {
	case len(doc.Versions) > 0 && !slices.Contains(doc.Versions, "1"):
		return nil, fail("udap_versions_supported %v lacks \"1\", the version ferry speaks", doc.Versions)
	case len(doc.GrantTypes) > 0 && !slices.Contains(doc.GrantTypes, "client_credentials"):
		return nil, fail("grant_types_supported %v lacks client_credentials, the B2B grant ferry uses", doc.GrantTypes)
	case len(doc.TokenAlgs) > 0 && !slices.Contains(doc.TokenAlgs, string(alg)):
		return nil, fail("the token endpoint takes JWTs signed with %v, not %s (the key in exchange.auth.udap.key_file)", doc.TokenAlgs, alg)
	case register && len(doc.RegistrationAlgs) > 0 && !slices.Contains(doc.RegistrationAlgs, string(alg)):
		return nil, fail("the registration endpoint takes JWTs signed with %v, not %s (the key in exchange.auth.udap.key_file)", doc.RegistrationAlgs, alg)
	case register && len(doc.Profiles) > 0 && !slices.Contains(doc.Profiles, "udap_dcr"):
		return nil, fail("udap_profiles_supported %v lacks udap_dcr: the exchange does not register clients dynamically; set exchange.auth.udap.client_id to the id it assigned", doc.Profiles)
	case register && len(doc.CertsRequired) > 0:
		return nil, fail("registration requires certifications %v, which ferry does not send", doc.CertsRequired)
	case doc.SignedMetadata == "":
		return nil, fail("no signed_metadata; UDAP requires it, and ferry trusts no endpoint the exchange has not signed")
	}

	tok, err := jwt.ParseSigned(doc.SignedMetadata, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.ES256, jose.ES384})
	if err != nil {
		return nil, fail("signed_metadata is not a JWT signed with RS256, RS384, ES256 or ES384: %v", err)
	}
	chains, err := tok.Headers[0].Certificates(x509.VerifyOptions{Roots: anchors, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if errors.Is(err, jose.ErrMissingX5cHeader) {
		return nil, fail("signed_metadata has no x5c header, so nothing says who signed it")
	}
	if err != nil {
		return nil, fail("the certificate that signed it is not trusted: %v; check exchange.auth.udap.trust_anchors holds the trust community's CA", err)
	}
	signer := chains[0][0]
	// x509.Verify with ExtKeyUsageAny checks no key usage; a certificate
	// whose CA restricted it to other uses (key encipherment, say) must
	// not vouch for a signature.
	if signer.KeyUsage != 0 && signer.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fail("the signing certificate %q does not allow digital signatures (its key usage lacks digitalSignature)", certName(signer))
	}
	var claims struct {
		jwt.Claims
		TokenEndpoint        string `json:"token_endpoint"`
		RegistrationEndpoint string `json:"registration_endpoint"`
	}
	if err := tok.Claims(signer.PublicKey, &claims); err != nil {
		return nil, fail("the signature of signed_metadata does not verify with its certificate %q: %v", signer.Subject.CommonName, err)
	}
	now := time.Now()
	switch {
	case strings.TrimSuffix(claims.Issuer, "/") != strings.TrimSuffix(issuer, "/"):
		return nil, fail("signed_metadata was issued by %q, not by this FHIR base %q; UDAP requires them to be equal (set exchange.url exactly to the exchange's base, or the exchange is not who it claims)", claims.Issuer, issuer)
	case claims.Subject != claims.Issuer:
		return nil, fail("signed_metadata's sub %q is not its iss %q", claims.Subject, claims.Issuer)
	case !slices.ContainsFunc(signer.URIs, func(u *url.URL) bool { return u.String() == claims.Issuer }):
		return nil, fail("the signing certificate %q does not name %q among its URI subject alternative names", signer.Subject.CommonName, claims.Issuer)
	case claims.Expiry == nil:
		return nil, fail("signed_metadata has no exp")
	case !now.Before(claims.Expiry.Time().Add(metadataSkew)):
		return nil, fail("signed_metadata has expired (exp %s)%s", claims.Expiry.Time().UTC().Format(time.RFC3339), metadataClockHint(resp.Header, now))
	case claims.IssuedAt == nil || claims.IssuedAt.Time().After(now.Add(metadataSkew)):
		iat := "none"
		if claims.IssuedAt != nil {
			iat = claims.IssuedAt.Time().UTC().Format(time.RFC3339)
		}
		return nil, fail("signed_metadata's iat (%s) lies in the future; check the clocks%s", iat, metadataClockHint(resp.Header, now))
	}
	for _, e := range []struct{ name, signed, plain string }{
		{"token_endpoint", claims.TokenEndpoint, doc.TokenEndpoint},
		{"registration_endpoint", claims.RegistrationEndpoint, doc.RegistrationEndpoint},
	} {
		if e.signed == "" {
			if e.name == "registration_endpoint" && !register {
				continue
			}
			return nil, fail("signed_metadata names no %s", e.name)
		}
		if pu, err := url.Parse(e.signed); err != nil || pu.Scheme != "https" || pu.Host == "" {
			return nil, fail("%s %q is not an https URL; the client assertion and the access token must not travel in clear", e.name, e.signed)
		}
		if e.plain != "" && e.plain != e.signed {
			return nil, fail("the signed %s %q differs from the unsigned %q", e.name, e.signed, e.plain)
		}
	}
	// Last, since it goes to the network: metadata refused for what it
	// says is refused without waiting for a responder or a CRL.
	problem, warnings := rev.check(ctx, chains[0])
	if problem != "" {
		return nil, fail("%s", problem)
	}
	return &udapMetadata{TokenEndpoint: claims.TokenEndpoint, RegistrationEndpoint: claims.RegistrationEndpoint, Signer: signer,
		Expires: claims.Expiry.Time(), Warnings: warnings}, nil
}

// udapRegistration is what <data_dir>/udap/client.json holds: the client
// id and what it was registered for. A registration for anything else (a
// new certificate URI, exchange, scope, name or contacts) is made anew,
// which the IG treats as a change of the same client's registration.
type udapRegistration struct {
	ClientID             string    `json:"client_id"`
	FHIRBase             string    `json:"fhir_base"`
	RegistrationEndpoint string    `json:"registration_endpoint"`
	Issuer               string    `json:"iss"`
	Scope                string    `json:"scope"`
	ClientName           string    `json:"client_name"`
	Contacts             []string  `json:"contacts"`
	Registered           time.Time `json:"registered"`
}

func (r udapRegistration) sameAs(o udapRegistration) bool {
	return r.FHIRBase == o.FHIRBase && r.RegistrationEndpoint == o.RegistrationEndpoint && r.Issuer == o.Issuer &&
		r.Scope == o.Scope && r.ClientName == o.ClientName && slices.Equal(r.Contacts, o.Contacts)
}

// loadRegistration returns the stored client id if the file holds a
// registration for want; "" when there is none or it is for something
// else.
func loadRegistration(path string, want udapRegistration) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var r udapRegistration
	if err := json.Unmarshal(b, &r); err != nil || r.ClientID == "" {
		return "", nil // damaged: register again, which replaces it
	}
	if !r.sameAs(want) {
		return "", nil
	}
	return r.ClientID, nil
}

func storeRegistration(path string, r udapRegistration) error {
	if path == "" {
		return nil
	}
	// Synced into data_dir, which durable.WriteFile does not do: a
	// folder lost to a power cut loses the client id with it.
	if err := durable.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(path, append(b, '\n'), 0o600)
}

// udapTokens gets UDAP B2B access tokens; its tokenCache keeps them.
type udapTokens struct {
	tokenCache
	cfg     UDAPConfig
	issuer  string // exchange.url as configured: the signed metadata's iss
	client  *http.Client
	id      *UDAPClient
	anchors *x509.CertPool
	rev     *revocationChecker // nil when revocation is off
	regFile string
	log     *slog.Logger

	// Filled lazily by the one fetch in flight (see tokenCache).
	meta     *udapMetadata
	clientID string
	stale    bool // meta is to be read again: its token endpoint failed
	// files is what cert_file, key_file and trust_anchors held when id
	// and anchors were loaded from them; tried, what they held at the
	// last reload that failed (warned of once).
	files, tried []byte
}

func newUDAPTokens(cfg UDAPConfig, issuer string, client *http.Client, regFile string, log *slog.Logger) (*udapTokens, error) {
	id, err := LoadUDAPClient(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("udap: %w", err)
	}
	anchors, err := readCertificates(cfg.TrustAnchors)
	if err != nil {
		return nil, fmt.Errorf("udap trust_anchors: %w", err)
	}
	pool := x509.NewCertPool()
	for _, a := range anchors {
		pool.AddCert(a)
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultSMARTScope
	}
	if cfg.ClientName == "" {
		cfg.ClientName = DefaultUDAPClientName
	}
	if len(cfg.PurposeOfUse) == 0 {
		cfg.PurposeOfUse = []string{DefaultUDAPPurposeOfUse}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &udapTokens{cfg: cfg, issuer: issuer, client: client, id: id, anchors: pool, rev: newRevocationChecker(cfg.Revocation, client),
		regFile: regFile, log: log, clientID: cfg.ClientID, files: udapFiles(cfg)}
	t.tokenCache.fetch = t.obtain
	return t, nil
}

// udapFiles is the content of cert_file, key_file and trust_anchors, to
// tell whether one changed; nil when one cannot be read.
func udapFiles(cfg UDAPConfig) []byte {
	var all []byte
	for _, f := range []string{cfg.CertFile, cfg.KeyFile, cfg.TrustAnchors} {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil
		}
		all = fmt.Appendf(all, "%d:", len(b))
		all = append(all, b...)
	}
	return all
}

// reload loads the certificate, key and trust anchors again when their
// files changed, so that a certificate renewed on disk signs the next
// registration and token request without a restart, as a renewed TLS
// certificate is used from the next handshake. Files that cannot be used
// as they are (the certificate copied but not yet its key) leave the
// loaded ones in use, with a warning, and are tried again at the next
// fetch.
func (t *udapTokens) reload() {
	now := udapFiles(t.cfg)
	if now == nil || bytes.Equal(now, t.files) {
		return
	}
	id, err := LoadUDAPClient(t.cfg.CertFile, t.cfg.KeyFile)
	var anchors []*x509.Certificate
	if err == nil {
		anchors, err = readCertificates(t.cfg.TrustAnchors)
	}
	if err != nil {
		if !bytes.Equal(now, t.tried) {
			t.log.Warn("UDAP certificate, key or trust anchors changed but cannot be used; the ones loaded before stay in use", "error", err)
			t.tried = now
		}
		return
	}
	pool := x509.NewCertPool()
	for _, a := range anchors {
		pool.AddCert(a)
	}
	if id.URI != t.id.URI || id.Alg != t.id.Alg {
		// Another client to the exchange, or a key its metadata may
		// not take: read the metadata and the registration again.
		t.meta = nil
	}
	t.id, t.anchors, t.files, t.tried = id, pool, now, nil
	t.log.Info("UDAP certificate, key or trust anchors read again", "certificate", certName(id.Chain[0]), "until", id.Chain[0].NotAfter.UTC().Format(time.DateOnly))
}

// obtain discovers the endpoints and registers when that has not been
// done, then asks for a token. A failed token request has the metadata
// read again at the next attempt: the exchange may have moved its token
// endpoint, and the old one refuses, cannot be reached or answers 5xx
// (its host taken down, nothing left behind its load balancer). A
// refusal also forgets the client id, so that the registration is read
// again (`ferry udap-register` may have made a new one). Only a request
// its own sender gave up on (the context ended) says nothing.
func (t *udapTokens) obtain(ctx context.Context) (string, time.Duration, error) {
	t.reload()
	if err := t.prepare(ctx, true); err != nil {
		return "", 0, err
	}
	tok, life, _, err := t.request(ctx)
	if err != nil && ctx.Err() == nil {
		var ee *EndpointError
		if errors.As(err, &ee) {
			t.meta = nil
		} else {
			t.stale = true
		}
	}
	return tok, life, err
}

// prepare discovers the metadata if needed and finds the client id: the
// configured one, the stored one, or (when register) a new registration.
func (t *udapTokens) prepare(ctx context.Context, register bool) error {
	if t.meta == nil || t.stale || !time.Now().Before(t.meta.Expires) {
		m, err := discoverUDAP(ctx, t.client, t.issuer, t.cfg.Community, t.id.Alg, t.anchors, t.rev, t.cfg.ClientID == "")
		if err != nil {
			return err
		}
		logRevocationWarnings(t.log, m.Warnings)
		if t.cfg.ClientID == "" && (t.meta == nil || !t.stale || m.RegistrationEndpoint != t.meta.RegistrationEndpoint) {
			// The registration endpoint may be another now. Metadata
			// read again only because the token endpoint failed keeps
			// the client id of the same registration endpoint: one
			// registered but not stored (see below) is not registered
			// again at each attempt while the token endpoint is down.
			t.clientID = ""
		}
		t.meta, t.stale = m, false
	}
	if t.clientID != "" {
		return nil
	}
	want := t.registration()
	id, err := loadRegistration(t.regFile, want)
	if err != nil {
		return &EndpointError{Problem: fmt.Sprintf("the UDAP registration in %s cannot be read; check its owner and mode (the service account's, 0600), or remove it to register again", t.regFile), Err: err}
	}
	if id == "" && register {
		if id, err = t.register(ctx); err != nil {
			return err
		}
		// Kept before it is stored: a registration the exchange made
		// stands, and registering again at every attempt because the
		// file cannot be written would flood the exchange with them.
		t.clientID = id
		want.ClientID, want.Registered = id, time.Now().UTC()
		if err := storeRegistration(t.regFile, want); err != nil {
			// Reported once, as an operator problem; deliveries go on
			// with the client id in memory, and a restart registers
			// again, which the IG treats as an update.
			return &EndpointError{Problem: fmt.Sprintf("registered with the exchange as %q but could not store that in %s; fix the data folder's owner or space, or set exchange.auth.udap.client_id", id, t.regFile), Err: err}
		}
	}
	t.clientID = id
	return nil
}

// registration is the record of a registration for the current settings.
func (t *udapTokens) registration() udapRegistration {
	return udapRegistration{FHIRBase: t.issuer, RegistrationEndpoint: t.meta.RegistrationEndpoint, Issuer: t.id.URI,
		Scope: t.cfg.Scope, ClientName: t.cfg.ClientName, Contacts: t.cfg.Contacts}
}

// softwareStatement is the UDAP registration JWT (UDAP Security IG
// §3.1) for a client_credentials client.
type softwareStatement struct {
	jwt.Claims
	ClientName      string   `json:"client_name"`
	Contacts        []string `json:"contacts,omitempty"`
	GrantTypes      []string `json:"grant_types"`
	TokenAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope           string   `json:"scope"`
}

// register posts a software statement to the registration endpoint and
// returns the client id assigned.
func (t *udapTokens) register(ctx context.Context) (string, error) {
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	now := time.Now().Truncate(time.Second)
	ss, err := t.id.sign(softwareStatement{
		Claims: jwt.Claims{
			Issuer:   t.id.URI,
			Subject:  t.id.URI,
			Audience: jwt.Audience{t.meta.RegistrationEndpoint},
			IssuedAt: jwt.NewNumericDate(now),
			Expiry:   jwt.NewNumericDate(now.Add(5 * time.Minute)), // the IG's most
			ID:       jti,
		},
		ClientName:      t.cfg.ClientName,
		Contacts:        t.cfg.Contacts,
		GrantTypes:      []string{"client_credentials"},
		TokenAuthMethod: "private_key_jwt",
		Scope:           t.cfg.Scope,
	})
	if err != nil {
		return "", fmt.Errorf("sign UDAP software statement: %w", err)
	}
	body, _ := json.Marshal(map[string]string{"software_statement": ss, "udap": "1"})
	u := t.meta.RegistrationEndpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("UDAP registration at %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ans struct {
		ClientID   string    `json:"client_id"`
		GrantTypes *[]string `json:"grant_types"`
	}
	_ = json.Unmarshal(b, &ans)
	switch {
	case serverBusy(resp.StatusCode):
		// A Retry-After date is on the server's clock (answerTime).
		return "", &StatusError{Code: resp.StatusCode, Status: statusText(resp.StatusCode, resp.Status), Entry: -1,
			Wait: parseRetryAfter(resp.Header.Get("Retry-After"), answerTime(resp)), Server: "UDAP registration endpoint " + u}
	case resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest && !isOAuthError(b):
		// RFC 7591 §3.2.2: a registration endpoint refuses with 400
		// and an "error" code, as a token endpoint does.
		return "", &EndpointError{Problem: notOAuthEndpoint("UDAP", "registration", u, "the registration_endpoint the exchange's signed UDAP metadata names (the exchange's to fix)", resp),
			Err: errors.New("UDAP registration: " + resp.Status)}
	case resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK:
		return "", &EndpointError{Problem: fmt.Sprintf("the UDAP registration endpoint %s refused ferry's software statement for %s (%s); check exchange.auth.udap cert_file (a certificate the trust community issued), scope and contacts", u, t.id.URI, oauthError(b, resp.Status)) +
			clockHint(resp.Header, time.Now(), "the UDAP registration endpoint", "software statement"),
			Err: errors.New("UDAP registration: " + resp.Status)}
	case ans.ClientID == "":
		return "", &EndpointError{Problem: fmt.Sprintf("the UDAP registration endpoint %s answered %s without a client_id", u, resp.Status), Err: errors.New("no client_id")}
	case ans.GrantTypes != nil && len(*ans.GrantTypes) == 0:
		// The IG: an empty grant_types confirms a cancelled registration.
		return "", &EndpointError{Problem: fmt.Sprintf("the UDAP registration endpoint %s answered that the registration of %s is cancelled (empty grant_types)", u, t.id.URI), Err: errors.New("registration cancelled")}
	}
	return ans.ClientID, nil
}

// b2bExtension is the hl7-b2b Authorization Extension Object (UDAP
// Security IG §5.2.1.1) for an automated client: no subject, since no
// person asks; ferry sends for its organization.
type b2bExtension struct {
	Version          string   `json:"version"`
	OrganizationName string   `json:"organization_name,omitempty"`
	OrganizationID   string   `json:"organization_id"`
	PurposeOfUse     []string `json:"purpose_of_use"`
}

type authenticationToken struct {
	jwt.Claims
	Extensions map[string]any `json:"extensions"`
}

// assertion signs the Authentication Token JWT (UDAP Security IG §5.3).
func (t *udapTokens) assertion() (string, error) {
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	now := time.Now().Truncate(time.Second)
	return t.id.sign(authenticationToken{
		Claims: jwt.Claims{
			Issuer:   t.clientID,
			Subject:  t.clientID,
			Audience: jwt.Audience{t.meta.TokenEndpoint},
			IssuedAt: jwt.NewNumericDate(now),
			Expiry:   jwt.NewNumericDate(now.Add(assertionLife)),
			ID:       jti,
		},
		Extensions: map[string]any{"hl7-b2b": b2bExtension{
			Version:          "1",
			OrganizationName: t.cfg.OrganizationName,
			OrganizationID:   t.cfg.OrganizationID,
			PurposeOfUse:     t.cfg.PurposeOfUse,
		}},
	})
}

// request asks the token endpoint for an access token; scope is the
// scope granted.
func (t *udapTokens) request(ctx context.Context) (token string, life time.Duration, scope string, err error) {
	a, err := t.assertion()
	if err != nil {
		return "", 0, "", fmt.Errorf("sign UDAP authentication token: %w", err)
	}
	check := "check exchange.auth.udap (organization_id, purpose_of_use, scope) and the registration"
	if t.cfg.ClientID == "" && t.regFile != "" {
		check += fmt.Sprintf("; to register anew, remove %s", t.regFile)
	}
	return requestToken(ctx, t.client, tokenRequest{
		what: "UDAP",
		url:  t.meta.TokenEndpoint,
		form: url.Values{
			"grant_type":            {"client_credentials"},
			"scope":                 {t.cfg.Scope},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {a},
			"udap":                  {"1"},
		},
		field:  "exchange.auth.udap",
		check:  check,
		source: "the token_endpoint the exchange's signed UDAP metadata names (the exchange's to fix)",
	})
}

// UDAPCheck is what `ferry doctor` reports of UDAP.
type UDAPCheck struct {
	Signer        string // subject of the certificate that signed the metadata
	TokenEndpoint string
	ClientID      string        // "" when ferry has not registered yet
	Scope         string        // granted; the configured one until a token is
	Life          time.Duration // of the token granted
	// Warnings say what soft-fail revocation checking accepted
	// unchecked.
	Warnings []string
}

// CheckUDAP verifies the exchange's signed metadata and, when ferry has a
// client id (configured or stored in regFile), gets one access token. It
// does not register: registering is the gateway's (or `ferry
// udap-register`'s) to do, since a registration can replace another.
// The token is tried at the FHIR server at base, as CheckSMART does.
func CheckUDAP(ctx context.Context, cfg UDAPConfig, base string, client *http.Client, regFile string) (UDAPCheck, error) {
	t, err := newUDAPTokens(cfg, base, client, regFile, nil)
	if err != nil {
		return UDAPCheck{}, err
	}
	if err := t.prepare(ctx, false); err != nil {
		return UDAPCheck{}, err
	}
	c := UDAPCheck{Signer: t.meta.Signer.Subject.String(), TokenEndpoint: t.meta.TokenEndpoint, ClientID: t.clientID, Scope: t.cfg.Scope,
		Warnings: t.meta.Warnings}
	if t.clientID == "" {
		return c, nil
	}
	var tok string
	if tok, c.Life, c.Scope, err = t.request(ctx); err != nil {
		return c, err
	}
	return c, tryToken(ctx, client, base, tok)
}

// RegisterUDAP registers ferry with the exchange now, replacing any
// registration regFile holds, and stores the client id there, for `ferry
// udap-register`. What soft-fail revocation checking accepted unchecked
// is logged to log (nil discards).
func RegisterUDAP(ctx context.Context, cfg UDAPConfig, base string, client *http.Client, regFile string, log *slog.Logger) (string, error) {
	if cfg.ClientID != "" {
		return "", errors.New("exchange.auth.udap.client_id is set: ferry uses that client id and does not register")
	}
	t, err := newUDAPTokens(cfg, base, client, regFile, log)
	if err != nil {
		return "", err
	}
	if t.meta, err = discoverUDAP(ctx, client, base, cfg.Community, t.id.Alg, t.anchors, t.rev, true); err != nil {
		return "", err
	}
	logRevocationWarnings(t.log, t.meta.Warnings)
	id, err := t.register(ctx)
	if err != nil {
		return "", err
	}
	r := t.registration()
	r.ClientID, r.Registered = id, time.Now().UTC()
	return id, storeRegistration(regFile, r)
}
