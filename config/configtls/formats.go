package configtls

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
)

// What a clinic is handed is often not a PEM file: Windows exports a
// certificate as "DER encoded binary X.509 (.CER)" by default, a CA chain
// as a PKCS #7 .p7b, a certificate with its key as a .pfx, and Java
// tools write DER keys. ferry reads PEM only; these hints name the
// format found and the command that writes it out as PEM.
const (
	derCertHint = `it is a binary (DER) certificate, not PEM, as Windows exports "DER encoded binary X.509 (.CER)"; ` +
		`convert it: openssl x509 -inform der -in <file> -out <file>.pem (on Windows: certutil -encode <file> <file>.pem)`
	derKeyHint = "it is a binary (DER) private key, not PEM; convert it: openssl pkey -inform der -in <file> -out <file>.pem"
	pkcs12Hint = "it is a PKCS #12 file (.pfx/.p12: the certificate and its key behind a password), not PEM; write them out: " +
		"openssl pkcs12 -in <file> -clcerts -nokeys -out cert.pem (the certificate, cert_file) and " +
		"openssl pkcs12 -in <file> -nocerts -nodes -out key.pem (the key, key_file)"
	pkcs7Hint    = "it is a PKCS #7 bundle (.p7b), not PEM certificates; write them out: openssl pkcs7 -print_certs -in <file> -out <file>.pem"
	pkcs7DERHint = "it is a binary PKCS #7 bundle (.p7b), not PEM certificates; write them out: openssl pkcs7 -inform der -print_certs -in <file> -out <file>.pem"
)

var (
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
)

// formatHint names a file format ferry does not read but an operator is
// likely to give, with how to convert it; "" for anything else.
func formatHint(data []byte) string {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "PKCS7" || b.Type == "CMS" {
			return pkcs7Hint
		}
	}
	if len(data) == 0 || data[0] != 0x30 { // an ASN.1 SEQUENCE
		return ""
	}
	if _, err := x509.ParseCertificates(data); err == nil {
		return derCertHint
	}
	if isDERKey(data) {
		return derKeyHint
	}
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(data, &ci); err == nil && ci.ContentType.Equal(oidSignedData) {
		return pkcs7DERHint
	}
	var pfx struct {
		Version  int
		AuthSafe struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"optional"`
		}
		MacData asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(data, &pfx); err == nil && pfx.Version == 3 &&
		(pfx.AuthSafe.ContentType.Equal(oidData) || pfx.AuthSafe.ContentType.Equal(oidSignedData)) {
		return pkcs12Hint
	}
	return ""
}

func isDERKey(data []byte) bool {
	if _, err := x509.ParsePKCS8PrivateKey(data); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(data); err == nil {
		return true
	}
	_, err := x509.ParseECPrivateKey(data)
	return err == nil
}
