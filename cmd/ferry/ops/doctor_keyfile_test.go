package ops

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCheckCertificatesKeyAsTheGatewayReadsIt: ferry doctor judged a
// key_file by tls.X509KeyPair alone, so a key behind a passphrase was
// "tls: failed to parse private key" and a binary (DER) key "tls: failed
// to find any PEM data in key input", where config check and the
// gateway's start say what the file is and what to do; the doctor, run
// to find out why ferry will not start, now says the same.
func TestCheckCertificatesKeyAsTheGatewayReadsIt(t *testing.T) {
	dir := t.TempDir()
	good := newPKI(t, dir, "exchange")
	keyPEM, err := os.ReadFile(good.clKey)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		t.Fatal("demo key is not PEM")
	}
	priv, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(priv.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	// A legacy OpenSSL encrypted key (Proc-Type: 4,ENCRYPTED), as
	// openssl ec -aes256 writes one.
	enc, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", sec1, []byte("secret"), x509.PEMCipherAES256) //nolint:staticcheck // writing what a clinic may be given
	if err != nil {
		t.Fatal(err)
	}
	encKey := writeFile(t, dir, "enc.key", pem.EncodeToMemory(enc))
	derKey := writeFile(t, dir, "key.der", blk.Bytes)
	for _, tc := range []struct {
		name, key string
		words     []string
	}{
		{"passphrase", encKey, []string{"protected by a passphrase", "unencrypted key"}},
		{"DER", derKey, []string{"binary (DER) private key", "openssl pkey -inform der"}},
	} {
		cfg := exchangeConfig(t, "https://hie.example.org/fhir", good.caFile, good.clientCert, tc.key)
		c := CheckCertificates(cfg, DoctorOptions{Now: time.Now()})[1]
		if c.Level != Fail {
			t.Errorf("%s: level %v: %s", tc.name, c.Level, c.Detail)
		}
		for _, w := range tc.words {
			if !strings.Contains(c.Detail, w) {
				t.Errorf("%s: %q does not say %q", tc.name, c.Detail, w)
			}
		}
	}
}
