package fhirhttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configproxy/proxytest"
	"github.com/ferry-health/ferry/config/configtls"
)

// hieName is the exchange's name in these tests: only the test proxy
// resolves it (to 127.0.0.1), so a delivery that works went through it.
// httpproxy never proxies loopback addresses or localhost.
const hieName = "hie.invalid"

// namedURL is ex's FHIR base under hieName; the TLS name checked stays
// localhost, which the demo server certificate is for.
func namedURL(ex *exchange) string {
	_, port, _ := net.SplitHostPort(ex.srv.Listener.Addr().String())
	return "https://" + net.JoinHostPort(hieName, port) + "/fhir/R4"
}

func namedTLS(ex *exchange) configtls.ClientConfig {
	tc := ex.clientTLS()
	tc.ServerName = "localhost"
	return tc
}

// TestDeliveryThroughProxy: with proxy.url set, a bundle reaches an
// exchange that requires a client certificate through a CONNECT tunnel,
// mutual TLS end to end, with the proxy's Basic credentials taken from
// the URL.
func TestDeliveryThroughProxy(t *testing.T) {
	ex := newExchange(t, true)
	p := proxytest.New(t, proxytest.Options{User: "ferry", Password: "pr0xy-s3cret", Hosts: map[string]string{hieName: "127.0.0.1"}})
	s := newSink(t, Config{URL: namedURL(ex), TLS: namedTLS(ex), Proxy: configproxy.Config{URL: configproxy.URL(p.URL())}})
	for i := range 3 {
		if err := s.Send(context.Background(), item("01PROXY"+strconv.Itoa(i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if p.Tunnels() == 0 {
		t.Fatal("no tunnel through the proxy")
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if len(ex.requests) != 3 {
		t.Fatalf("exchange got %d requests, want 3", len(ex.requests))
	}
	if r := ex.requests[0]; len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "ferry demo client" {
		t.Error("the client certificate did not reach the exchange through the tunnel")
	}
}

// TestProxyRefusalNamesTheProxy: wrong proxy credentials are a retryable
// refusal that names the proxy (password redacted) and says what to fix;
// the exchange is never reached.
func TestProxyRefusalNamesTheProxy(t *testing.T) {
	ex := newExchange(t, false)
	p := proxytest.New(t, proxytest.Options{User: "ferry", Password: "right", Hosts: map[string]string{hieName: "127.0.0.1"}})
	s := newSink(t, Config{URL: namedURL(ex), TLS: namedTLS(ex), Proxy: configproxy.Config{URL: configproxy.URL(p.URLWith("ferry", "wr0ng-s3cret"))}})
	err := s.Send(context.Background(), item("01REFUSED"))
	var re *configproxy.RefusedError
	if !errors.As(err, &re) || re.Code != http.StatusProxyAuthRequired {
		t.Fatalf("err = %v, want a 407 *configproxy.RefusedError", err)
	}
	msg := err.Error()
	for _, w := range []string{"proxy http://ferry:[REDACTED]@" + p.Addr, "407 Proxy Authentication Required", "did not accept the user and password in proxy.url"} {
		if !strings.Contains(msg, w) {
			t.Errorf("%q does not say %q", msg, w)
		}
	}
	if strings.Contains(msg, "wr0ng-s3cret") || strings.Contains(re.ConfigProblem(), "wr0ng-s3cret") {
		t.Errorf("the proxy password leaked: %q", msg)
	}
	if len(ex.requests) != 0 || p.Refused() == 0 {
		t.Errorf("exchange requests %d, proxy refusals %d", len(ex.requests), p.Refused())
	}
}

// hostIP returns a non-loopback IPv4 address of this machine: requests to
// it are proxied unless no_proxy or direct say otherwise (loopback never
// is), and they reach a server listening on it without the proxy.
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip("no interface addresses:", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			ln, err := net.Listen("tcp", net.JoinHostPort(n.IP.String(), "0"))
			if err != nil {
				continue
			}
			ln.Close()
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to test direct connections with")
	return ""
}

// newExchangeOn starts an exchange on ip and returns it with its FHIR
// base there.
func newExchangeOn(t *testing.T, ip string) (*exchange, string) {
	t.Helper()
	ex := newExchangeAt(t, false, ip)
	return ex, ex.srv.URL + "/fhir/R4"
}

// TestNoProxyBypasses: a host in proxy.no_proxy (here a CIDR) is reached
// directly; the same exchange without it goes through the proxy.
func TestNoProxyBypasses(t *testing.T) {
	ip := hostIP(t)
	ex, u := newExchangeOn(t, ip)
	p := proxytest.New(t, proxytest.Options{})
	for _, tc := range []struct {
		noProxy []string
		tunnel  bool
	}{
		{[]string{"hie-test.local", ip + "/32"}, false},
		{[]string{ip}, false},
		{nil, true},
	} {
		before := p.Tunnels()
		s := newSink(t, Config{URL: u, TLS: namedTLS(ex), Proxy: configproxy.Config{URL: configproxy.URL(p.URL()), NoProxy: tc.noProxy}})
		if err := s.Send(context.Background(), item("01NOPROXY")); err != nil {
			t.Fatalf("no_proxy %v: %v", tc.noProxy, err)
		}
		if tunneled := p.Tunnels() > before; tunneled != tc.tunnel {
			t.Errorf("no_proxy %v: through the proxy %v, want %v", tc.noProxy, tunneled, tc.tunnel)
		}
	}
}

// TestDirectIgnoresEnvironment: proxy.url: direct connects directly even
// with HTTPS_PROXY set; without a proxy section the environment's proxy
// is used, read when the client is built.
func TestDirectIgnoresEnvironment(t *testing.T) {
	ip := hostIP(t)
	ex, u := newExchangeOn(t, ip)
	p := proxytest.New(t, proxytest.Options{})
	t.Setenv("https_proxy", "") // first: on Windows it is HTTPS_PROXY
	t.Setenv("HTTPS_PROXY", p.URL())
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	s := newSink(t, Config{URL: u, TLS: namedTLS(ex), Proxy: configproxy.Config{URL: configproxy.Direct}})
	if err := s.Send(context.Background(), item("01DIRECT")); err != nil {
		t.Fatal(err)
	}
	if p.Tunnels() != 0 {
		t.Fatalf("direct went through the proxy (%d tunnels)", p.Tunnels())
	}
	s = newSink(t, Config{URL: u, TLS: namedTLS(ex)})
	if err := s.Send(context.Background(), item("01ENV")); err != nil {
		t.Fatal(err)
	}
	if p.Tunnels() == 0 {
		t.Fatal("HTTPS_PROXY from the environment was not used without a proxy section")
	}
}

// TestProxyHint: a certificate problem seen through a proxy says what a
// TLS-inspecting proxy does; without a proxy the diagnosis is unchanged.
func TestProxyHint(t *testing.T) {
	hs := &configtls.HandshakeError{Problem: configtls.UnknownAuthority, Hint: "the server's certificate is signed by \"Clinic Firewall CA\"", Err: errors.New("x509")}
	req, _ := http.NewRequest(http.MethodPost, "https://hie.example.org/fhir", nil)
	tr := &http.Transport{}
	configproxy.Config{URL: "http://ferry:s3cret@proxy.clinic.local:3128"}.Apply(tr)
	got := ProxyHint(hs, &http.Client{Transport: tr}, req)
	if got.Problem != configtls.UnknownAuthority || !strings.Contains(got.Hint, "through proxy http://ferry:[REDACTED]@proxy.clinic.local:3128") ||
		!strings.Contains(got.Hint, "inspects TLS") || strings.Contains(got.Error(), "s3cret") {
		t.Errorf("hint %q", got.Hint)
	}
	tr2 := &http.Transport{}
	configproxy.Config{URL: configproxy.Direct}.Apply(tr2)
	if got := ProxyHint(hs, &http.Client{Transport: tr2}, req); got != hs {
		t.Errorf("direct: hint changed to %q", got.Hint)
	}
}

// TestRevocationClientTakesTheProxy: CRLs and OCSP go out through the
// exchange client's proxy, with their own TLS settings.
func TestRevocationClientTakesTheProxy(t *testing.T) {
	tr := &http.Transport{}
	configproxy.Config{URL: "http://proxy.clinic.local:3128"}.Apply(tr)
	rc := newRevocationClient(&http.Client{Transport: tr})
	rt := rc.Transport.(*http.Transport)
	crl, _ := url.Parse("http://crl.example.org/ca.crl")
	got, err := rt.Proxy(&http.Request{URL: crl})
	if err != nil || got == nil || got.Host != "proxy.clinic.local:3128" {
		t.Fatalf("proxy for %s = %v, %v", crl, got, err)
	}
	if rt.TLSClientConfig != nil || rt.OnProxyConnectResponse == nil {
		t.Error("the revocation client must not carry the exchange's TLS settings, and must explain refusals")
	}
}

// TestProxyUnreachableExchangeNotAnOperatorProblem: a proxy answering
// 502 because it could not reach the exchange (down, or a wrong port) was
// shown on the status page as needing an operator, like a 407; it is a
// retried failure the hint explains, and no operator problem, while a
// refusal the clinic's IT must fix (407, 403) still is one.
func TestProxyUnreachableExchangeNotAnOperatorProblem(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there: the proxy's dial fails
	_, port, _ := net.SplitHostPort(closed)
	p := proxytest.New(t, proxytest.Options{Hosts: map[string]string{hieName: "127.0.0.1"}})
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: "https://" + net.JoinHostPort(hieName, port) + "/fhir/R4", TLS: namedTLS(ex), Proxy: configproxy.Config{URL: configproxy.URL(p.URL())}})
	err = s.Send(context.Background(), item("01UNREACHABLE"))
	var re *configproxy.RefusedError
	if !errors.As(err, &re) || re.Code != http.StatusBadGateway {
		t.Fatalf("err = %v, want a 502 *configproxy.RefusedError", err)
	}
	if !strings.Contains(err.Error(), "could not reach") {
		t.Errorf("%q does not explain the 502", err)
	}
	if cp := re.ConfigProblem(); cp != "" {
		t.Errorf("a 502 is an operator problem: %q", cp)
	}
	auth := &configproxy.RefusedError{Proxy: "http://proxy.invalid:3128", Target: hieName + ":443", Code: http.StatusProxyAuthRequired, Status: "407 Proxy Authentication Required"}
	if auth.ConfigProblem() == "" {
		t.Error("a 407 is no longer an operator problem")
	}
}
