package ops

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configproxy/proxytest"
)

// proxiedExchange starts an exchange that requires ferry's client
// certificate and returns a configuration naming it hie.invalid, a name
// only the test proxy resolves (httpproxy never proxies loopback).
func proxiedExchange(t *testing.T) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	good := newPKI(t, dir, "exchange")
	sc, sk, _ := good.ca.Issue("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, false)
	srv := tlsExchange(t, sc, sk, good.ca)
	u, _ := url.Parse(srv.URL)
	target := net.JoinHostPort("hie.invalid", u.Port())
	cfg := exchangeConfig(t, "https://"+target+"/fhir", good.caFile, good.clientCert, good.clKey)
	cfg.Exchange.TLS.ServerName = "localhost"
	return cfg, target
}

func doctorText(checks []Check) string {
	var b bytes.Buffer
	PrintChecks(&b, checks)
	return b.String()
}

// TestDoctorThroughProxy: the doctor's TLS handshake (in a CONNECT tunnel)
// and its GET /metadata go through the configured proxy; a refusal is
// the proxy's, in plain words, naming the proxy and never its password.
func TestDoctorThroughProxy(t *testing.T) {
	cfg, target := proxiedExchange(t)
	const secret = "pr0xy-s3cret"
	hosts := map[string]string{"hie.invalid": "127.0.0.1"}
	p := proxytest.New(t, proxytest.Options{User: "ferry", Password: secret, Hosts: hosts})
	opts := DoctorOptions{Timeout: 5 * time.Second}
	redacted := "http://ferry:[REDACTED]@" + p.Addr

	cases := []struct {
		name  string
		url   string
		level Level
		words []string
	}{
		{"good credentials", p.URL(), OK, []string{"TLS handshake through proxy " + redacted + " ok", "TLS 1.3", `server certificate "localhost"`, "GET /metadata answered 200 OK"}},
		{"wrong password", p.URLWith("ferry", "wr0ng-"+secret), Fail, []string{"proxy " + redacted, "refused the tunnel to " + target, "407 Proxy Authentication Required", "did not accept the user and password in proxy.url"}},
		{"no credentials", p.URLWith("", ""), Fail, []string{"proxy http://" + p.Addr, "407 Proxy Authentication Required", "requires a login: put user:password@ in proxy.url"}},
	}
	for _, tc := range cases {
		cfg.Proxy = configproxy.Config{URL: configproxy.URL(tc.url)}
		before := p.Tunnels()
		checks := append(CheckProxy(cfg), CheckExchange(context.Background(), cfg, opts)...)
		if len(checks) != 2 {
			t.Fatalf("%s: checks %+v", tc.name, checks)
		}
		pc, c := checks[0], checks[1]
		if pc.Name != "proxy" || !strings.HasPrefix(pc.Detail, "proxy ") || !strings.HasSuffix(pc.Detail, "(from proxy.url)") {
			t.Errorf("%s: proxy line %q", tc.name, pc.Detail)
		}
		if c.Level != tc.level {
			t.Errorf("%s: level %v, want %v: %s", tc.name, c.Level, tc.level, c.Detail)
		}
		for _, w := range tc.words {
			if !strings.Contains(c.Detail, w) {
				t.Errorf("%s: %q does not say %q", tc.name, c.Detail, w)
			}
		}
		if strings.Contains(c.Detail, "nothing accepts") || strings.Contains(c.Detail, "exchange down") {
			t.Errorf("%s: a proxy refusal blamed on the exchange: %s", tc.name, c.Detail)
		}
		if out := doctorText(checks); strings.Contains(out, secret) {
			t.Errorf("%s: the proxy password is in the doctor's output:\n%s", tc.name, out)
		}
		if tc.level == OK && p.Tunnels()-before < 2 {
			t.Errorf("%s: %d tunnels, want the handshake's and the request's", tc.name, p.Tunnels()-before)
		}
		t.Logf("%s: %s %s", tc.name, c.Level, c.Detail)
	}

	// A proxy that does not let the exchange's port through.
	deny := proxytest.New(t, proxytest.Options{Hosts: hosts, Deny: func(string) bool { return true }})
	cfg.Proxy = configproxy.Config{URL: configproxy.URL(deny.URL())}
	c := CheckExchange(context.Background(), cfg, opts)[0]
	if c.Level != Fail || !strings.Contains(c.Detail, "403 Forbidden") || !strings.Contains(c.Detail, "does not allow connections to "+target) ||
		!strings.Contains(c.Detail, "proxy http://"+deny.Addr) {
		t.Errorf("403: %s", c.Detail)
	}
	// A proxy that is not there.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := ln.Addr().String()
	ln.Close()
	cfg.Proxy = configproxy.Config{URL: configproxy.URL("http://ferry:" + secret + "@" + gone)}
	c = CheckExchange(context.Background(), cfg, opts)[0]
	if c.Level != Fail || !strings.Contains(c.Detail, "nothing accepts connections at proxy http://ferry:[REDACTED]@"+gone) || strings.Contains(c.Detail, secret) {
		t.Errorf("proxy down: %s", c.Detail)
	}
}

// TestCheckProxyLine: the line that says which proxy applies to the
// exchange and where the setting comes from.
func TestCheckProxyLine(t *testing.T) {
	cfg, _ := proxiedExchange(t)
	// Lower case first: on Windows the environment ignores case, and
	// https_proxy is HTTPS_PROXY.
	t.Setenv("https_proxy", "")
	t.Setenv("HTTPS_PROXY", "http://admin:env-s3cret@proxy.example.org:8080")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	cases := []struct {
		proxy configproxy.Config
		want  string
	}{
		{configproxy.Config{}, "proxy http://admin:[REDACTED]@proxy.example.org:8080 (from HTTPS_PROXY; this command's environment; the service may not have it: set proxy.url to be sure)"},
		{configproxy.Config{URL: configproxy.Direct}, "direct (proxy.url: direct; HTTPS_PROXY in the environment is ignored)"},
		{configproxy.Config{URL: "http://proxy.clinic.local:3128"}, "proxy http://proxy.clinic.local:3128 (from proxy.url)"},
		{configproxy.Config{URL: "http://proxy.clinic.local:3128", NoProxy: []string{".invalid"}}, "direct (hie.invalid matches proxy.no_proxy)"},
	}
	for _, tc := range cases {
		cfg.Proxy = tc.proxy
		got := CheckProxy(cfg)
		if len(got) != 1 || got[0].Detail != tc.want || got[0].Level != OK {
			t.Errorf("proxy %+v: %+v, want %q", tc.proxy, got, tc.want)
		}
	}
	t.Setenv("HTTPS_PROXY", "")
	cfg.Proxy = configproxy.Config{}
	if got := CheckProxy(cfg)[0].Detail; got != "direct (no proxy.url, and no HTTPS_PROXY in the environment)" {
		t.Errorf("no proxy anywhere: %q", got)
	}
	cfg.Exchange.URL = "mllps://hie.invalid:2575"
	if got := CheckProxy(cfg)[0].Detail; !strings.HasPrefix(got, "direct (HL7 v2 over MLLP is not HTTP") {
		t.Errorf("mllps: %q", got)
	}
	if got := CheckProxy(config.Default()); got != nil {
		t.Errorf("no exchange: %+v", got)
	}
}

// TestDoctorThroughHTTPSProxy: with an https:// proxy the doctor judges
// the proxy's own certificate as delivery does (the system's roots and
// proxy.ca_file, not exchange.tls), so that both pass or both fail: with
// the clinic's CA in proxy.ca_file the handshake and GET /metadata go
// through; without it the failure is the proxy's certificate, in words
// that name proxy.ca_file, and not the exchange's.
func TestDoctorThroughHTTPSProxy(t *testing.T) {
	cfg, _ := proxiedExchange(t)
	dir := t.TempDir()
	clinic := newPKI(t, dir, "clinic IT")
	certPEM, keyPEM, err := clinic.ca.Issue("clinic proxy", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, false)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "pr0xy-s3cret"
	p := proxytest.New(t, proxytest.Options{User: "ferry", Password: secret, Hosts: map[string]string{"hie.invalid": "127.0.0.1"},
		TLS: &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert}})
	opts := DoctorOptions{Timeout: 5 * time.Second}
	redacted := "https://ferry:[REDACTED]@" + p.Addr

	cfg.Proxy = configproxy.Config{URL: configproxy.URL(p.URL()), CAFile: clinic.caFile}
	c := CheckExchange(context.Background(), cfg, opts)[0]
	if c.Level != OK || !strings.Contains(c.Detail, "TLS handshake through proxy "+redacted+" ok") || !strings.Contains(c.Detail, "GET /metadata answered 200 OK") {
		t.Errorf("with proxy.ca_file: %s %s", c.Level, c.Detail)
	}
	if p.Tunnels() < 2 || p.ClientCerts() != 0 {
		t.Errorf("tunnels %d, client certificates shown to the proxy %d", p.Tunnels(), p.ClientCerts())
	}

	cfg.Proxy.CAFile = ""
	c = CheckExchange(context.Background(), cfg, opts)[0]
	if c.Level != Fail || !strings.Contains(c.Detail, "unknown authority with the proxy") || !strings.Contains(c.Detail, "proxy.ca_file") ||
		strings.Contains(c.Detail, "exempt") || strings.Contains(c.Detail, secret) {
		t.Errorf("without proxy.ca_file: %s %s", c.Level, c.Detail)
	}
}
