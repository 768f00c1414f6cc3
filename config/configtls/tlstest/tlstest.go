// Package tlstest starts httptest servers that present a demo PKI's server
// certificate and require its client certificate, as the regional exchange
// does, for the tests of ferry's mutual-TLS clients. The TLS settings come
// from configtls, the code the gateway itself uses.
package tlstest

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// NewUnstartedServer returns an httptest server for h that requires a
// client certificate issued by p's CA. Handshake errors are not logged:
// tests provoke them. The caller may adjust the server (EnableHTTP2,
// Config.ConnState) before StartTLS, and closes it.
func NewUnstartedServer(t testing.TB, p pki.Paths, h http.Handler) *httptest.Server {
	t.Helper()
	tc, err := configtls.ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: p.CA}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	// configtls serves through GetCertificate; httptest would add its own
	// certificate unless Certificates is set.
	tc.Certificates = []tls.Certificate{pair}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = tc
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return srv
}

// NewServer starts such a server, offering HTTP/2 when http2 is set, and
// closes it when the test ends.
func NewServer(t testing.TB, p pki.Paths, h http.Handler, http2 bool) *httptest.Server {
	t.Helper()
	srv := NewUnstartedServer(t, p, h)
	srv.EnableHTTP2 = http2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}
