package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// skewedAuthorizationServer is a token (or registration) endpoint whose
// clock runs skew ahead of ferry's: it reads the JWT's iat and exp by
// that clock, as every authorization server reads them by its own, with
// a minute of leeway, answers invalid_client (invalid_software_statement)
// when they are out of it, and names its time in Date, as RFC 9110
// §6.6.1 has an origin server do.
func skewedAuthorizationServer(skew time.Duration, code string) func(w http.ResponseWriter, r *http.Request, raw string) {
	return func(w http.ResponseWriter, r *http.Request, raw string) {
		now := time.Now().Add(skew)
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.ES256, jose.ES384})
		var c jwt.Claims
		if err == nil {
			err = tok.UnsafeClaimsWithoutVerification(&c)
		}
		if err == nil {
			err = c.ValidateWithLeeway(jwt.Expected{Time: now}, time.Minute)
		}
		if err == nil {
			grantToken(w, r)
			return
		}
		oauthFail(w, code)
	}
}

// skewedSMART is a Sink whose SMART token endpoint answers with token,
// given the client assertion.
func skewedSMART(t *testing.T, token func(w http.ResponseWriter, r *http.Request, raw string)) *Sink {
	t.Helper()
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	path := writeKey(t, ec)
	ex := newExchange(t, false)
	tokenURL := strings.TrimSuffix(ex.url(), "/fhir/R4") + "/auth/token"
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fhir/R4/.well-known/smart-configuration":
			json.NewEncoder(w).Encode(map[string]any{"token_endpoint": tokenURL})
		case "/auth/token":
			ex.mu.Lock()
			form, _ := url.ParseQuery(ex.bodies[len(ex.bodies)-1])
			ex.mu.Unlock()
			token(w, r, form.Get("client_assertion"))
		default:
			answerOK(200)(w, r)
		}
	})
	return newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: path}})
}

// TestTokenRefusalNamesClockSkew: an authorization server reads the
// client assertion's iat and exp (4 minutes) by its own clock; with
// ferry's clock some minutes off (a clinic PC without NTP, a VM resumed
// from a snapshot) it refuses every assertion (invalid_client), and
// ferry sent the contractor to check client_id, key_file and the JWKS,
// none at fault. The refusal now says by how much ferry's clock differs
// from the server's (its Date header) and to set it right; with the
// clocks agreeing it says nothing of them.
func TestTokenRefusalNamesClockSkew(t *testing.T) {
	for _, tc := range []struct {
		name string
		skew time.Duration
		want string
	}{
		{"ferry behind", 10 * time.Minute, "behind"},
		{"ferry ahead", -3 * time.Minute, "ahead of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := skewedSMART(t, skewedAuthorizationServer(tc.skew, "invalid_client"))
			err := s.Send(context.Background(), item("01CLOCK"))
			if verdictOf(err) != endpoint {
				t.Fatalf("%v, want an endpoint problem", err)
			}
			for _, w := range []string{"invalid_client", "clock", tc.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}

	t.Run("clocks agree", func(t *testing.T) {
		s := skewedSMART(t, func(w http.ResponseWriter, _ *http.Request, _ string) { oauthFail(w, "invalid_client") })
		err := s.Send(context.Background(), item("01CLOCK"))
		if verdictOf(err) != endpoint || strings.Contains(err.Error(), "clock") {
			t.Fatalf("%v, want an endpoint problem that says nothing of clocks", err)
		}
	})

	t.Run("UDAP registration", func(t *testing.T) {
		ca := newTestCA(t, "community root")
		ex := newExchange(t, false)
		newUDAPServer(t, ex, ca)
		ex.mu.Lock()
		inner := ex.handler
		ex.mu.Unlock()
		reg := skewedAuthorizationServer(10*time.Minute, "invalid_software_statement")
		ex.set(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/auth/register" {
				ex.mu.Lock()
				body := ex.bodies[len(ex.bodies)-1]
				ex.mu.Unlock()
				// The registration request is JSON: hand its
				// software_statement on as a form field.
				ss := strings.TrimSuffix(strings.SplitN(body, `"software_statement":"`, 2)[1], `"}`)
				ss, _, _ = strings.Cut(ss, `"`)
				reg(w, r, ss)
				return
			}
			inner(w, r)
		})
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cfg := udapSetup(t, ca, key)
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: filepath.Join(t.TempDir(), "client.json")})
		err := s.Send(context.Background(), item("01UCLOCK"))
		if verdictOf(err) != endpoint || !strings.Contains(err.Error(), "clock") || !strings.Contains(err.Error(), "behind") {
			t.Fatalf("UDAP registration refused for ferry's clock: %v, want an endpoint problem naming the clock", err)
		}
	})
}
