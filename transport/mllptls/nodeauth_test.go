package mllptls

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// TestNodeAuthFailuresReported: every failed authentication on the
// forwarding connection is reported to OnAuthFailure (ATNA's
// node-authentication-failure trigger, for ferry's outbound side) as
// mllps://host:port: the exchange's certificate from a CA ferry does not
// trust or for another name (found at Connect), and the exchange refusing
// ferry's client certificate or its absence (with TLS 1.3 that refusal
// comes with the first read, in Send). A down exchange, a peer that does
// not speak TLS and a forwarded message are not reported.
func TestNodeAuthFailuresReported(t *testing.T) {
	p, srv := testPKI(t)
	ex := startExchange(t, srv, &exchangeRecorder{}, "")
	addr := ex.Addr().String()
	other, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		got  []string
		prob []configtls.Problem
	)
	hook := func(remote string, hs *configtls.HandshakeError) {
		mu.Lock()
		defer mu.Unlock()
		got, prob = append(got, remote), append(prob, hs.Problem)
	}
	take := func() ([]string, []configtls.Problem) {
		mu.Lock()
		defer mu.Unlock()
		g, pr := got, prob
		got, prob = nil, nil
		return g, pr
	}
	// attempt is what the dispatcher does: Connect, then (once
	// connected) Send.
	attempt := func(url string, tc configtls.ClientConfig) error {
		s, err := New(Config{URL: url, Timeout: 5 * time.Second, TLS: tc, OnAuthFailure: hook}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		if err := s.Connect(context.Background()); err != nil {
			return err
		}
		return s.Send(context.Background(), item(t, "it1", adtMsg("N1")))
	}
	cases := []struct {
		name string
		tls  configtls.ClientConfig
		want configtls.Problem
	}{
		{"server certificate from another CA", configtls.ClientConfig{CAFile: other.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}, configtls.UnknownAuthority},
		{"server certificate for another host", configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey, ServerName: "hie.example.org"}, configtls.HostnameMismatch},
		{"no client certificate", configtls.ClientConfig{CAFile: p.CA}, configtls.ClientCertRejected},
		{"client certificate from another CA", configtls.ClientConfig{CAFile: p.CA, CertFile: other.ClientCert, KeyFile: other.ClientKey}, configtls.ClientCertRejected},
	}
	for _, tc := range cases {
		if err := attempt("mllps://"+addr, tc.tls); err == nil {
			t.Fatalf("%s: forwarded", tc.name)
		}
		g, pr := take()
		if len(g) != 1 || g[0] != "mllps://"+addr || pr[0] != tc.want {
			t.Errorf("%s: reported %v %v, want one %q for mllps://%s", tc.name, g, pr, tc.want, addr)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("\x0bMSH|^~\\&|not TLS\r\x1c\r"))
			c.Close()
		}
	}()
	for name, a := range map[string]string{"exchange down": down, "peer without TLS": plain.Addr().String()} {
		if err := attempt("mllps://"+a, configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}); err == nil {
			t.Fatalf("%s: forwarded", name)
		}
		if g, pr := take(); len(g) != 0 {
			t.Errorf("%s: reported as node authentication failures %v %v", name, g, pr)
		}
	}
	if err := attempt("mllps://"+addr, configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}); err != nil {
		t.Fatal(err)
	}
	if g, _ := take(); len(g) != 0 {
		t.Errorf("a forwarded message reported %v", g)
	}
}
