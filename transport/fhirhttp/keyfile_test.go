package fhirhttp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyFileLayouts: the SMART and UDAP key files are read as the TLS
// key_file is: the private key is found among the other PEM blocks of the
// file, such as the EC PARAMETERS block `openssl ecparam -genkey` writes
// before the key, or the certificate of a combined certificate-and-key
// file; a passphrase-protected key is named as one.
func TestKeyFileLayouts(t *testing.T) {
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, blk := range blocks {
			b = append(b, pem.EncodeToMemory(blk)...)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	params, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 132, 0, 34}) // secp384r1
	// What `openssl ecparam -name secp384r1 -genkey -out smart.key` writes.
	ecparam := write("smart.key", &pem.Block{Type: "EC PARAMETERS", Bytes: params}, &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	if k, err := LoadSMARTKey(ecparam); err != nil || !k.Signer.Public().(*ecdsa.PublicKey).Equal(&ec.PublicKey) {
		t.Errorf("openssl ecparam -genkey key: %v", err)
	}

	ca := newTestCA(t, "community root")
	cert := ca.issue(t, "ferry", clientURIValue, ec)
	combined := write("udap.pem", &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}, &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	if _, err := LoadUDAPClient(combined, combined); err != nil {
		t.Errorf("certificate and key in one file: %v", err)
	}

	enc := write("enc.key", &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}})
	if _, err := LoadSMARTKey(enc); err == nil || !strings.Contains(err.Error(), "passphrase") || !strings.Contains(err.Error(), enc) {
		t.Errorf("encrypted key: %v, want one naming the file and the passphrase", err)
	}
}
