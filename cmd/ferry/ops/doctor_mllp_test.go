package ops

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// mllpsExchange is a TLS server as an HL7 v2 exchange's (mllps://): it
// requires a client certificate from clientCA (TLS 1.3, as Go and
// OpenSSL negotiate by default) and answers nothing.
func mllpsExchange(t *testing.T, certPEM, keyPEM []byte, clientCA pkiSet) string {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCA.ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() != nil {
					return
				}
				c.Read(make([]byte, 1)) // until ferry hangs up
			}()
		}
	}()
	return ln.Addr().String()
}

// TestCheckMLLPExchangeClientCertificateRefused: with TLS 1.3 the client's
// side of the handshake is over before the server has checked the
// client's certificate; a refusal arrives as an alert with the first
// read. The doctor's check of an mllps:// exchange stopped at the
// handshake, so it said "TLS handshake ok" for an exchange that refuses
// ferry's certificate, while the gateway failed every connection to it.
// It now waits for the exchange's verdict.
func TestCheckMLLPExchangeClientCertificateRefused(t *testing.T) {
	dir := t.TempDir()
	good := newPKI(t, dir, "exchange")
	other := newPKI(t, dir, "other")
	sc, sk, _ := good.ca.Issue("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, false)
	addr := mllpsExchange(t, sc, sk, good)

	c := CheckExchange(context.Background(), exchangeConfig(t, "mllps://"+addr, good.caFile, other.clientCert, other.clKey), DoctorOptions{Timeout: 5 * time.Second})[0]
	if c.Level != Fail || !strings.Contains(c.Detail, "client certificate rejected") {
		t.Errorf("client certificate from another CA: %s %s", c.Level, c.Detail)
	}
	c = CheckExchange(context.Background(), exchangeConfig(t, "mllps://"+addr, good.caFile, good.clientCert, good.clKey), DoctorOptions{Timeout: 5 * time.Second})[0]
	if c.Level != OK || !strings.Contains(c.Detail, "TLS handshake ok") {
		t.Errorf("good: %s %s", c.Level, c.Detail)
	}
}
