package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// withBOM rewrites path's content behind a UTF-8 byte-order mark, as
// Notepad before 2019 and PowerShell 5's Set-Content -Encoding UTF8 save
// it, into a new file of the same mode, and returns its name.
func withBOM(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bom-"+filepath.Base(path))
	if err := os.WriteFile(out, append([]byte("\xef\xbb\xbf"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAuthFilesWithByteOrderMark: the SMART key, and the UDAP certificate
// chain, key and trust anchors, saved by a Windows tool as "UTF-8 with
// BOM", are read whole, as the tls blocks' files are. The mark hid the
// first PEM block: the SMART key was "no PEM private key block", the
// UDAP certificate file lost ferry's own certificate (its intermediate
// was taken for it, and the key was "not the private key of the
// certificate"), and the community's first trust anchor was left out
// without a word, so the exchange's metadata was "not trusted".
func TestAuthFilesWithByteOrderMark(t *testing.T) {
	t.Run("SMART", func(t *testing.T) {
		keyFile, ex, a := newSMARTFixture(t)
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: a.clientID, KeyFile: withBOM(t, keyFile)}})
		if err := s.Send(context.Background(), item("01BOMSMART")); err != nil {
			t.Fatalf("SMART key with a BOM: %v", err)
		}
	})
	t.Run("UDAP", func(t *testing.T) {
		root := newTestCA(t, "community root")
		ex := newExchange(t, false)
		newUDAPServer(t, ex, root)
		issuing := root.sub(t, "community issuing CA")
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cfg := udapSetup(t, root, key)
		cfg.CertFile = withBOM(t, writeCerts(t, "client.pem", issuing.issue(t, "ferry clinic 12", clientURIValue, key), issuing.cert))
		cfg.KeyFile = withBOM(t, cfg.KeyFile)
		// The anchors a community publishes: its root first.
		cfg.TrustAnchors = withBOM(t, writeCerts(t, "anchors.pem", root.cert, newTestCA(t, "another community").cert))
		id, err := LoadUDAPClient(cfg.CertFile, cfg.KeyFile)
		if err != nil || id.URI != clientURIValue || len(id.Chain) != 2 {
			t.Fatalf("UDAP certificate and key with a BOM: %+v, %v", id, err)
		}
		regFile := filepath.Join(t.TempDir(), "udap", "client.json")
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
		if err := s.Send(context.Background(), item("01BOMUDAP")); err != nil {
			t.Fatalf("UDAP files with a BOM: %v", err)
		}
	})
}
