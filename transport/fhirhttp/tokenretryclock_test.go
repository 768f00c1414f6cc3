package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/transport"
)

// skewedBusy answers code with a Retry-After HTTP-date two minutes after
// the answer's Date, on a clock ten minutes behind the clinic computer's
// (one running ten minutes fast), and body as JSON when not empty.
func skewedBusy(code int, body string) http.HandlerFunc {
	exchangeNow := time.Now().Add(-10 * time.Minute)
	hdr := map[string]string{
		"Date":        exchangeNow.UTC().Format(http.TimeFormat),
		"Retry-After": exchangeNow.Add(2 * time.Minute).UTC().Format(http.TimeFormat),
	}
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return canned(code, ct, body, hdr)
}

// wantTwoMinutes checks that err asks to be retried after about the two
// minutes skewedBusy's server asked for.
func wantTwoMinutes(t *testing.T, err error) {
	t.Helper()
	if v := verdictOf(err); v != retry {
		t.Fatalf("%s (%v), want an outage retried", v, err)
	}
	if ra, ok := transport.RetryAfterOf(err); !ok || ra < time.Minute || ra > 2*time.Minute {
		t.Errorf("%v: waits %v, want the two minutes the server asked for", err, ra)
	}
}

// TestTokenRetryAfterDateReadOnTheServersClock: a busy token endpoint's
// Retry-After HTTP-date (RFC 9110 §10.2.3) is a time on its own clock,
// which it states in Date (§6.6.1). It was read against the clinic
// computer's: one running ten minutes fast took "in two minutes" for a
// time gone and asked again at once. The wait is now the date less the
// answer's Date, for a 429/503 and for a 400 temporarily_unavailable.
func TestTokenRetryAfterDateReadOnTheServersClock(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"429":                     skewedBusy(http.StatusTooManyRequests, ""),
		"503":                     skewedBusy(http.StatusServiceUnavailable, ""),
		"temporarily_unavailable": skewedBusy(http.StatusBadRequest, `{"error":"temporarily_unavailable"}`),
	} {
		t.Run(name, func(t *testing.T) {
			s, _ := bearerExchange(t, h, answerOK(200))
			wantTwoMinutes(t, s.Send(context.Background(), item("01TOKLATER")))
		})
	}
}

// TestSMARTDiscoveryRetryAfterDateReadOnTheServersClock: as the token
// endpoint's, a busy SMART discovery document's Retry-After date is
// read against its answer's Date, not the clinic computer's clock.
func TestSMARTDiscoveryRetryAfterDateReadOnTheServersClock(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ex := newExchange(t, false)
	busy := skewedBusy(http.StatusServiceUnavailable, "")
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fhir/R4/.well-known/smart-configuration" {
			busy(w, r)
			return
		}
		answerOK(200)(w, r)
	})
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: writeKey(t, ec)}})
	wantTwoMinutes(t, s.Send(context.Background(), item("01DISCLATER")))
}

// TestUDAPRetryAfterDateReadOnTheServersClock: a busy UDAP metadata or
// registration endpoint's Retry-After date is read against its answer's
// Date, not the clinic computer's clock.
func TestUDAPRetryAfterDateReadOnTheServersClock(t *testing.T) {
	for _, path := range []string{"/fhir/R4/.well-known/udap", "/auth/register"} {
		t.Run(path, func(t *testing.T) {
			ca := newTestCA(t, "community root")
			ex := newExchange(t, false)
			newUDAPServer(t, ex, ca)
			ex.mu.Lock()
			inner := ex.handler
			ex.mu.Unlock()
			busy := skewedBusy(http.StatusTooManyRequests, "")
			ex.set(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == path {
					busy(w, r)
					return
				}
				inner(w, r)
			})
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: udapSetup(t, ca, key), UDAPRegistrationFile: filepath.Join(t.TempDir(), "client.json")})
			wantTwoMinutes(t, s.Send(context.Background(), item("01UDAPLATER")))
		})
	}
}

// TestTokenLifeCountedFromTheRequest: expires_in is the token's life
// from when the server issued it (RFC 6749 §5.1), which is after ferry
// asked for it but before its answer arrived. It was counted from when
// the answer arrived, after discovery and the token request's own round
// trip (up to the 30 s timeout on a slow link, all of tokenSkew), so the
// token was kept past the margin meant to keep it from dying on its way
// to the exchange. The cache's expiry now counts from before the fetch.
func TestTokenLifeCountedFromTheRequest(t *testing.T) {
	var issued time.Time // when the token endpoint issued the token; read after Send
	s, _ := bearerExchange(t, func(w http.ResponseWriter, r *http.Request) {
		issued = time.Now()
		grantToken(w, r) // expires_in 300
	}, answerOK(200))
	if err := s.Send(context.Background(), item("01LIFE")); err != nil {
		t.Fatal(err)
	}
	s.mu.RLock()
	ts := s.tokens.(*smartTokens)
	s.mu.RUnlock()
	ts.mu.Lock()
	expires := ts.expires
	ts.mu.Unlock()
	if latest := issued.Add(300*time.Second - tokenSkew); expires.After(latest) {
		t.Errorf("token kept until %v after it was issued, later than %v: its life was counted from its answer", expires.Sub(issued), latest.Sub(issued))
	}
}
