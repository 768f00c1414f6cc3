package configtls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// readFile reads a configured file and turns the common failures into plain
// words that name the setting and the path.
func readFile(field, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s %q: file does not exist: %w", field, path, err)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%s %q: permission denied (is it readable by the account ferry runs as?): %w", field, path, err)
	default:
		return nil, fmt.Errorf("%s %q: %w", field, path, err)
	}
}

// readKeyFile is readFile for a private key: it checks that the file holds
// an unencrypted PEM key and then refuses it when its mode lets other
// accounts read it (on Unix), judged on the open file so that the file
// read is the file checked. The content comes first: a certificate named
// as key_file is a swap to point out, not a permission problem.
func readKeyFile(field, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return readFile(field, path) // the same words for the same failures
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", field, path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", field, path, err)
	}
	if len(b) > maxKeyBytes {
		return nil, fmt.Errorf("%s %q: larger than %d bytes; is it a private key?", field, path, maxKeyBytes)
	}
	b = TrimBOM(b)
	if err := checkKeyPEM(path, b); err != nil {
		return nil, err
	}
	if err := checkKeyMode(field, path, fi); err != nil {
		return nil, err
	}
	return b, nil
}

// maxKeyBytes bounds what is read from a key file; an RSA 16384-bit key in
// PEM is under 13 KB.
const maxKeyBytes = 1 << 20

// KeyFileMode checks that the private key at path is not readable by other
// accounts, as LoadTLSConfig does (on Unix; elsewhere it returns nil), for
// `ferry doctor`.
func KeyFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("key_file %q: %w", path, err)
	}
	return checkKeyMode("key_file", path, fi)
}

// readCerts returns every certificate in a PEM file, in file order.
func readCerts(field, path string) ([]*x509.Certificate, error) {
	data, err := readFile(field, path)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", field, path, err)
	}
	return certs, nil
}

// ParseCertificates returns every certificate in PEM data, in order,
// skipping other blocks. Its errors say what an operator most likely did
// wrong (a key file where a certificate belongs, a DER file), so that
// `ferry doctor` and config loading tell the same story.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	data = TrimBOM(data)
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d cannot be parsed: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		hint := "is it PEM (-----BEGIN CERTIFICATE-----)?"
		switch {
		case isUTF16(data):
			hint = utf16Hint
		case formatHint(data) != "":
			hint = formatHint(data)
		case bytes.Contains(data, []byte("PRIVATE KEY-----")):
			hint = "it holds a private key; are cert and key files swapped?"
		}
		return nil, fmt.Errorf("no certificate found (%s)", hint)
	}
	return certs, nil
}

// loadKeyPair reads a certificate (chain) and its key and checks that they
// belong together and that the certificate is currently valid.
func loadKeyPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	pair, err := readKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	leaf := pair.Leaf
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("cert_file %q: certificate %q expired on %s; ask the exchange for a renewed certificate",
			certFile, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("cert_file %q: certificate %q is not valid until %s (check the system clock)",
			certFile, leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return pair, nil
}

// readKeyPair reads a certificate (chain) and its key and checks that they
// belong together, whatever their dates.
func readKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certs, err := readCerts("cert_file", certFile)
	if err != nil {
		return nil, err
	}
	certPEM, _ := os.ReadFile(certFile) // read successfully just above
	certPEM = TrimBOM(certPEM)
	keyPEM, err := readKeyFile("key_file", keyFile)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			if i := KeyCertIndex(certs, keyPEM); i > 0 {
				// TLS sends the file's first certificate as ferry's
				// own (RFC 8446 4.4.2: "The sender's certificate MUST
				// come in the first CertificateEntry in the list").
				return nil, fmt.Errorf("cert_file %q: the certificate of key_file %q is certificate %d in the file (%q), after %q: it must come first, then the certificates that issued it",
					certFile, keyFile, i+1, certs[i].Subject.CommonName, certs[0].Subject.CommonName)
			}
			return nil, fmt.Errorf("key_file %q does not match the certificate in cert_file %q (the key belongs to a different certificate): %w", keyFile, certFile, err)
		}
		return nil, fmt.Errorf("cert_file %q, key_file %q: %w", certFile, keyFile, err)
	}
	pair.Leaf = certs[0]
	return &pair, nil
}

// KeyCertIndex returns the index in certs of the certificate the key in
// keyPEM belongs to, or -1 when none does: for a cert_file whose key does
// not match its first certificate, whether the key's own certificate is
// in the file after another, an order to change rather than a wrong key.
func KeyCertIndex(certs []*x509.Certificate, keyPEM []byte) int {
	for i, c := range certs {
		one := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		if _, err := tls.X509KeyPair(one, keyPEM); err == nil {
			return i
		}
	}
	return -1
}

// CheckKeyPair reports why the certificate and key on disk could not be
// loaded as a pair (a file unreadable or half written, the key another
// certificate's, a key others can read), as LoadTLSConfig and a reload
// would refuse them; dates are CertStatus's to report. A running gateway
// keeps the pair it has when a reload fails, so the status must ask this
// rather than show the expiry of a certificate that is not in use.
func CheckKeyPair(certFile, keyFile string) error {
	_, err := readKeyPair(certFile, keyFile)
	return err
}

func checkKeyPEM(path string, data []byte) error {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
			return fmt.Errorf("key_file %q: the key is protected by a passphrase; ferry needs an unencrypted key readable only by its service account", path)
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return nil
		}
	}
	hint := "is it PEM (-----BEGIN PRIVATE KEY-----)?"
	switch {
	case isUTF16(data):
		hint = utf16Hint
	case formatHint(data) != "":
		hint = formatHint(data)
	case bytes.Contains(data, []byte("BEGIN CERTIFICATE")):
		hint = "it holds a certificate; are cert and key files swapped?"
	}
	return fmt.Errorf("key_file %q: no private key found (%s)", path, hint)
}

// TrimBOM drops the UTF-8 byte-order mark Windows tools put before the
// text ("UTF-8 with BOM": Notepad before 2019, PowerShell 5's
// Set-Content -Encoding UTF8). encoding/pem looks for -----BEGIN at the
// start of a line, so behind the mark the file's first block was not
// seen: a certificate alone was "not PEM", and the first certificate of
// a chain or CA bundle was skipped.
func TrimBOM(data []byte) []byte {
	return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
}

// utf16Hint says what to do with a PEM file saved as UTF-16.
const utf16Hint = "it is UTF-16 text, as PowerShell 5's > and Out-File write; save it as ASCII or UTF-8"

// isUTF16 reports whether data begins with a UTF-16 byte-order mark.
func isUTF16(data []byte) bool {
	return bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff})
}

// keyPair serves a certificate and reloads it when either file changes, so a
// certificate renewed on disk is used from the next handshake on. A failed
// reload (for example the certificate written but not yet its key) keeps the
// previous pair and is retried on the next handshake. It is logged as a
// warning once for each state of the files: a renewal gone wrong would
// otherwise surface only when the old certificate expires.
type keyPair struct {
	certFile, keyFile string
	log               *slog.Logger

	mu     sync.Mutex
	cur    *tls.Certificate
	stamp  string
	failed string // the stamp of the files whose reload failed and was logged
}

func newKeyPair(certFile, keyFile string, log *slog.Logger) (*keyPair, error) {
	stamp := fileStamp(certFile, keyFile)
	c, err := loadKeyPair(certFile, keyFile, time.Now())
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &keyPair{certFile: certFile, keyFile: keyFile, log: log, cur: c, stamp: stamp}, nil
}

func (k *keyPair) get() *tls.Certificate {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s := fileStamp(k.certFile, k.keyFile); s != k.stamp {
		// An expired replacement is still better than an expired original
		// only if it is newer; loadKeyPair refuses expired ones, so an
		// error here means "keep what we have".
		c, err := loadKeyPair(k.certFile, k.keyFile, time.Now())
		switch {
		case err == nil:
			if k.failed != "" {
				k.log.Info("tls: certificate reloaded", "cert_file", k.certFile, "certificate", c.Leaf.Subject.CommonName,
					"expires", c.Leaf.NotAfter.UTC().Format(time.DateOnly))
			}
			k.cur, k.stamp, k.failed = c, s, ""
		case s != k.failed:
			k.failed = s
			k.log.Warn("tls: changed certificate files cannot be loaded; the previous certificate stays in use until they are fixed",
				"cert_file", k.certFile, "key_file", k.keyFile, "error", err,
				"in_use", k.cur.Leaf.Subject.CommonName, "in_use_expires", k.cur.Leaf.NotAfter.UTC().Format(time.DateOnly))
		}
	}
	return k.cur
}

// clientCAs serves a server's client CA pool (client_ca_file) and reloads
// it when the file changes, as keyPair does the server's own pair: a
// sender whose renewed certificate comes from a new CA is served once
// that CA is added to the file, without a restart. The handshake is
// given a config of its own only after a change (see
// ServerConfig.LoadTLSConfigLog), cloned from base, the config the
// listener was given. A file that cannot be loaded (half copied, every
// CA expired) keeps the previous pool, with one warning for each state
// of the file.
type clientCAs struct {
	path string
	base *tls.Config
	log  *slog.Logger

	mu     sync.Mutex
	cfg    *tls.Config // base with the pool read last; nil while base's own is current
	stamp  string
	failed string
}

// config returns the config for a handshake: nil (base itself) until the
// file changed, then a clone of base with the pool read from it.
func (c *clientCAs) config(*tls.ClientHelloInfo) (*tls.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := fileStamp(c.path)
	if s == c.stamp {
		return c.cfg, nil
	}
	pool, err := loadPool("client_ca_file", c.path, time.Now())
	if err != nil {
		if s != c.failed {
			c.failed = s
			c.log.Warn("tls: changed client_ca_file cannot be loaded; the CAs read before stay in use until it is fixed",
				"client_ca_file", c.path, "error", err)
		}
		return c.cfg, nil
	}
	cfg := c.base.Clone()
	cfg.ClientCAs = pool
	cfg.GetConfigForClient = nil
	if c.failed != "" {
		c.log.Info("tls: client_ca_file reloaded", "client_ca_file", c.path)
	}
	c.cfg, c.stamp, c.failed = cfg, s, ""
	return c.cfg, nil
}

func fileStamp(paths ...string) string {
	var sb strings.Builder
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			sb.WriteString("missing;")
			continue
		}
		fmt.Fprintf(&sb, "%d/%d;", st.ModTime().UnixNano(), st.Size())
	}
	return sb.String()
}

// CertExpiry returns the earliest NotAfter of the certificates in a PEM file
// (for a chain or a CA bundle, the one that will break first), for `ferry
// doctor` and the status page.
func CertExpiry(path string) (time.Time, error) {
	c, err := FirstToExpire(path)
	if err != nil {
		return time.Time{}, err
	}
	return c.NotAfter, nil
}

// FirstToExpire returns the certificate of a PEM file that expires first,
// the one CertExpiry gives the date of: in a chain it may be an
// intermediate rather than the file's first certificate, and a warning
// must say which.
func FirstToExpire(path string) (*x509.Certificate, error) {
	certs, err := readCerts("certificate file", path)
	if err != nil {
		return nil, err
	}
	earliest := certs[0]
	for _, c := range certs[1:] {
		if c.NotAfter.Before(earliest.NotAfter) {
			earliest = c
		}
	}
	return earliest, nil
}

// FirstCAToExpire is FirstToExpire for a bundle of CA certificates
// (ca_file, client_ca_file, trust anchors), judged at now as loadPool
// reads one: an expired CA is left out while another is valid, and the
// others are trusted, so what breaks first is the first to expire of
// those valid at now. The expired ones are returned apart, to be
// removed. With none valid at now, first is FirstToExpire's and expired
// is empty.
func FirstCAToExpire(path string, now time.Time) (first *x509.Certificate, expired []*x509.Certificate, err error) {
	certs, err := readCerts("certificate file", path)
	if err != nil {
		return nil, nil, err
	}
	var valid []*x509.Certificate
	for _, c := range certs {
		switch {
		case now.After(c.NotAfter):
			expired = append(expired, c)
		case !now.Before(c.NotBefore):
			valid = append(valid, c)
		}
	}
	if len(valid) == 0 {
		valid, expired = certs, nil
	}
	first = valid[0]
	for _, c := range valid[1:] {
		if c.NotAfter.Before(first.NotAfter) {
			first = c
		}
	}
	return first, expired, nil
}

// NotYetValid returns the certificate of a PEM file that becomes valid
// last, when it is not valid yet at now, and nil when every certificate
// in the file is: a leaf or intermediate not valid yet fails every
// handshake as an expired one does (the clock set back, or a certificate
// issued for a later date), and a warning must say which and until when.
func NotYetValid(path string, now time.Time) (*x509.Certificate, error) {
	certs, err := readCerts("certificate file", path)
	if err != nil {
		return nil, err
	}
	var last *x509.Certificate
	for _, c := range certs {
		if now.Before(c.NotBefore) && (last == nil || c.NotBefore.After(last.NotBefore)) {
			last = c
		}
	}
	return last, nil
}

// CertStatus describes one configured certificate file, for status output.
type CertStatus struct {
	Field    string    // the setting, e.g. "cert_file"
	File     string    // the path
	Subject  string    // common name of the earliest-expiring certificate
	NotAfter time.Time // its expiry
}

// Expired reports whether the certificate has expired at now.
func (s CertStatus) Expired(now time.Time) bool { return now.After(s.NotAfter) }

// CertStatus reports the expiry of the configured client certificate and CA
// file (files that are not configured are skipped).
func (c ClientConfig) CertStatus() ([]CertStatus, error) {
	return certStatus([][2]string{{"ca_file", c.CAFile}, {"cert_file", c.CertFile}})
}

// CertStatus reports the expiry of the configured server certificate and
// client CA file.
func (c ServerConfig) CertStatus() ([]CertStatus, error) {
	return certStatus([][2]string{{"cert_file", c.CertFile}, {"client_ca_file", c.ClientCAFile}})
}

func certStatus(fields [][2]string) ([]CertStatus, error) {
	var out []CertStatus
	var errs []error
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		certs, err := readCerts(f[0], f[1])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		first := certs[0]
		for _, c := range certs[1:] {
			if c.NotAfter.Before(first.NotAfter) {
				first = c
			}
		}
		out = append(out, CertStatus{Field: f[0], File: f[1], Subject: first.Subject.CommonName, NotAfter: first.NotAfter})
	}
	return out, errors.Join(errs...)
}
