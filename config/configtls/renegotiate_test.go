package configtls_test

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/configtls/tlstest"
	"github.com/ferry-health/ferry/config/pki"
)

// TestRenegotiationRefusedDiagnosed: a server that asks for ferry's
// client certificate by renegotiating after the handshake, where ferry
// refuses it (HL7 v2 over MLLP, syslog, a second renegotiation of an
// HTTPS connection), failed with Go's bare "local error: tls: no
// renegotiation"; it is now a TLS problem naming the cause and the fix
// at the exchange, and not a node authentication failure (no security
// alert: nobody's certificate was refused).
func TestRenegotiationRefusedDiagnosed(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	srv := tlstest.StartRenegotiator(t, p)
	tc, err := configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey, ServerName: "localhost"}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", srv.Addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("MSH|hello\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Seen("MSH|hello"):
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing came:\n%s", srv.Output())
	}
	srv.AskCertificate()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 10))
	if err == nil {
		t.Fatal("read: no error")
	}
	d := configtls.Diagnose(err)
	if d == nil || d.Problem != configtls.RenegotiationRefused || d.NodeAuthentication() {
		t.Fatalf("Diagnose(%v) = %v, want %q, not a node authentication failure", err, d, configtls.RenegotiationRefused)
	}
	for _, want := range []string{"client certificate", "handshake", "clientcertnegotiation=enable"} {
		if !strings.Contains(d.Error(), want) {
			t.Errorf("%q does not say %q", d, want)
		}
	}
}
