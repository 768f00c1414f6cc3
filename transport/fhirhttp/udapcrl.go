package fhirhttp

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Revocation policies for UDAPConfig.Revocation: what ferry does when it
// cannot learn whether a certificate of the metadata signer's chain is
// revoked. A certificate an authentic OCSP response or a current,
// authentic CRL says is revoked is refused under strict and soft-fail
// alike.
const (
	// RevocationStrict refuses the metadata (an endpoint problem: the
	// bundles wait) while neither the certificate's OCSP responder nor
	// its CRL gives an answer that verifies and is current. The
	// default: see UDAPConfig.Revocation.
	RevocationStrict = "strict"
	// RevocationSoftFail accepts the metadata then, with a warning in
	// the log and in `ferry doctor`.
	RevocationSoftFail = "soft-fail"
	// RevocationOff asks no OCSP responder and reads no CRL.
	RevocationOff = "off"
)

const (
	// crlTimeout bounds one CRL download: a CRL server that does not
	// answer must not hold the delivery (and the token lock) for long.
	crlTimeout = 10 * time.Second
	// maxCRLBytes bounds one CRL download; a community CA's CRL is far
	// smaller, so anything beyond is not a CRL ferry should parse.
	maxCRLBytes = 10 << 20
	// maxCRLAge is the longest a CRL is kept before it is read again,
	// even when its nextUpdate lies further ahead: a CA may publish a
	// new CRL early, after revoking a certificate.
	maxCRLAge = 24 * time.Hour
	// maxCachedCRLs bounds the cache. A metadata chain has two or three
	// certificates, each naming a CRL or two, so this holds them all
	// while keeping an exchange that changes CRL URLs from growing it.
	maxCachedCRLs = 16
)

// newRevocationClient returns the client that fetches CRLs and asks OCSP
// responders: not the exchange's client, whose TLS settings (ferry's
// client certificate, the exchange's CA) are for the exchange, but one
// that goes out through the same proxy (the exchange's transport's Proxy,
// set from the proxy section), since a clinic's firewall that lets the
// exchange's traffic out only through a proxy does the same to CRLs.
// CRLs and OCSP responses are signed, so they are usually served over
// plain http; an https one is checked against the system's roots. The
// exchange transport's DialContext comes along with its Proxy: an
// https:// proxy's own TLS connection is made there (configproxy.Apply).
func newRevocationClient(exchange *http.Client) *http.Client {
	var from *http.Transport
	if exchange != nil {
		from, _ = exchange.Transport.(*http.Transport)
		if bh, ok := exchange.Transport.(*byHost); ok {
			from = bh.same
		}
		if exchange.Transport == nil {
			from, _ = http.DefaultTransport.(*http.Transport)
		}
	}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 1, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: crlTimeout, ForceAttemptHTTP2: true}
	if from != nil {
		tr.Proxy, tr.DialContext, tr.OnProxyConnectResponse = from.Proxy, from.DialContext, from.OnProxyConnectResponse
	}
	return &http.Client{Timeout: crlTimeout, Transport: tr}
}

// revocationChecker checks the certificates of a verified chain against
// the OCSP responders their Authority Information Access extension names
// (RFC 6960) and the CRLs their CRL Distribution Points extension names
// (RFC 5280 §6.3), as the UDAP Security IG requires of a JWT consumer
// ("verifying that the certificates in the chain have not expired or
// been revoked"; it SHALL support both). A certificate that names
// neither is not checked.
type revocationChecker struct {
	policy string
	client *http.Client
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cachedCRL  // by URL
	ocsp  map[string]cachedOCSP // by issuer and serial: see ocspKey
}

type cachedCRL struct {
	crl   *x509.RevocationList
	until time.Time
}

// newRevocationChecker returns the checker for policy ("" is strict), nil
// for off. Its requests take the proxy of exchange (see
// newRevocationClient).
func newRevocationChecker(policy string, exchange *http.Client) *revocationChecker {
	if policy == "" {
		policy = RevocationStrict
	}
	if policy == RevocationOff {
		return nil
	}
	return &revocationChecker{policy: policy, client: newRevocationClient(exchange), now: time.Now,
		cache: map[string]cachedCRL{}, ocsp: map[string]cachedOCSP{}}
}

// check checks every certificate of chain (leaf first, the trust anchor
// last) but the anchor, which ferry trusts by configuration: its OCSP
// responder first, when it names one, then its CRL. It returns a problem
// when the metadata must be refused: either source says a certificate
// is revoked or, under strict, neither can say it is not; under
// soft-fail the latter are returned as warnings instead. One source's
// authentic, current answer suffices: an OCSP "good" when the CRL cannot
// be read, or a current CRL when the responder does not answer.
func (c *revocationChecker) check(ctx context.Context, chain []*x509.Certificate) (problem string, warnings []string) {
	if c == nil {
		return "", nil
	}
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		if len(cert.OCSPServer) == 0 && len(cert.CRLDistributionPoints) == 0 {
			continue
		}
		var (
			errs    []string
			learned bool
		)
		if len(cert.OCSPServer) > 0 {
			resp, src, err := c.ocspFor(ctx, cert, issuer)
			switch {
			case err != nil:
				errs = append(errs, err.Error())
			case resp.Status == ocsp.Revoked:
				return revokedProblem(cert, resp.RevokedAt, resp.RevocationReason, "the OCSP responder at "+src), nil
			default:
				learned = true
			}
		}
		if len(cert.CRLDistributionPoints) > 0 {
			crl, src, err := c.crlFor(ctx, cert, issuer)
			if crl != nil {
				// Even a stale CRL proves a revocation: a revoked
				// certificate is never reinstated (save from hold, which
				// ferry treats as revoked too).
				for _, e := range crl.RevokedCertificateEntries {
					if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
						return revokedProblem(cert, e.RevocationTime, e.ReasonCode, "the CRL at "+src), nil
					}
				}
			}
			if err != nil {
				errs = append(errs, err.Error())
			} else {
				learned = true
			}
		}
		if learned {
			continue
		}
		why := fmt.Sprintf("cannot tell whether certificate %q of the metadata signer's chain is revoked: %s", certName(cert), strings.Join(errs, "; "))
		if c.policy == RevocationStrict {
			return why + "; exchange.auth.udap.revocation is strict, so ferry waits until a current, authentic OCSP response or CRL can be had (revocation: soft-fail proceeds without one, with a warning)", nil
		}
		warnings = append(warnings, why+"; accepted without a revocation check (exchange.auth.udap.revocation: soft-fail)")
	}
	return "", warnings
}

// revokedProblem is the refusal of a revoked certificate, naming the
// source that said so.
func revokedProblem(cert *x509.Certificate, at time.Time, reason int, source string) string {
	return fmt.Sprintf("certificate %q (serial %s) of the metadata signer's chain was revoked on %s%s, says %s; the exchange must sign its metadata with a current certificate",
		certName(cert), cert.SerialNumber.Text(16), at.UTC().Format(time.RFC3339), reasonText(reason), source)
}

// crlFor returns a current, authentic CRL for cert and the URL it came
// from, trying each http(s) distribution point in turn. When none gives
// one, it returns the error, and with it an authentic but stale CRL if
// one was read, which still proves a revocation.
func (c *revocationChecker) crlFor(ctx context.Context, cert, issuer *x509.Certificate) (*x509.RevocationList, string, error) {
	var (
		errs       []error
		stale      *x509.RevocationList
		staleURL   string
		candidates int
	)
	now := c.now()
	for _, u := range cert.CRLDistributionPoints {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			continue
		}
		candidates++
		if crl := c.cached(u, now); crl != nil && verifyCRL(crl, cert, issuer, now) == nil {
			return crl, u, nil
		}
		crl, err := c.fetch(ctx, u)
		if err == nil {
			err = verifyCRL(crl, cert, issuer, now)
		}
		if err == nil {
			c.store(u, crl, now)
			return crl, u, nil
		}
		if errors.Is(err, errStale) && stale == nil {
			stale, staleURL = crl, u
		}
		errs = append(errs, fmt.Errorf("CRL %s: %w", u, err))
	}
	if candidates == 0 {
		return nil, "", fmt.Errorf("it names no http or https CRL (%v), and ferry reads no other", cert.CRLDistributionPoints)
	}
	return stale, staleURL, errors.Join(errs...)
}

func (c *revocationChecker) cached(u string, now time.Time) *x509.RevocationList {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cache[u]; ok && now.Before(e.until) {
		return e.crl
	}
	return nil
}

// store keeps crl until its nextUpdate, at most maxCRLAge; when the
// cache is full, expired entries go first, then the one that would
// expire soonest.
func (c *revocationChecker) store(u string, crl *x509.RevocationList, now time.Time) {
	until := now.Add(maxCRLAge)
	if !crl.NextUpdate.IsZero() && crl.NextUpdate.Before(until) {
		until = crl.NextUpdate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	makeRoom(c.cache, u, maxCachedCRLs, now, func(e cachedCRL) time.Time { return e.until })
	c.cache[u] = cachedCRL{crl: crl, until: until}
}

// makeRoom readies cache, a map of at most limit entries, for key: when
// key is new and the map full, expired entries go first (until at or
// before now), then the one that would expire soonest.
func makeRoom[V any](cache map[string]V, key string, limit int, now time.Time, until func(V) time.Time) {
	if _, ok := cache[key]; ok || len(cache) < limit {
		return
	}
	for k, e := range cache {
		if !now.Before(until(e)) {
			delete(cache, k)
		}
	}
	for len(cache) >= limit {
		var first string
		for k, e := range cache {
			if first == "" || until(e).Before(until(cache[first])) {
				first = k
			}
		}
		delete(cache, first)
	}
}

// fetch downloads and parses one CRL: DER as RFC 5280 §4.2.1.13 asks,
// or PEM, which some servers hand out.
func (c *revocationChecker) fetch(ctx context.Context, u string) (*x509.RevocationList, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	b, err := c.exchange(ctx, req, maxCRLBytes)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil && blk.Type == "X509 CRL" {
		b = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("not a CRL: %w", err)
	}
	return crl, nil
}

// errStale marks an authentic CRL or OCSP response that is no longer
// current: it says nothing of revocations since.
var errStale = errors.New("stale")

var (
	oidDeltaCRLIndicator        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
)

// verifyCRL checks that crl may say whether cert is revoked: its issuer
// issued cert and signed it, it is a complete CRL whose scope covers
// cert, and it is current at now (errStale when it is not).
func verifyCRL(crl *x509.RevocationList, cert, issuer *x509.Certificate, now time.Time) error {
	// Indirect CRLs, signed by another than the certificate's issuer,
	// are not supported: so the CRL's issuer must be cert's.
	if !bytes.Equal(crl.RawIssuer, cert.RawIssuer) {
		return fmt.Errorf("issued by %q, not by the certificate's issuer %q", crl.Issuer, cert.Issuer)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("its signature does not verify with the issuing certificate %q: %w", certName(issuer), err)
	}
	for _, ext := range crl.Extensions {
		switch {
		case ext.Id.Equal(oidDeltaCRLIndicator):
			return errors.New("a delta CRL, which lists only changes")
		case ext.Id.Equal(oidIssuingDistributionPoint):
			if err := checkIDPScope(ext.Value, cert); err != nil {
				return err
			}
		case ext.Critical:
			// RFC 5280 §5.2: a CRL with a critical extension the reader
			// does not know must not be used to decide a status.
			return fmt.Errorf("carries critical extension %v, which ferry does not know", ext.Id)
		}
	}
	if crl.ThisUpdate.After(now.Add(metadataSkew)) {
		return fmt.Errorf("its thisUpdate %s lies in the future; check the clocks", crl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !crl.NextUpdate.IsZero() && !now.Before(crl.NextUpdate) {
		return fmt.Errorf("%w: its nextUpdate %s has passed, so it says nothing of revocations since", errStale, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	return nil
}

// issuingDistributionPoint is the CRL extension of RFC 5280 §5.2.5,
// which narrows what a CRL covers.
type issuingDistributionPoint struct {
	DistributionPoint          asn1.RawValue  `asn1:"optional,tag:0"`
	OnlyContainsUserCerts      bool           `asn1:"optional,tag:1"`
	OnlyContainsCACerts        bool           `asn1:"optional,tag:2"`
	OnlySomeReasons            asn1.BitString `asn1:"optional,tag:3"`
	IndirectCRL                bool           `asn1:"optional,tag:4"`
	OnlyContainsAttributeCerts bool           `asn1:"optional,tag:5"`
}

// checkIDPScope refuses a CRL whose Issuing Distribution Point says it
// does not list every revocation of cert: one for the other kind of
// certificate, for some reasons only, or an indirect one. Its
// distribution point name is not compared: ferry fetched the CRL from a
// URL cert itself names.
func checkIDPScope(der []byte, cert *x509.Certificate) error {
	var idp issuingDistributionPoint
	if rest, err := asn1.Unmarshal(der, &idp); err != nil || len(rest) > 0 {
		return errors.New("its issuing distribution point extension cannot be read")
	}
	switch {
	case idp.OnlyContainsUserCerts && cert.IsCA:
		return errors.New("it lists end-entity certificates only, and this is a CA certificate")
	case idp.OnlyContainsCACerts && !cert.IsCA:
		return errors.New("it lists CA certificates only, and this is an end-entity certificate")
	case idp.OnlyContainsAttributeCerts:
		return errors.New("it lists attribute certificates only")
	case idp.OnlySomeReasons.BitLength > 0:
		return errors.New("it lists revocations for some reasons only")
	case idp.IndirectCRL:
		return errors.New("an indirect CRL, which ferry does not support")
	}
	return nil
}

// certName names a certificate in messages: its common name, else its
// whole subject.
func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

// reasonText is the CRL reason code (RFC 5280 §5.3.1) in words, for
// messages; "" when there is none.
func reasonText(code int) string {
	reasons := map[int]string{1: "key compromise", 2: "CA compromise", 3: "affiliation changed", 4: "superseded",
		5: "cessation of operation", 6: "certificate hold", 9: "privilege withdrawn", 10: "AA compromise"}
	if r, ok := reasons[code]; ok {
		return " (" + r + ")"
	}
	return ""
}

// logRevocationWarnings reports what soft-fail accepted unchecked.
func logRevocationWarnings(log *slog.Logger, warnings []string) {
	for _, w := range warnings {
		log.Warn("UDAP metadata signer's revocation status unknown", "problem", w)
	}
}

// exchange sends a revocation request (a CRL fetch, an OCSP query) with
// the checker's own client and returns the 200 answer's body, at most max
// bytes, within crlTimeout.
func (c *revocationChecker) exchange(ctx context.Context, req *http.Request, max int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, crlTimeout)
	defer cancel()
	resp, err := c.client.Do(req.WithContext(ctx))
	if err != nil {
		// The URL is named by the caller already.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("answered more than %d MiB", max>>20)
	}
	return b, nil
}
