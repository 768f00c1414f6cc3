package fhirhttp

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/configtls/tlstest"
	"github.com/ferry-health/ferry/config/pki"
)

// TestRenegotiationForClientCertificate: an exchange that asks for
// ferry's client certificate by a TLS 1.2 renegotiation once the request
// has come (IIS without "negotiate client certificate", and other servers
// that require a certificate for some paths only) had every bundle fail
// with "local error: tls: no renegotiation", Go refusing renegotiation
// unless told otherwise; ferry now accepts one renegotiation a connection
// (tls.RenegotiateOnceAsClient, which keeps the server's certificate
// from changing) and the bundle is delivered with the certificate.
func TestRenegotiationForClientCertificate(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	ex := tlstest.StartRenegotiator(t, p)
	s := newSink(t, Config{URL: "https://localhost:" + ex.Addr[len("127.0.0.1:"):] + "/fhir/R4",
		TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}})
	errc := make(chan error, 1)
	go func() { errc <- s.Send(context.Background(), item("01RENEG")) }()
	select {
	case <-ex.Seen(bundle):
	case err := <-errc:
		t.Fatalf("send ended before the request came: %v\n%s", err, ex.Output())
	case <-time.After(10 * time.Second):
		t.Fatalf("no request came:\n%s", ex.Output())
	}
	ex.AskCertificate()
	select {
	case <-ex.Seen("CN = ferry demo client"):
	case err := <-errc:
		t.Fatalf("the exchange asked for ferry's certificate after the handshake: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("no client certificate came:\n%s", ex.Output())
	}
	ex.Send(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", MediaType, len(txResponse), txResponse))
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("send: %v\n%s", err, ex.Output())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("send did not end:\n%s", ex.Output())
	}
}
