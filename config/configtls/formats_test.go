package configtls

import (
	"encoding/asn1"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryFormatsNamed: what an exchange or the Windows certificate
// store hands a clinic is often not PEM: a binary (DER) .cer, as Windows
// exports "DER encoded binary X.509", a PKCS #7 .p7b holding the CA
// chain, a .pfx with the certificate and key behind a password, a DER
// key. Each was "no certificate found (is it PEM
// (-----BEGIN CERTIFICATE-----)?)", or "no private key found (is it
// PEM ...)", which for a .p7b that is PEM said the wrong thing and for
// the others did not say what the file is or how to convert it.
func TestBinaryFormatsNamed(t *testing.T) {
	p := demo(t)
	dir := t.TempDir()
	der := func(path string) []byte {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: not PEM", path)
		}
		return blk.Bytes
	}
	write := func(name string, b []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caDER, certDER, keyDER := der(p.CA), der(p.ClientCert), der(p.ClientKey)

	// A certs-only PKCS #7 SignedData (RFC 2315 §9.1), as openssl
	// crl2pkcs7 -nocrl and Windows' .p7b export write.
	mustMarshal := func(v any) []byte {
		t.Helper()
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	certs := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(append([]byte{}, certDER...), caDER...)}
	signedData := mustMarshal(struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		ContentInfo      struct{ ContentType asn1.ObjectIdentifier }
		Certificates     asn1.RawValue
		SignerInfos      asn1.RawValue
	}{
		Version:          1,
		DigestAlgorithms: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true},
		ContentInfo:      struct{ ContentType asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}},
		Certificates:     certs,
		SignerInfos:      asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true},
	})
	p7 := mustMarshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: signedData}})
	// A PKCS #12 PFX (RFC 7292 §4): version 3, the authenticated safe
	// as data, the MAC.
	authSafe := mustMarshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true,
		Bytes: mustMarshal([]byte{0x30, 0x00})}})
	type digestInfo struct {
		Algorithm struct{ Algorithm asn1.ObjectIdentifier }
		Digest    []byte
	}
	type macData struct {
		Mac        digestInfo
		Salt       []byte
		Iterations int
	}
	mac := macData{Salt: make([]byte, 8), Iterations: 2048}
	mac.Mac.Algorithm.Algorithm = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} // SHA-256
	mac.Mac.Digest = make([]byte, 32)
	pfx := mustMarshal(struct {
		Version  int
		AuthSafe asn1.RawValue
		MacData  macData
	}{Version: 3, AuthSafe: asn1.RawValue{FullBytes: authSafe}, MacData: mac})

	caDERFile := write("hie-ca.cer", caDER)
	p7PEM := write("hie-chain.p7b", pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7}))
	p7DER := write("hie-chain-der.p7b", p7)
	pfxFile := write("client.pfx", pfx)
	keyDERFile := write("client-key.der", keyDER)
	certDERFile := write("client.cer", certDER)

	for _, tc := range []struct {
		name string
		cfg  ClientConfig
		want []string
	}{
		{"DER CA", ClientConfig{CAFile: caDERFile}, []string{"ca_file", "binary (DER) certificate", "openssl x509 -inform der"}},
		{"PEM p7b", ClientConfig{CAFile: p7PEM}, []string{"ca_file", "PKCS #7", "openssl pkcs7 -print_certs"}},
		{"DER p7b", ClientConfig{CAFile: p7DER}, []string{"ca_file", "PKCS #7", "openssl pkcs7 -inform der -print_certs"}},
		{"pfx as cert", ClientConfig{CertFile: pfxFile, KeyFile: p.ClientKey}, []string{"cert_file", "PKCS #12", "openssl pkcs12"}},
		{"DER cert", ClientConfig{CertFile: certDERFile, KeyFile: p.ClientKey}, []string{"cert_file", "binary (DER) certificate"}},
		{"pfx as key", ClientConfig{CertFile: p.ClientCert, KeyFile: pfxFile}, []string{"key_file", "PKCS #12", "openssl pkcs12"}},
		{"DER key", ClientConfig{CertFile: p.ClientCert, KeyFile: keyDERFile}, []string{"key_file", "binary (DER) private key", "openssl pkey -inform der"}},
	} {
		_, err := tc.cfg.LoadTLSConfig()
		if err == nil {
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, err, w)
			}
		}
	}
	// Anything else is still asked whether it is PEM.
	if _, err := ParseCertificates([]byte("not a certificate")); err == nil || !strings.Contains(err.Error(), "is it PEM") {
		t.Errorf("text: %v", err)
	}
}
