package fhirhttp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"golang.org/x/crypto/ocsp"
)

const (
	// maxOCSPBytes bounds one OCSP response; a real one is a few KiB.
	maxOCSPBytes = 1 << 20
	// maxOCSPAge is the longest an OCSP answer is kept, even when its
	// nextUpdate lies further ahead, and the oldest thisUpdate accepted
	// from a response that states no nextUpdate.
	maxOCSPAge = 24 * time.Hour
	// maxCachedOCSP bounds the cache of OCSP answers: one for each
	// certificate of a chain or two.
	maxCachedOCSP = 16
)

type cachedOCSP struct {
	resp  *ocsp.Response
	src   string // the responder's URL
	until time.Time
}

// ocspKey names a certificate in the OCSP cache, as OCSP does: by its
// issuer and serial number.
func ocspKey(cert, issuer *x509.Certificate) string {
	h := sha256.Sum256(issuer.Raw)
	return hex.EncodeToString(h[:]) + ":" + cert.SerialNumber.Text(16)
}

// ocspFor asks cert's http(s) OCSP responders in turn for its status and
// returns the first authoritative answer and the responder's URL: an
// authentic response saying the certificate is good (current), or one
// saying it is revoked (even a stale one proves that). When no responder
// gives one, it returns why.
func (c *revocationChecker) ocspFor(ctx context.Context, cert, issuer *x509.Certificate) (*ocsp.Response, string, error) {
	now := c.now()
	key := ocspKey(cert, issuer)
	c.mu.Lock()
	e, ok := c.ocsp[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.resp, e.src, nil
	}
	var (
		errs       []error
		candidates int
	)
	for _, u := range cert.OCSPServer {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			continue
		}
		candidates++
		resp, err := c.askOCSP(ctx, u, cert, issuer)
		if err == nil {
			err = checkOCSPResponse(resp, now)
		}
		if err == nil || (resp != nil && resp.Status == ocsp.Revoked && errors.Is(err, errStale)) {
			c.storeOCSP(key, resp, u, now)
			return resp, u, nil
		}
		errs = append(errs, fmt.Errorf("OCSP responder %s: %w", u, err))
	}
	if candidates == 0 {
		return nil, "", fmt.Errorf("it names no http or https OCSP responder (%v), and ferry asks no other", cert.OCSPServer)
	}
	return nil, "", errors.Join(errs...)
}

// askOCSP posts an OCSP request for cert to the responder at u (RFC 6960
// appendix A.1) and returns its response once it verifies: signed by
// issuer, or by a responder certificate issuer delegated OCSP signing to.
func (c *revocationChecker) askOCSP(ctx context.Context, u string, cert, issuer *x509.Certificate) (*ocsp.Response, error) {
	// SHA-1 issuer hashes: what RFC 5019 responders (most community
	// CAs') are required to understand.
	der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, fmt.Errorf("cannot make a request: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(der))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	req.Header.Set("Accept", "application/ocsp-response")
	b, err := c.exchange(ctx, req, maxOCSPBytes)
	if err != nil {
		return nil, err
	}
	// Parsed without the issuer, which the library would also require
	// to have signed a responder certificate that is the issuer's own;
	// the signature is verified below instead. With a responder
	// certificate, the library has verified the response with it.
	r, err := ocsp.ParseResponseForCert(b, cert, nil)
	if err != nil {
		var re ocsp.ResponseError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("answered %q", re.Status.String())
		}
		return nil, fmt.Errorf("not an OCSP response for this certificate: %w", err)
	}
	switch {
	case r.Certificate == nil || bytes.Equal(r.Certificate.Raw, issuer.Raw):
		if err := r.CheckSignatureFrom(issuer); err != nil {
			return nil, fmt.Errorf("its signature does not verify with the issuing certificate %q: %w", certName(issuer), err)
		}
	default:
		// A delegated responder (RFC 6960 §4.2.2.2): its certificate
		// issued by cert's issuer for OCSP signing, and current.
		rc := r.Certificate
		if err := rc.CheckSignatureFrom(issuer); err != nil {
			return nil, fmt.Errorf("its responder certificate %q was not issued by the issuing certificate %q: %w", certName(rc), certName(issuer), err)
		}
		if !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
			return nil, fmt.Errorf("its responder certificate %q is not for OCSP signing (its extended key usage lacks id-kp-OCSPSigning)", certName(rc))
		}
		if now := c.now(); now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
			return nil, fmt.Errorf("its responder certificate %q is not valid now (%s to %s)", certName(rc),
				rc.NotBefore.UTC().Format(time.RFC3339), rc.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return r, nil
}

// checkOCSPResponse checks that an authentic response decides cert's
// status at now: good or revoked, and current (errStale when it is
// not).
func checkOCSPResponse(r *ocsp.Response, now time.Time) error {
	switch {
	case r.Status == ocsp.Unknown:
		return errors.New(`answered "unknown": it does not know the certificate`)
	case r.Status != ocsp.Good && r.Status != ocsp.Revoked:
		return fmt.Errorf("answered status %d, which is not good, revoked or unknown", r.Status)
	case r.ThisUpdate.After(now.Add(metadataSkew)):
		return fmt.Errorf("its thisUpdate %s lies in the future; check the clocks", r.ThisUpdate.UTC().Format(time.RFC3339))
	case !r.NextUpdate.IsZero() && !now.Before(r.NextUpdate):
		return fmt.Errorf("%w: its nextUpdate %s has passed", errStale, r.NextUpdate.UTC().Format(time.RFC3339))
	case r.NextUpdate.IsZero() && now.Sub(r.ThisUpdate) > maxOCSPAge:
		return fmt.Errorf("%w: it states no nextUpdate and its thisUpdate %s is more than a day old", errStale, r.ThisUpdate.UTC().Format(time.RFC3339))
	}
	return nil
}

// storeOCSP keeps an answer until its nextUpdate, at most maxOCSPAge
// (a revocation, which does not expire, for maxOCSPAge); when the cache
// is full, expired entries go first, then the one that would expire
// soonest.
func (c *revocationChecker) storeOCSP(key string, r *ocsp.Response, src string, now time.Time) {
	until := now.Add(maxOCSPAge)
	if r.Status == ocsp.Good {
		limit := r.NextUpdate
		if limit.IsZero() {
			limit = r.ThisUpdate.Add(maxOCSPAge)
		}
		if limit.Before(until) {
			until = limit
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	makeRoom(c.ocsp, key, maxCachedOCSP, now, func(e cachedOCSP) time.Time { return e.until })
	c.ocsp[key] = cachedOCSP{resp: r, src: src, until: until}
}
