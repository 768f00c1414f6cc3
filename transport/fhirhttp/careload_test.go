package fhirhttp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/transport"
)

// TestFixedCAFileResumesDelivery: a handshake failing because ca_file does
// not hold the exchange's CA is retried, and once the operator puts the
// right CA into ca_file, the next attempt succeeds without a restart, as
// the log line ("delivery paused until fixed") and the README promise.
func TestFixedCAFileResumesDelivery(t *testing.T) {
	ex := newExchange(t, false)
	other, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "hie-ca.pem")
	copyFile(t, other.CA, caFile) // the wrong CA
	tc := ex.clientTLS()
	tc.CAFile = caFile
	s := newSink(t, Config{URL: ex.url(), TLS: tc})

	err = s.Send(context.Background(), item("01CA1"))
	if hs := configtls.Diagnose(err); hs == nil || hs.Problem != configtls.UnknownAuthority {
		t.Fatalf("with the wrong CA: %v, want an unknown authority", err)
	}

	copyFile(t, ex.pki.CA, caFile) // the operator fixes ca_file
	if err := s.Send(context.Background(), item("01CA1")); err != nil {
		if errors.Is(err, transport.ErrNotConnected) {
			// The dispatcher reconnects on ErrNotConnected and sends again.
			if err := s.Connect(context.Background()); err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), item("01CA1"))
		}
		if err != nil {
			t.Fatalf("after ca_file was fixed: %v", err)
		}
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
