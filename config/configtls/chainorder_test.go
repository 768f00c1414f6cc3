package configtls

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestChainWithLeafNotFirst: a cert_file whose issuing certificate comes
// before the one key_file belongs to (a bundle pasted "CA, then ours") is
// named for what it is, an order to change, not a key of another
// certificate: the key is right, and no other key would do.
func TestChainWithLeafNotFirst(t *testing.T) {
	p := demo(t)
	ca, _ := os.ReadFile(p.CA)
	leaf, _ := os.ReadFile(p.ClientCert)
	chain := filepath.Join(t.TempDir(), "chain.pem")
	if err := os.WriteFile(chain, append(append([]byte{}, ca...), leaf...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ClientConfig{CertFile: chain, KeyFile: p.ClientKey}.LoadTLSConfig()
	if err == nil {
		t.Fatal("a chain with the client certificate second was loaded; the first certificate is the one sent as ferry's")
	}
	for _, want := range []string{"cert_file", strconv.Quote(chain), "certificate 2", "ferry demo client", "must come first"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "belongs to a different certificate") {
		t.Errorf("%q blames the key, which is the right one", err)
	}
	if err := CheckKeyPair(chain, p.ClientKey); err == nil || !strings.Contains(err.Error(), "must come first") {
		t.Errorf("CheckKeyPair (the status): %v", err)
	}
}
