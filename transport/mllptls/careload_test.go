package mllptls

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// TestFixedCAFileResumesForwarding: while ca_file does not hold the
// exchange's CA, Connect fails with a diagnosed handshake problem (the
// dispatcher retries it); once the operator puts the right CA there, the
// next Connect succeeds without a restart.
func TestFixedCAFileResumesForwarding(t *testing.T) {
	p, srv := testPKI(t)
	ex := startExchange(t, srv, &exchangeRecorder{}, "")
	other, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "hie-ca.pem")
	copyFile(t, other.CA, caFile)
	s, err := New(Config{URL: "mllps://" + ex.Addr().String(), Timeout: 5 * time.Second,
		TLS: configtls.ClientConfig{CAFile: caFile, CertFile: p.ClientCert, KeyFile: p.ClientKey}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	err = s.Connect(context.Background())
	if hs := configtls.Diagnose(err); hs == nil || hs.Problem != configtls.UnknownAuthority {
		t.Fatalf("with the wrong CA: %v, want an unknown authority", err)
	}
	copyFile(t, p.CA, caFile) // the operator fixes ca_file
	if err := s.Connect(context.Background()); err != nil {
		t.Fatalf("after ca_file was fixed: %v", err)
	}
	if err := s.Send(context.Background(), item(t, "it1", adtMsg("C1"))); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}
