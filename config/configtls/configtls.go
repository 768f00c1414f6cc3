// Package configtls turns ferry's TLS settings into a *tls.Config that meets
// the IHE ATNA "STX: TLS 1.2 floor using BCP195" option: TLS 1.2 or newer,
// only ECDHE with AES-GCM for TLS 1.2 (Go implements no DHE, golang/go#20154),
// and mutual X.509 authentication with the server's name always verified
// (RFC 6125). There is deliberately no switch to skip verification: a clinic
// gateway that silently talks to the wrong peer is worse than one that stops.
//
// Validate checks only what can be checked offline and fast (fields set in
// pairs, allowed versions); LoadTLSConfig reads the files and reports
// problems in plain words naming the file (missing, unreadable, key does not
// match certificate, certificate expired).
package configtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultMinVersion is used when min_version is empty.
const DefaultMinVersion = "1.2"

// versions maps the accepted min_version values to crypto/tls constants.
// Anything below 1.2 is refused: ATNA retired the TLS 1.0 floor in 2021
// (CP-ITI-1247).
var versions = map[string]uint16{
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// CipherSuites are the TLS 1.2 suites ferry offers and accepts: the ECDHE
// members of the IHE Connectathon/BCP 195 list. TLS 1.3 suites are not
// configurable in Go and are all AEAD.
func CipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	}
}

// ClientConfig configures ferry as a TLS client (the exchange connection).
// The zero value passes Validate: server authentication against the system
// roots, no client certificate. A peer that authenticates ferry by its
// certificate (the exchange) checks with ValidateMutual instead.
type ClientConfig struct {
	// CAFile holds the PEM certificates that may sign the server's chain.
	// Empty means the operating system's roots.
	CAFile string `yaml:"ca_file" json:"ca_file"`
	// CertFile and KeyFile are the client certificate (chain) and its
	// private key for mutual TLS; both or neither.
	CertFile string `yaml:"cert_file" json:"cert_file"`
	KeyFile  string `yaml:"key_file" json:"key_file"`
	// ServerName overrides the name verified in the server certificate
	// (and sent as SNI); empty means the host from the URL. Verification
	// itself cannot be switched off.
	ServerName string `yaml:"server_name" json:"server_name"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version" json:"min_version"`
}

// ServerConfig configures ferry as a TLS server (MLLP over TLS, status page).
type ServerConfig struct {
	// CertFile and KeyFile are the server certificate (chain) and key.
	CertFile string `yaml:"cert_file" json:"cert_file"`
	KeyFile  string `yaml:"key_file" json:"key_file"`
	// ClientCAFile, when set, makes client certificates mandatory and
	// verifies them against the PEM certificates it holds (mutual TLS).
	ClientCAFile string `yaml:"client_ca_file" json:"client_ca_file"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version" json:"min_version"`
}

// Validate checks the client settings without touching the files.
func (c ClientConfig) Validate() error {
	var errs []error
	if err := pairSet("cert_file", c.CertFile, "key_file", c.KeyFile); err != nil {
		errs = append(errs, err)
	}
	if err := validateVersion(c.MinVersion); err != nil {
		errs = append(errs, err)
	}
	if strings.ContainsAny(c.ServerName, " /:") {
		errs = append(errs, fmt.Errorf("server_name: %q is not a host name", c.ServerName))
	}
	return errors.Join(errs...)
}

// ValidateMutual is Validate for a connection that uses mutual TLS, where
// the client certificate is how the peer knows who ferry is: cert_file and
// key_file are required. Without them the exchange would refuse every
// handshake, a failure better named by `ferry config check` than found in
// the delivery log after the first messages are queued.
func (c ClientConfig) ValidateMutual() error {
	var errs []error
	if c.CertFile == "" && c.KeyFile == "" {
		errs = append(errs,
			errors.New("cert_file: required: the exchange authenticates ferry by its client certificate (mutual TLS)"),
			errors.New("key_file: required: the private key of cert_file"))
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Validate checks the server settings without touching the files. A server
// always needs its own certificate.
func (c ServerConfig) Validate() error {
	var errs []error
	switch {
	case c.CertFile == "" && c.KeyFile == "":
		errs = append(errs, errors.New("cert_file: required for a TLS listener (with key_file)"))
	default:
		if err := pairSet("cert_file", c.CertFile, "key_file", c.KeyFile); err != nil {
			errs = append(errs, err)
		}
	}
	if err := validateVersion(c.MinVersion); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func pairSet(aName, a, bName, b string) error {
	switch {
	case a != "" && b == "":
		return fmt.Errorf("%s: set but %s is empty", aName, bName)
	case a == "" && b != "":
		return fmt.Errorf("%s: set but %s is empty", bName, aName)
	}
	return nil
}

func validateVersion(v string) error {
	if v == "" {
		return nil
	}
	if _, ok := versions[v]; !ok {
		return fmt.Errorf("min_version: %q is not allowed (use \"1.2\" or \"1.3\"; older versions are insecure)", v)
	}
	return nil
}

func minVersion(v string) uint16 {
	if v == "" {
		v = DefaultMinVersion
	}
	return versions[v]
}

// FilesError is a client TLS setting or file that cannot be used (a file
// missing or unreadable, a key that does not match its certificate, a
// certificate expired or not yet valid), found when the files are loaded.
// Retrying alone cannot fix it, so it says so to the dispatcher
// (ConfigProblem), which shows it on the status page as needing an
// operator, as it does a failed handshake. Its text names the setting and
// the file, nothing else.
type FilesError struct{ Err error }

func (e *FilesError) Error() string { return e.Err.Error() }
func (e *FilesError) Unwrap() error { return e.Err }

// ConfigProblem is the problem in plain words, for the status page.
func (e *FilesError) ConfigProblem() string { return "tls files: " + e.Err.Error() }

// LoadTLSConfig validates the settings, reads the files and returns a client
// *tls.Config. The client key pair is re-read when its files change on disk,
// so a renewed certificate is picked up by the next handshake without a
// restart; the CA pool is read once. Its errors are *FilesError.
func (c ClientConfig) LoadTLSConfig() (*tls.Config, error) { return c.LoadTLSConfigLog(nil) }

// LoadTLSConfigLog is LoadTLSConfig that logs on log, as a warning naming
// the files and the reason, a changed key pair it cannot load.
func (c ClientConfig) LoadTLSConfigLog(log *slog.Logger) (*tls.Config, error) {
	cfg, err := c.loadTLSConfig(log)
	if err != nil {
		return nil, &FilesError{Err: err}
	}
	return cfg, nil
}

func (c ClientConfig) loadTLSConfig(log *slog.Logger) (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   minVersion(c.MinVersion),
		CipherSuites: CipherSuites(),
		ServerName:   c.ServerName,
	}
	if c.CAFile != "" {
		pool, err := loadPool("ca_file", c.CAFile, time.Now())
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		kp, err := newKeyPair(c.CertFile, c.KeyFile, log)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return kp.get(), nil
		}
	}
	return cfg, nil
}

// LoadTLSConfig validates the settings, reads the files and returns a server
// *tls.Config; with ClientCAFile set, a client certificate signed by one of
// its CAs is required (tls.RequireAndVerifyClientCert). The server key pair
// and the client CAs are re-read when their files change; after a change
// of ClientCAFile a handshake uses a clone of the returned config made
// then, so a caller's own settings belong on that config, not a clone.
func (c ServerConfig) LoadTLSConfig() (*tls.Config, error) { return c.LoadTLSConfigLog(nil) }

// LoadTLSConfigLog is LoadTLSConfig that logs on log, as a warning naming
// the files and the reason, a changed key pair it cannot load.
func (c ServerConfig) LoadTLSConfigLog(log *slog.Logger) (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	kp, err := newKeyPair(c.CertFile, c.KeyFile, log)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   minVersion(c.MinVersion),
		CipherSuites: CipherSuites(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return kp.get(), nil
		},
	}
	if c.ClientCAFile != "" {
		stamp := fileStamp(c.ClientCAFile)
		pool, err := loadPool("client_ca_file", c.ClientCAFile, time.Now())
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		cas := &clientCAs{path: c.ClientCAFile, base: cfg, log: log, stamp: stamp}
		cfg.GetConfigForClient = cas.config
	}
	return cfg, nil
}

// loadPool reads a PEM bundle of CA certificates. Expired CAs are an error
// naming the certificate: every handshake would fail anyway, and "expired on
// <date>" is a better message than the handshake's.
func loadPool(field, path string, now time.Time) (*x509.CertPool, error) {
	certs, err := readCerts(field, path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	valid := 0
	var expired []string
	for _, c := range certs {
		if now.After(c.NotAfter) {
			expired = append(expired, fmt.Sprintf("%q expired on %s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.DateOnly)))
			continue
		}
		pool.AddCert(c)
		valid++
	}
	if valid == 0 && len(expired) > 0 {
		return nil, fmt.Errorf("%s %q: every CA certificate has expired: %s", field, path, strings.Join(expired, "; "))
	}
	return pool, nil
}
