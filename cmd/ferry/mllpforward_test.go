package main

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// v2Exchange records the messages an MLLP-over-TLS exchange receives.
type v2Exchange struct {
	mu  sync.Mutex
	got []string
}

func (e *v2Exchange) Consume(_ context.Context, in adapters.Raw) error {
	e.mu.Lock()
	e.got = append(e.got, string(in.Body))
	e.mu.Unlock()
	return nil
}

func (e *v2Exchange) messages() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

// startV2Exchange runs ferry's MLLP listener with TLS requiring client
// certificates from the demo CA, on addr, as an exchange that takes v2.
func startV2Exchange(t *testing.T, paths pki.Paths, addr string, rec *v2Exchange) *mllp.Source {
	t.Helper()
	srv, err := configtls.ServerConfig{CertFile: paths.ServerCert, KeyFile: paths.ServerKey, ClientCAFile: paths.CA}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	s, err := mllp.New(adapters.Settings{ID: "mllp/hie"}, mllp.Config{Listen: addr, TLS: srv}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// TestGatewayForwardsV2OverMLLPTLS: with exchange.url mllps://, the
// gateway acknowledges messages once they are on disk, forwards each one
// as it arrived over MLLP in mutual TLS, keeps them while the exchange is
// down, and delivers them in order once it is back.
func TestGatewayForwardsV2OverMLLPTLS(t *testing.T) {
	paths, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	// A port with nothing on it yet: the exchange is down at first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
exchange:
  url: mllps://%s
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
`, t.TempDir(), addr, paths.CA, paths.ClientCert, paths.ClientKey)
	gw := runGateway(t, cfg)
	conn, rd := dial(t, gw)
	const n = 6
	var sent []string
	for i := range n {
		m := adt(i)
		if got := send(t, conn, rd, m); got != "AA" {
			t.Fatalf("message %d: MSA-1 %s, want AA while the exchange is down", i, got)
		}
		sent = append(sent, m)
	}
	if gw.q.Len() != n {
		t.Fatalf("queue holds %d, want %d while the exchange is down", gw.q.Len(), n)
	}
	rec := &v2Exchange{}
	startV2Exchange(t, paths, addr, rec)
	waitFor(t, "the queue to drain to the v2 exchange", func() bool { return gw.q.Len() == 0 })
	got := rec.messages()
	if len(got) != n {
		t.Fatalf("exchange received %d messages, want %d", len(got), n)
	}
	// Patients 0..5 are distinct keys: order is kept per patient, so
	// compare as sets, and each message byte for byte.
	want := map[string]bool{}
	for _, m := range sent {
		want[m] = true
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("exchange received a message not sent as such: %q", strings.SplitN(g, "\r", 2)[0])
		}
		delete(want, g)
	}
	if dl := gw.q.Stats().DeadLetters; dl != 0 {
		t.Errorf("dead letters: %d", dl)
	}
}
