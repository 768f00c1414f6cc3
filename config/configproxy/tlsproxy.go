package configproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/ferry-health/ferry/config/configtls"
)

// An https:// proxy is one whose own connection is TLS; the CONNECT
// request, and the exchange's mutual TLS in the tunnel, go inside it.
// net/http makes that outer TLS connection with the Transport's
// TLSClientConfig, which in ferry is the exchange's (exchange.tls): the
// proxy's certificate would have to be signed by the exchange's CA and
// match its server_name, and the proxy would be offered ferry's client
// certificate. So Apply never hands net/http an https proxy URL. It
// gives it an http:// alias of the proxy, whose host carries aliasSuffix
// (a name under .invalid, RFC 2606, so never a real host), and the
// Transport's DialContext recognises the alias and opens the TLS
// connection to the real proxy itself, with proxyTLSConfig. net/http then
// speaks to the proxy as to an http one over that connection: CONNECT
// with Proxy-Authorization from the URL's user and password, or the
// absolute-form request of a plain http URL (a CRL).
const aliasSuffix = ".ferry-https-proxy.invalid"

// alias returns the http:// URL that stands for the https proxy u.
func alias(u *url.URL) *url.URL {
	a := *u
	a.Scheme = "http"
	port := u.Port()
	if port == "" {
		port = "443"
	}
	a.Host = net.JoinHostPort(u.Hostname()+aliasSuffix, port)
	return &a
}

// unalias returns the https proxy an alias stands for, and u itself when
// it is not an alias.
func unalias(u *url.URL) *url.URL {
	if u == nil {
		return nil
	}
	host, ok := strings.CutSuffix(u.Hostname(), aliasSuffix)
	if !ok {
		return u
	}
	r := *u
	r.Scheme = "https"
	r.Host = net.JoinHostPort(host, u.Port())
	return &r
}

// dialFunc is an http.Transport's DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// proxyDialer returns the DialContext Apply installs: an alias address
// (an https proxy) gets a TLS connection to the real proxy, made by
// dialTLS; every other address, base's plain connection. A connection
// to one of proxies is a proxyConn, which names the proxy when it ends
// before the proxy answered.
func proxyDialer(base dialFunc, caFile string, proxies *proxyAddrs) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialProxyOr(ctx, base, caFile, network, addr)
		if name, ok := proxies.name(addr); ok && err == nil {
			c = &proxyConn{Conn: c, proxy: name}
		}
		return c, err
	}
}

func dialProxyOr(ctx context.Context, base dialFunc, caFile, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return base(ctx, network, addr)
	}
	real, ok := strings.CutSuffix(host, aliasSuffix)
	if !ok {
		return base(ctx, network, addr)
	}
	proxy := &url.URL{Scheme: "https", Host: net.JoinHostPort(real, port)}
	return dialTLS(ctx, base, network, proxy, caFile)
}

// dialTLS connects to the https proxy and makes the TLS handshake with
// it: the system's roots plus caFile, the proxy's own host name, and no
// client certificate (ferry's is for the exchange, through the tunnel,
// and must not be shown to the proxy). A handshake failure is a
// *configtls.HandshakeError whose hint is about the proxy, wrapping a
// *TLSError, so that it is neither blamed on the exchange nor taken for
// a TLS-inspecting proxy.
func dialTLS(ctx context.Context, base dialFunc, network string, proxy *url.URL, caFile string) (net.Conn, error) {
	cfg, err := proxyTLSConfig(proxy.Hostname(), caFile)
	if err != nil {
		return nil, err
	}
	c, err := base(ctx, network, proxy.Host)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, handshakeError(proxy, caFile, err)
	}
	return tc, nil
}

// proxyTLSConfig is the TLS configuration for an https proxy named host.
// caFile is read at every connection, so that fixing it needs no
// restart; a problem with it is a *configtls.FilesError (an operator's).
func proxyTLSConfig(host, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil // nil RootCAs: the system's
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, &configtls.FilesError{Err: fmt.Errorf("proxy.ca_file %q: %w", caFile, err)}
	}
	certs, err := configtls.ParseCertificates(b)
	if err == nil && len(certs) == 0 {
		err = errors.New("no PEM certificate in it")
	}
	if err != nil {
		return nil, &configtls.FilesError{Err: fmt.Errorf("proxy.ca_file %q: %w", caFile, err)}
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// TLSError is a failed TLS handshake with an https proxy itself (not
// with the exchange behind it). Proxy is its URL, without credentials.
type TLSError struct {
	Proxy string
	Err   error
}

func (e *TLSError) Error() string {
	return "tls handshake with proxy " + e.Proxy + ": " + e.Err.Error()
}

func (e *TLSError) Unwrap() error { return e.Err }

// handshakeError explains a failed handshake with proxy in words about
// the proxy.
func handshakeError(proxy *url.URL, caFile string, err error) error {
	p := Redact(proxy)
	te := &TLSError{Proxy: p, Err: err}
	hs := configtls.Diagnose(err)
	if hs == nil {
		return te
	}
	hint := "the https proxy " + p + ": " + hs.Hint
	trusted := "the system's trusted roots"
	if caFile != "" {
		trusted += " or proxy.ca_file"
	}
	switch hs.Problem {
	case configtls.UnknownAuthority:
		var ua x509.UnknownAuthorityError
		issuer := "an unknown issuer"
		if errors.As(err, &ua) && ua.Cert != nil {
			issuer = fmt.Sprintf("%q", ua.Cert.Issuer.CommonName)
		}
		hint = fmt.Sprintf("the certificate of the https proxy %s is signed by %s, which is not in %s; put the proxy's CA in proxy.ca_file "+
			"(or the system's store), never in exchange.tls.ca_file", p, issuer, trusted)
	case configtls.HostnameMismatch:
		names := "other names"
		var hn x509.HostnameError
		if errors.As(err, &hn) && hn.Certificate != nil {
			n := append([]string(nil), hn.Certificate.DNSNames...)
			for _, ip := range hn.Certificate.IPAddresses {
				n = append(n, ip.String())
			}
			if len(n) > 0 {
				names = strings.Join(n, ", ")
			}
		}
		hint = fmt.Sprintf("the certificate of the https proxy %s is for %s, not %q; write the proxy's name as its certificate has it in proxy.url", p, names, proxy.Hostname())
	case configtls.ClientCertRejected, configtls.NoCommonParameters:
		hint = "the https proxy " + p + " refused the TLS connection (" + hs.Hint + "); ferry never shows its client certificate to a proxy: " +
			"is proxy.url's scheme right (http:// for most proxies)?"
	}
	return &configtls.HandshakeError{Problem: hs.Problem, Hint: hint, Err: te}
}

// IsProxyTLS reports whether err is a failed handshake with an https
// proxy itself, rather than with the server behind it.
func IsProxyTLS(err error) bool {
	var te *TLSError
	return errors.As(err, &te)
}

// wrapDial returns tr's own way to connect: DialContext, the deprecated
// Dial, or a net.Dialer.
func wrapDial(tr *http.Transport) dialFunc {
	switch {
	case tr.DialContext != nil:
		return tr.DialContext
	case tr.Dial != nil: //nolint:staticcheck // honour a Transport that still sets it
		dial := tr.Dial //nolint:staticcheck
		return func(_ context.Context, network, addr string) (net.Conn, error) { return dial(network, addr) }
	}
	d := &net.Dialer{}
	return d.DialContext
}
