package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/configtls/tlstest"
	"github.com/ferry-health/ferry/config/pki"
)

// TestTokenEndpointOwnName: exchange.tls.server_name names the FHIR
// server (reached by another name); requests to its host (here SMART
// discovery and the bundle) verify that name, and a token endpoint on
// another host is verified against its own name, not the FHIR server's.
func TestTokenEndpointOwnName(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("hie CA")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	paths := func(prefix string, dns []string, ips []net.IP) pki.Paths {
		c, k, err := ca.Issue(prefix, dns, ips, false)
		if err != nil {
			t.Fatal(err)
		}
		cc, ck, err := ca.Issue("ferry", nil, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		return pki.Paths{CA: write("ca.pem", ca.CertPEM()), ServerCert: write(prefix+".pem", c), ServerKey: write(prefix+".key", k),
			ClientCert: write("client.pem", cc), ClientKey: write("client.key", ck)}
	}
	// The FHIR server's certificate names fhir.hie.test only; the token
	// endpoint's names its address only.
	fp := paths("fhir", []string{"fhir.hie.test"}, nil)
	ap := paths("auth", nil, []net.IP{net.IPv4(127, 0, 0, 1)})
	auth := tlstest.NewUnstartedServer(t, ap, http.HandlerFunc(grantToken))
	auth.StartTLS()
	t.Cleanup(auth.Close)
	fhir := tlstest.NewUnstartedServer(t, fp, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fhir/R4/.well-known/smart-configuration" {
			json.NewEncoder(w).Encode(map[string]any{"token_endpoint": auth.URL + "/token"})
			return
		}
		answerOK(200)(w, r)
	}))
	fhir.StartTLS()
	t.Cleanup(fhir.Close)
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	s := newSink(t, Config{URL: strings.Replace(fhir.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4",
		TLS:   configtls.ClientConfig{CAFile: fp.CA, CertFile: fp.ClientCert, KeyFile: fp.ClientKey, ServerName: "fhir.hie.test"},
		SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: writeKey(t, ec)}})
	if err := s.Send(context.Background(), item("01NAME")); err != nil {
		t.Fatalf("token endpoint on another host with server_name set: %v", err)
	}
}
