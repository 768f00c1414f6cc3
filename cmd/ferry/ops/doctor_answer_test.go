package ops

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCheckExchangeReadsTheAnswer: `ferry doctor` said "GET /metadata
// answered 200 OK" and passed for whatever answered 200, though a
// TLS-inspecting proxy's or a portal's login page is no exchange (the
// gateway does not count a bundle delivered on one), and for a 401 that
// asks for a bearer token it asked whether the certificate is
// registered. A 200 without a CapabilityStatement is now a warning that
// says what may answer in the exchange's place, and a Bearer challenge
// names the token settings.
func TestCheckExchangeReadsTheAnswer(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir, "exchange")
	sc, sk, _ := p.ca.Issue("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, false)
	pair, err := tls.X509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(h http.HandlerFunc) string {
		srv := httptest.NewUnstartedServer(h)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.ca.Pool()}
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.URL + "/fhir"
	}
	for _, tc := range []struct {
		name  string
		h     http.HandlerFunc
		level Level
		words []string
	}{
		{"capability statement", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+json")
			w.Write([]byte(`{"resourceType":"CapabilityStatement","fhirVersion":"4.0.1"}`))
		}, OK, []string{"GET /metadata answered 200 OK"}},
		{"login page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<html><body>Sign in to continue</body></html>`))
		}, Warn, []string{"answered 200 OK", "no FHIR CapabilityStatement", `"text/html"`, "proxy's or login page"}},
		{"bearer challenge", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hie", error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
		}, Warn, []string{"401", "asks for an access token", "exchange.auth.smart"}},
		{"refused", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
		}, Warn, []string{"403", "is the certificate registered"}},
	} {
		cfg := exchangeConfig(t, serve(tc.h), p.caFile, p.clientCert, p.clKey)
		c := CheckExchange(context.Background(), cfg, DoctorOptions{Timeout: 5 * time.Second})[0]
		if c.Level != tc.level {
			t.Errorf("%s: level %v, want %v: %s", tc.name, c.Level, tc.level, c.Detail)
		}
		for _, w := range tc.words {
			if !strings.Contains(c.Detail, w) {
				t.Errorf("%s: %q does not say %q", tc.name, c.Detail, w)
			}
		}
	}
}
