package configtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Problem names a class of TLS handshake failure. Every one of them is a
// configuration or certificate problem, not a problem with the data being
// sent, so a sink must treat them as retryable (never dead-letter a message
// because a certificate expired) while making them stand out.
type Problem string

// The problems Diagnose recognises.
const (
	// UnknownAuthority: the peer's certificate is not signed by a trusted CA.
	UnknownAuthority Problem = "unknown authority"
	// HostnameMismatch: the server certificate is for another name.
	HostnameMismatch Problem = "hostname mismatch"
	// Expired: a certificate in the peer's chain is expired or not yet valid.
	Expired Problem = "certificate expired"
	// InvalidCertificate: the peer's certificate is unusable for another
	// reason (wrong key usage, not a CA, bad signature).
	InvalidCertificate Problem = "invalid certificate"
	// ClientCertRejected: the peer refused ferry's own certificate.
	ClientCertRejected Problem = "client certificate rejected"
	// NoCommonParameters: no shared TLS version or cipher suite, or the
	// peer does not speak TLS at all.
	NoCommonParameters Problem = "handshake failure"
	// RenegotiationRefused: the peer asked to renegotiate after the
	// handshake, to ask for ferry's client certificate only then, and
	// ferry refused (it accepts that once a connection over HTTPS only).
	RenegotiationRefused Problem = "renegotiation refused"
)

// HandshakeError is a TLS failure explained in plain words. Err is the
// original error, kept for errors.Is/As.
type HandshakeError struct {
	Problem Problem
	Hint    string
	Err     error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("tls %s: %s: %v", e.Problem, e.Hint, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// NodeAuthentication reports whether e is a failure of node
// authentication (IHE ITI-19), which ATNA asks to record as a Security
// Alert: the peer's certificate did not verify (unknown CA, expired,
// another host's, unusable), or the peer refused ferry's client
// certificate or its absence. A peer's plain "handshake failure" alert
// counts too: a TLS 1.2 server that requires a client certificate sends
// that alert when none comes (Go, OpenSSL), and a peer that refuses a
// connection its policy does not allow is refusing to authenticate it. A
// version or cipher-suite mismatch ferry found itself, or a peer that does
// not speak TLS, is a configuration problem, not an authentication one.
func (e *HandshakeError) NodeAuthentication() bool {
	if e == nil {
		return false
	}
	if e.Problem == RenegotiationRefused {
		return false // a way of asking for the certificate, not a refusal
	}
	if e.Problem != NoCommonParameters {
		return true
	}
	alert, ok := remoteAlert(e.Err)
	return ok && alert == "tls: handshake failure"
}

// Diagnose returns a *HandshakeError explaining err when err (or an error it
// wraps) is a TLS certificate or handshake failure, and nil otherwise. It
// recognises failures found by ferry (the server's certificate) and alerts
// sent by the peer (it rejected ferry's client certificate).
func Diagnose(err error) *HandshakeError {
	if err == nil {
		return nil
	}
	var he *HandshakeError
	if errors.As(err, &he) {
		return he
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		issuer := "an unknown issuer"
		if ua.Cert != nil {
			issuer = fmt.Sprintf("%q", ua.Cert.Issuer.CommonName)
		}
		return &HandshakeError{UnknownAuthority, fmt.Sprintf(
			"the server's certificate is signed by %s, which is not in ca_file (wrong ca_file, or the exchange changed its CA)", issuer), err}
	}
	var hn x509.HostnameError
	if errors.As(err, &hn) {
		names := "no names"
		if hn.Certificate != nil {
			n := append([]string(nil), hn.Certificate.DNSNames...)
			for _, ip := range hn.Certificate.IPAddresses {
				n = append(n, ip.String())
			}
			if len(n) > 0 {
				names = strings.Join(n, ", ")
			}
		}
		return &HandshakeError{HostnameMismatch, fmt.Sprintf(
			"the server's certificate is for %s, not %q; fix the url or set tls.server_name", names, hn.Host), err}
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) {
		if ci.Reason == x509.Expired {
			when := ""
			if ci.Cert != nil {
				when = fmt.Sprintf(" (valid %s to %s)", ci.Cert.NotBefore.UTC().Format(time.DateOnly), ci.Cert.NotAfter.UTC().Format(time.DateOnly))
			}
			return &HandshakeError{Expired, "a certificate in the server's chain has expired or is not yet valid" + when + "; check the system clock or ask the exchange", err}
		}
		return &HandshakeError{InvalidCertificate, "the server's certificate cannot be used for TLS server authentication", err}
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return &HandshakeError{InvalidCertificate, "the server's certificate failed verification", err}
	}
	if alert, ok := remoteAlert(err); ok {
		switch alert {
		case "tls: bad certificate", "tls: unknown certificate authority", "tls: certificate required",
			"tls: expired certificate", "tls: revoked certificate", "tls: unsupported certificate",
			"tls: unknown certificate", "tls: access denied":
			return &HandshakeError{ClientCertRejected, fmt.Sprintf(
				"the server refused ferry's client certificate (%s); check cert_file/key_file, their expiry, and that the exchange trusts their CA", alert), err}
		case "tls: handshake failure", "tls: protocol version not supported", "tls: insufficient security level":
			return &HandshakeError{NoCommonParameters, fmt.Sprintf(
				"the server refused the handshake (%s): it may require a client certificate that was not sent (check cert_file/key_file), or share no TLS version or cipher suite with ferry (TLS 1.2+ with ECDHE AES-GCM)", alert), err}
		}
	}
	msg := err.Error()
	if strings.Contains(msg, "tls: no renegotiation") {
		// Go's alert refusing a server's HelloRequest: a server that asks
		// for the client certificate after the handshake (IIS without
		// "negotiate client certificate") asks so.
		return &HandshakeError{RenegotiationRefused, "the server asked for ferry's client certificate by renegotiating TLS after the handshake, " +
			"which ferry accepts only once a connection and only over HTTPS; have the exchange ask for the certificate in the handshake " +
			"(IIS: netsh http update sslcert ... clientcertnegotiation=enable, \"Negotiate Client Certificate\" in netsh http show sslcert)", err}
	}
	for _, s := range []string{
		"tls: no cipher suite supported", "tls: server selected unsupported protocol version",
		"tls: no supported versions satisfy", "tls: protocol version not supported",
	} {
		if strings.Contains(msg, s) {
			return &HandshakeError{NoCommonParameters, "no TLS version or cipher suite in common with the server; ferry requires TLS 1.2 or newer with ECDHE AES-GCM", err}
		}
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) || strings.Contains(msg, "first record does not look like a TLS handshake") {
		return &HandshakeError{NoCommonParameters, "the server did not answer with TLS (is the url http:// or the port wrong?)", err}
	}
	return nil
}

// remoteAlert extracts the text of a TLS alert received from the peer.
// crypto/tls reports those as *net.OpError{Op: "remote error"} with an
// unexported alert type, so the text is the only stable handle.
func remoteAlert(err error) (string, bool) {
	var op *net.OpError
	for e := err; errors.As(e, &op); e = op.Err {
		if op.Op == "remote error" && op.Err != nil {
			return op.Err.Error(), true
		}
		if op.Err == nil {
			break
		}
	}
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return ae.Error(), true
	}
	return "", false
}
