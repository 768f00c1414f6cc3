package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// TestTokenRequestHTTP11RequiredFallsBack: with SMART (or UDAP) the
// first request ferry makes of an exchange is the token request, and an
// exchange whose authorization server is on the site that asks for the
// client certificate by a renegotiation (IIS without "negotiate client
// certificate") resets it over HTTP/2 with HTTP_1_1_REQUIRED, as it
// resets a bundle's: "a server might use an error (Section 5.4) of type
// HTTP_1_1_REQUIRED to request the client use a protocol that supports
// renegotiation" (RFC 9113 §9.2.1). Send went over to HTTP/1.1 for a
// bundle reset so (TestHTTP11RequiredFallsBack) but returned a token
// request's reset as it came, so no bundle was ever sent, every attempt
// failing alike, while ferry doctor, which speaks HTTP/1.1, got a token.
// The token request is now made again over HTTP/1.1, as a bundle is.
func TestTokenRequestHTTP11RequiredFallsBack(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var tokens, bundles atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("grant_type") != "client_credentials" || r.FormValue("client_assertion") == "" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		n := tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer","expires_in":300,"scope":"system/*.crus"}`, n)
	})
	mux.HandleFunc("POST /fhir/R4", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fhir"`)
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		bundles.Add(1)
		w.Header().Set("Content-Type", MediaType)
		io.WriteString(w, txResponse)
	})
	port, h2Requests := http11RequiredServer(t, p, mux)
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	base := "https://localhost:" + port
	s := newSink(t, Config{URL: base + "/fhir/R4", TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
		SMART: SMARTConfig{ClientID: "clinic-12-ferry", KeyFile: writeKey(t, key), TokenURL: base + "/token"}})
	defer s.Close(context.Background())
	for _, id := range []string{"01TH11A", "01TH11B"} {
		if err := s.Send(context.Background(), item(id)); err != nil {
			t.Fatalf("send %s: %v", id, err)
		}
	}
	if h2Requests.Load() != 1 || tokens.Load() != 1 || bundles.Load() != 2 {
		t.Errorf("%d requests over HTTP/2, %d tokens and %d bundles over HTTP/1.1; want the token request over HTTP/2, refused, then one token and both bundles over HTTP/1.1",
			h2Requests.Load(), tokens.Load(), bundles.Load())
	}
}
