package configtls

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestChainOutOfOrderNamed: a cert_file that holds the client
// certificate after the CA or intermediate that signed it (cat ca.pem
// client.pem, or a CA's bundle saved root first) cannot be used, since
// TLS sends the file's first certificate as ferry's own; the error says
// that, and where the certificate of key_file is, rather than that the
// key belongs to a different certificate, which sent the operator asking
// for a new key pair.
func TestChainOutOfOrderNamed(t *testing.T) {
	p := demo(t)
	ca, err := os.ReadFile(p.CA)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := os.ReadFile(p.ClientCert)
	if err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(t.TempDir(), "chain.pem")
	if err := os.WriteFile(chain, append(ca, leaf...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ClientConfig{CertFile: chain, KeyFile: p.ClientKey}.LoadTLSConfig()
	if err == nil {
		t.Fatal("loaded a chain whose first certificate is not key_file's")
	}
	for _, w := range []string{"cert_file", strconv.Quote(chain), "certificate 2", "first"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "belongs to a different certificate") {
		t.Errorf("%q blames the key", err)
	}
	if err := CheckKeyPair(chain, p.ClientKey); err == nil || !strings.Contains(err.Error(), "first") {
		t.Errorf("CheckKeyPair: %v", err)
	}
}
