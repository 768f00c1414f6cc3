package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configproxy/proxytest"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// authFailures collects what a Sink reports to OnAuthFailure.
type authFailures struct {
	mu   sync.Mutex
	got  []string // remote
	prob []configtls.Problem
}

func (a *authFailures) hook(remote string, hs *configtls.HandshakeError) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, remote)
	a.prob = append(a.prob, hs.Problem)
}

func (a *authFailures) take() ([]string, []configtls.Problem) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, p := a.got, a.prob
	a.got, a.prob = nil, nil
	return g, p
}

// origin is scheme://host:port of a URL.
func origin(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host
}

// TestNodeAuthFailuresReported: ATNA's node-authentication-failure
// trigger on ferry's own connections (ITI-19: ferry authenticates the
// exchange as much as the exchange authenticates ferry). Every failed
// authentication of the exchange's TLS connection is reported to
// OnAuthFailure, naming the exchange's origin (no path): a server
// certificate from a CA ferry does not trust, one for another host name,
// an expired one, and the exchange refusing ferry's client certificate or
// its absence. A connection refused, a server that does not speak TLS and
// a delivery that succeeds are not reported.
func TestNodeAuthFailuresReported(t *testing.T) {
	ex := newExchange(t, false)
	other, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	var a authFailures
	cases := []struct {
		name string
		tls  configtls.ClientConfig
		want configtls.Problem
	}{
		{"server certificate from another CA", configtls.ClientConfig{CAFile: other.CA, CertFile: ex.pki.ClientCert, KeyFile: ex.pki.ClientKey}, configtls.UnknownAuthority},
		{"server certificate for another host", configtls.ClientConfig{CAFile: ex.pki.CA, CertFile: ex.pki.ClientCert, KeyFile: ex.pki.ClientKey, ServerName: "hie.example.org"}, configtls.HostnameMismatch},
		{"no client certificate", configtls.ClientConfig{CAFile: ex.pki.CA}, configtls.ClientCertRejected},
		{"client certificate from another CA", configtls.ClientConfig{CAFile: ex.pki.CA, CertFile: other.ClientCert, KeyFile: other.ClientKey}, configtls.ClientCertRejected},
	}
	for _, tc := range cases {
		s := newSink(t, Config{URL: ex.url(), TLS: tc.tls, OnAuthFailure: a.hook})
		if err := s.Send(context.Background(), item("01NODE")); err == nil {
			t.Fatalf("%s: delivered", tc.name)
		}
		got, prob := a.take()
		if len(got) != 1 || got[0] != origin(t, ex.url()) || prob[0] != tc.want {
			t.Errorf("%s: reported %v %v, want one %q for %s", tc.name, got, prob, tc.want, origin(t, ex.url()))
		}
	}

	// An expired server certificate, from a CA ferry trusts.
	ca, err := pki.NewCA("expiring CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cert, key, err := ca.IssueValid("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, false, now.Add(-48*time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	expired := httptest.NewUnstartedServer(answerOK(200))
	expired.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	expired.Config.ErrorLog = log.New(io.Discard, "", 0)
	expired.StartTLS()
	t.Cleanup(expired.Close)
	caFile := filepath.Join(t.TempDir(), "expiring-ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, Config{URL: expired.URL + "/fhir", TLS: configtls.ClientConfig{CAFile: caFile}, OnAuthFailure: a.hook})
	if err := s.Send(context.Background(), item("01NODE")); err == nil {
		t.Fatal("expired: delivered")
	}
	if got, prob := a.take(); len(got) != 1 || got[0] != expired.URL || prob[0] != configtls.Expired {
		t.Errorf("expired server certificate: reported %v %v, want one %q for %s", got, prob, configtls.Expired, expired.URL)
	}

	// Not authentication failures: nothing listening, a server that
	// answers in plain HTTP, and a delivery.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	plain := httptest.NewServer(answerOK(200))
	t.Cleanup(plain.Close)
	for name, u := range map[string]string{
		"connection refused": "https://" + down + "/fhir",
		"plain http server":  "https://" + plain.Listener.Addr().String() + "/fhir",
	} {
		s := newSink(t, Config{URL: u, TLS: ex.clientTLS(), Timeout: 10 * time.Second, OnAuthFailure: a.hook})
		err := s.Send(context.Background(), item("01NET"))
		if err == nil {
			t.Fatalf("%s: delivered", name)
		}
		if got, prob := a.take(); len(got) != 0 {
			t.Errorf("%s (%v): reported as node authentication failures %v %v", name, err, got, prob)
		}
	}
	s = newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), OnAuthFailure: a.hook})
	if err := s.Send(context.Background(), item("01OK")); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.take(); len(got) != 0 {
		t.Errorf("a delivery reported %v", got)
	}
}

// TestNodeAuthFailureNamesTokenEndpoint: a SMART token endpoint on
// another host whose certificate ferry cannot verify is reported under
// its own origin, not the exchange's: that is the node that failed.
func TestNodeAuthFailureNamesTokenEndpoint(t *testing.T) {
	ex := newExchange(t, false)
	// httptest's own certificate: a CA ferry's ca_file does not hold.
	auth := httptest.NewUnstartedServer(http.HandlerFunc(grantToken))
	auth.Config.ErrorLog = log.New(io.Discard, "", 0)
	auth.StartTLS()
	t.Cleanup(auth.Close)
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var a authFailures
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), OnAuthFailure: a.hook,
		SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: writeKey(t, ec), TokenURL: auth.URL + "/token"}})
	if err := s.Send(context.Background(), item("01TOK")); err == nil {
		t.Fatal("delivered without a token")
	}
	if got, prob := a.take(); len(got) != 1 || got[0] != auth.URL || prob[0] != configtls.UnknownAuthority {
		t.Errorf("reported %v %v, want one %q for the token endpoint %s", got, prob, configtls.UnknownAuthority, auth.URL)
	}
	ex.mu.Lock()
	n := len(ex.requests)
	ex.mu.Unlock()
	if n != 0 {
		t.Errorf("%d requests reached the exchange without a token", n)
	}
}

// TestNodeAuthFailureNamesHTTPSProxy: an https proxy whose certificate
// ferry cannot verify is the node that failed: it is reported under the
// proxy's origin, without the proxy's user name or password, not as the
// exchange.
func TestNodeAuthFailureNamesHTTPSProxy(t *testing.T) {
	proxyTLS, _ := clinicProxyTLS(t)
	ex := newExchange(t, false)
	p := proxytest.New(t, proxytest.Options{User: "ferry", Password: "pr0xy-s3cret", TLS: proxyTLS, Hosts: map[string]string{hieName: "127.0.0.1"}})
	var a authFailures
	s := newSink(t, Config{URL: namedURL(ex), TLS: namedTLS(ex), OnAuthFailure: a.hook,
		Proxy: configproxy.Config{URL: configproxy.URL(p.URL()), CAFile: ex.pki.CA}}) // the exchange's CA, not the proxy's
	if err := s.Send(context.Background(), item("01PROXY")); err == nil {
		t.Fatal("delivered through an untrusted proxy")
	}
	if got, prob := a.take(); len(got) != 1 || got[0] != "https://"+p.Addr || prob[0] != configtls.UnknownAuthority {
		t.Errorf("reported %v %v, want one %q for https://%s", got, prob, configtls.UnknownAuthority, p.Addr)
	}
}
