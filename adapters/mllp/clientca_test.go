package mllp

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// TestClientCAFileRotation: a listener's tls.client_ca_file is read again
// when it changes, as its certificate and key are: a lab whose renewed
// certificate comes from a new CA is served once the contractor adds that
// CA to the file, without a restart that would cut every other sender, and
// a CA taken out is refused from then on, to a resumed session too.
func TestClientCAFileRotation(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := configtls.ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: p.CA}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, Config{TLS: srv}, &recorder{})

	newCA, err := pki.NewCA("lab CA 2027")
	if err != nil {
		t.Fatal(err)
	}
	cc, ck, err := newCA.Issue("lab", nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := newCA.Pool()
	pool.AppendCertsFromPEM(caPEM)
	cli := &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, ServerName: "localhost",
		ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	send := func() error {
		c, err := tls.Dial("tcp", s.Addr().String(), cli)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := WriteFrame(c, msg("R1")); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = NewReader(c, 0).ReadFrame()
		return err
	}
	if err := send(); err == nil {
		t.Fatal("a client certificate of a CA not in client_ca_file was served")
	}

	// The contractor adds the lab's new CA to client_ca_file.
	if err := os.WriteFile(p.CA, append(caPEM, newCA.CertPEM()...), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(p.CA, later, later)
	if err := send(); err != nil {
		t.Fatalf("after the new CA was added to client_ca_file: %v, want it served without a restart", err)
	}
	if err := send(); err != nil { // resumes the session
		t.Fatal(err)
	}

	// The CA is taken out again (its key was compromised): a sender of
	// that CA is refused, even one that would resume its TLS session.
	if err := os.WriteFile(p.CA, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	later = later.Add(2 * time.Second)
	os.Chtimes(p.CA, later, later)
	if err := send(); err == nil {
		t.Fatal("a sender of a CA taken out of client_ca_file was served (resuming its session)")
	}
}
