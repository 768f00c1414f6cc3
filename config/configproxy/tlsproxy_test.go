package configproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configproxy/proxytest"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// TestApplyHTTPSProxyAlias: net/http is never given an https proxy URL
// (it would dial it with the Transport's TLSClientConfig) but an http
// stand-in for the same host and port, which prints, in every error and
// hint, as the https proxy it stands for, password redacted.
func TestApplyHTTPSProxyAlias(t *testing.T) {
	for _, tc := range []struct{ proxy, want string }{
		{"https://ferry:" + secret + "@proxy.clinic.local:8443", "https://ferry:[REDACTED]@proxy.clinic.local:8443"},
		{"https://proxy.clinic.local", "https://proxy.clinic.local:443"},
		{"https://[fd00::1]:3128", "https://[fd00::1]:3128"},
		{"http://proxy.clinic.local:3128", "http://proxy.clinic.local:3128"},
	} {
		tr := &http.Transport{}
		Config{URL: URL(tc.proxy)}.Apply(tr)
		target, _ := url.Parse("https://hie.example.org/fhir")
		got, err := tr.Proxy(&http.Request{URL: target})
		if err != nil || got == nil {
			t.Fatalf("%s: %v, %v", tc.proxy, got, err)
		}
		if strings.HasPrefix(tc.proxy, "https") && got.Scheme != "http" {
			t.Errorf("%s: net/http is given scheme %q", tc.proxy, got.Scheme)
		}
		if s := Redact(got); s != tc.want {
			t.Errorf("%s: prints as %q, want %q", tc.proxy, s, tc.want)
		}
		if got.User.String() != mustParse(t, tc.proxy).User.String() {
			t.Errorf("%s: the credentials for Proxy-Authorization were lost", tc.proxy)
		}
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDialHTTPSProxy: the doctor's tunnel through an https proxy checks
// the proxy's certificate against the system's roots and proxy.ca_file
// (read at each dial) and shows it no client certificate; an untrusted
// proxy is a TLS problem of the proxy's, a missing ca_file an operator's.
func TestDialHTTPSProxy(t *testing.T) {
	ca, err := pki.NewCA("clinic IT CA")
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
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	p := proxytest.New(t, proxytest.Options{User: "ferry", Password: secret,
		TLS: &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pu := mustParse(t, p.URL())

	c, err := Config{CAFile: caFile}.Dial(ctx, pu, echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q, %v", buf, err)
	}
	c.Close()
	if p.Tunnels() != 1 || p.ClientCerts() != 0 {
		t.Errorf("tunnels %d, client certificates %d", p.Tunnels(), p.ClientCerts())
	}

	_, err = Config{}.Dial(ctx, pu, echo.Addr().String())
	hs := configtls.Diagnose(err)
	if hs == nil || hs.Problem != configtls.UnknownAuthority || !IsProxyTLS(err) ||
		!strings.Contains(hs.Hint, "https proxy https://"+p.Addr) || !strings.Contains(hs.Hint, "proxy.ca_file") || strings.Contains(err.Error(), secret) {
		t.Errorf("untrusted proxy: %v", err)
	}

	_, err = Config{CAFile: filepath.Join(t.TempDir(), "gone.pem")}.Dial(ctx, pu, echo.Addr().String())
	var fe *configtls.FilesError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "proxy.ca_file") {
		t.Errorf("missing ca_file: %v", err)
	}
}
