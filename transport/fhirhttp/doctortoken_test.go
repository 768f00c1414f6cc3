package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// fhirAnswers puts answer in front of the FHIR base of ex (its paths
// under /fhir/R4/ but for the discovery documents), the authorization
// server's endpoints left to the handler ex had; answer returns false to
// leave a request to that handler too. It returns the FHIR requests
// answered so.
func fhirAnswers(t *testing.T, ex *exchange, answer func(w http.ResponseWriter, r *http.Request) bool) func() []string {
	ex.mu.Lock()
	next := ex.handler
	ex.mu.Unlock()
	var seen []string
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fhir/R4/") && !strings.Contains(r.URL.Path, "/.well-known/") {
			ex.mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.RequestURI())
			ex.mu.Unlock()
			if answer(w, r) {
				return
			}
		}
		next(w, r)
	})
	return func() []string {
		ex.mu.Lock()
		defer ex.mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestDoctorTriesTheToken: `ferry doctor` got an access token from the
// token endpoint and passed, though the exchange's FHIR server may not
// take the tokens of that authorization server (exchange.auth.smart
// token_url naming another tenant's or the test system's, a client not
// given access to this FHIR server), when every delivery is refused with
// 401. The doctor now asks the FHIR server something that needs the token
// and changes nothing: a Patient search by an id no server has, answered
// with a count only; a 401 fails with what the gateway would say, any
// other answer (a 403 for a scope that may not search included) passes.
func TestDoctorTriesTheToken(t *testing.T) {
	refuse := func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hie", error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}
	forbid := func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hie", error="insufficient_scope"`)
		w.WriteHeader(http.StatusForbidden)
		return true
	}
	checkAsked := func(t *testing.T, asked []string) {
		t.Helper()
		if len(asked) != 1 || !strings.HasPrefix(asked[0], "GET /fhir/R4/Patient?") || !strings.Contains(asked[0], "_summary=count") {
			t.Errorf("the doctor asked the FHIR server %q, want one GET of a Patient count", asked)
		}
	}
	t.Run("SMART", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			answer func(w http.ResponseWriter, r *http.Request) bool
			fails  bool
		}{
			{"taken", func(http.ResponseWriter, *http.Request) bool { return false }, false},
			{"refused", refuse, true},
			{"scope may not search", forbid, false},
		} {
			path, ex, a := newSMARTFixture(t)
			asked := fhirAnswers(t, ex, tc.answer)
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
			_, _, err := CheckSMART(context.Background(), SMARTConfig{ClientID: a.clientID, KeyFile: path}, ex.url(), s.client)
			switch {
			case tc.fails && (err == nil || !strings.Contains(err.Error(), "refused ferry's access token") || !strings.Contains(err.Error(), "invalid_token")):
				t.Errorf("%s: %v, want the FHIR server's refusal of the token", tc.name, err)
			case !tc.fails && err != nil:
				t.Errorf("%s: %v", tc.name, err)
			}
			checkAsked(t, asked())
		}
	})
	t.Run("UDAP", func(t *testing.T) {
		ca := newTestCA(t, "community root")
		ex := newExchange(t, false)
		newUDAPServer(t, ex, ca)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cfg := udapSetup(t, ca, key)
		regFile := filepath.Join(t.TempDir(), "udap", "client.json")
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
		if _, err := RegisterUDAP(context.Background(), cfg, ex.url(), s.client, regFile, nil); err != nil {
			t.Fatal(err)
		}
		asked := fhirAnswers(t, ex, refuse)
		c, err := CheckUDAP(context.Background(), cfg, ex.url(), s.client, regFile)
		if err == nil || !strings.Contains(err.Error(), "refused ferry's access token") || c.ClientID == "" {
			t.Errorf("UDAP token the FHIR server refuses: %+v, %v", c, err)
		}
		checkAsked(t, asked())
	})
}
