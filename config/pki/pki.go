// Package pki generates a throwaway public-key infrastructure: a certificate
// authority and the server and client certificates it issues. ferry uses it
// for `ferry demo`, for tests that need real mutual TLS, and in CI. It is not
// meant for production certificates; an exchange issues those.
//
// Keys are ECDSA P-256 (accepted by every TLS 1.2 peer that offers the ECDHE
// suites BCP 195 recommends) and certificates use SHA-256 signatures.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-health/ferry/queue/durable"
)

// Validity periods. The CA outlives the leaves so a demo set stays usable
// for its whole leaf lifetime; both are short enough that a leaked demo key
// is not valid for long.
const (
	CAValidity   = 2 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
	// backdate tolerates clock skew between the machine that issued a
	// certificate and the one that verifies it.
	backdate = 5 * time.Minute
)

// CA is an in-memory certificate authority.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
	// now is the clock; tests may replace it through newCAAt.
	now func() time.Time
}

// NewCA creates a self-signed CA named cn, valid for CAValidity.
func NewCA(cn string) (*CA, error) {
	return newCAAt(cn, time.Now, CAValidity)
}

func newCAAt(cn string, now func() time.Time, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"ferry demo"}},
		NotBefore:             t.Add(-backdate),
		NotAfter:              t.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse ca certificate: %w", err)
	}
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:     key,
		now:     now,
	}, nil
}

// Certificate returns the parsed CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM form, for a trust store.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool returns a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Issue creates a leaf certificate for cn, valid for LeafValidity, with the
// given DNS and IP subject alternative names. client selects the extended
// key usage: client authentication (mTLS client) when true, server
// authentication when false. It returns PEM-encoded certificate and PKCS#8
// private key.
func (ca *CA) Issue(cn string, dnsNames []string, ips []net.IP, client bool) (certPEM, keyPEM []byte, err error) {
	return ca.IssueValid(cn, dnsNames, ips, client, ca.now().Add(-backdate), ca.now().Add(LeafValidity))
}

// IssueValid is Issue with an explicit validity window; tests use it to make
// expired or not-yet-valid certificates.
func (ca *CA) IssueValid(cn string, dnsNames []string, ips []net.IP, client bool, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	if !notAfter.After(notBefore) {
		return nil, nil, errors.New("issue certificate: not_after must be after not_before")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key for %q: %w", cn, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	ski, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	eku := x509.ExtKeyUsageServerAuth
	if client {
		eku = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"ferry demo"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{eku},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ca.cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate for %q: %w", cn, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key for %q: %w", cn, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// Paths names the files WriteDemoSet wrote.
type Paths struct {
	Dir        string
	CA         string // ca.pem
	ServerCert string // server.pem
	ServerKey  string // server.key
	ClientCert string // client.pem
	ClientKey  string // client.key
}

// WriteDemoSet creates dir (0700) and writes a fresh CA and a server and a
// client certificate issued by it: ca.pem, server.pem/server.key (for
// localhost, 127.0.0.1 and ::1) and client.pem/client.key. Keys are written
// 0600, certificates 0644. Existing files are replaced.
func WriteDemoSet(dir string) (Paths, error) {
	p := Paths{
		Dir:        dir,
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client.key"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Paths{}, fmt.Errorf("create pki dir %q: %w", dir, err)
	}
	ca, err := NewCA("ferry demo CA")
	if err != nil {
		return Paths{}, err
	}
	scert, skey, err := ca.Issue("localhost", []string{"localhost"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, false)
	if err != nil {
		return Paths{}, err
	}
	ccert, ckey, err := ca.Issue("ferry demo client", nil, nil, true)
	if err != nil {
		return Paths{}, err
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{p.CA, ca.CertPEM(), 0o644},
		{p.ServerCert, scert, 0o644},
		{p.ServerKey, skey, 0o600},
		{p.ClientCert, ccert, 0o644},
		{p.ClientKey, ckey, 0o600},
	}
	for _, f := range files {
		if err := writeFile(f.path, f.data, f.mode); err != nil {
			return Paths{}, err
		}
	}
	return p, nil
}

// writeFile writes atomically and durably, and forces mode even if the
// file existed with looser permissions or the umask is unusual.
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := durable.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("write certificate set: %w", err)
	}
	return nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero
}

// subjectKeyID follows RFC 5280 §4.2.1.2 method 1 (SHA-1 of the public key
// bit string); SHA-1 is used as an identifier here, not for security.
func subjectKeyID(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("decode public key: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}
