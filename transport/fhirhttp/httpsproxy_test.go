package fhirhttp

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configproxy/proxytest"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// clinicProxyTLS returns the TLS settings of an https:// proxy whose
// certificate (for 127.0.0.1) a CA of the clinic's IT issued, not the
// exchange's, and that CA's certificate in a PEM file. The proxy asks
// for a client certificate (without requiring one) so that a test sees
// whether ferry offered its own to the proxy.
func clinicProxyTLS(t *testing.T) (*tls.Config, string) {
	t.Helper()
	ca, err := pki.NewCA("clinic IT CA") // in the system store in real life
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue("clinic proxy", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, false)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "clinic-ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert}, caFile
}

// TestHTTPSProxyUsesExchangeTLSSettings: an https:// proxy's own TLS
// connection is verified with the system's roots and proxy.ca_file and
// the proxy's host name, never with exchange.tls (its ca_file, its
// server_name), and the proxy is never shown ferry's client certificate;
// the exchange's mutual TLS runs inside the CONNECT tunnel, and the
// proxy's Basic credentials still go with the CONNECT. It was a known
// defect: net/http dials an https proxy with the Transport's
// TLSClientConfig. The same delivery through an http:// proxy is the
// control.
func TestHTTPSProxyUsesExchangeTLSSettings(t *testing.T) {
	proxyTLS, caFile := clinicProxyTLS(t)
	for _, tc := range []struct {
		name string
		tls  *tls.Config
	}{{"http proxy", nil}, {"https proxy", proxyTLS}} {
		t.Run(tc.name, func(t *testing.T) {
			ex := newExchange(t, true)
			p := proxytest.New(t, proxytest.Options{User: "ferry", Password: "pr0xy-s3cret", TLS: tc.tls, Hosts: map[string]string{hieName: "127.0.0.1"}})
			pc := configproxy.Config{URL: configproxy.URL(p.URL())}
			if tc.tls != nil {
				pc.CAFile = caFile
				if !strings.HasPrefix(p.URL(), "https://") {
					t.Fatalf("proxy url %s", p.URL())
				}
			}
			s := newSink(t, Config{URL: namedURL(ex), TLS: namedTLS(ex), Proxy: pc})
			for _, id := range []string{"01PROXYA", "01PROXYB"} {
				if err := s.Send(context.Background(), item(id)); err != nil {
					if hs := configtls.Diagnose(err); hs != nil {
						t.Fatalf("the proxy's certificate was checked against exchange.tls (ca_file, server_name %q): %v", namedTLS(ex).ServerName, err)
					}
					t.Fatalf("send %s: %v", id, err)
				}
			}
			if p.Tunnels() == 0 {
				t.Fatal("no tunnel through the proxy")
			}
			if n := p.ClientCerts(); n != 0 {
				t.Errorf("ferry's client certificate was offered to the proxy %d times", n)
			}
			ex.mu.Lock()
			defer ex.mu.Unlock()
			if len(ex.requests) != 2 {
				t.Fatalf("exchange got %d requests, want 2", len(ex.requests))
			}
			if r := ex.requests[0]; len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "ferry demo client" {
				t.Error("the client certificate did not reach the exchange through the tunnel")
			}
		})
	}
}

// TestHTTPSProxyUntrustedNamesTheProxy: an https proxy whose certificate
// is not trusted (its CA neither in the system's roots nor in
// proxy.ca_file) is a TLS problem of the proxy's, saying to put the CA
// in proxy.ca_file; it is not blamed on the exchange's ca_file nor
// explained as a TLS-inspecting proxy, and the password stays hidden.
// Fixing proxy.ca_file takes effect without a new sink.
func TestHTTPSProxyUntrustedNamesTheProxy(t *testing.T) {
	proxyTLS, caFile := clinicProxyTLS(t)
	ex := newExchange(t, false)
	p := proxytest.New(t, proxytest.Options{User: "ferry", Password: "pr0xy-s3cret", TLS: proxyTLS, Hosts: map[string]string{hieName: "127.0.0.1"}})
	wrong := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(wrong, mustRead(t, ex.pki.CA), 0o644); err != nil { // the exchange's CA, not the proxy's
		t.Fatal(err)
	}
	s := newSink(t, Config{URL: namedURL(ex), TLS: namedTLS(ex), Proxy: configproxy.Config{URL: configproxy.URL(p.URL()), CAFile: wrong}})
	err := s.Send(context.Background(), item("01UNTRUSTED"))
	hs := configtls.Diagnose(err)
	if hs == nil || hs.Problem != configtls.UnknownAuthority || !configproxy.IsProxyTLS(err) {
		t.Fatalf("err = %v, want the proxy's unknown authority", err)
	}
	for _, w := range []string{"https proxy https://" + p.Addr, `"clinic IT CA"`, "proxy.ca_file"} {
		if !strings.Contains(hs.Hint, w) {
			t.Errorf("hint %q does not say %q", hs.Hint, w)
		}
	}
	if strings.Contains(err.Error(), "inspects TLS") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q", err)
	}
	if p.Tunnels() != 0 || len(ex.requests) != 0 {
		t.Errorf("tunnels %d, exchange requests %d", p.Tunnels(), len(ex.requests))
	}
	// The operator puts the proxy's CA in the file: the next attempt
	// (after the dispatcher's Connect) goes through.
	if err := os.WriteFile(wrong, mustRead(t, caFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), item("01UNTRUSTED")); err != nil {
		t.Fatalf("after fixing proxy.ca_file: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
