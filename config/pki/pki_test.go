package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssueVerifies(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	scert, skey, err := ca.Issue("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(scert, skey); err != nil {
		t.Fatalf("server pair: %v", err)
	}
	c := parse(t, scert)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		if _, err := c.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool()}); err != nil {
			t.Errorf("verify server for %s: %v", name, err)
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{DNSName: "example.org", Roots: ca.Pool()}); err == nil {
		t.Error("server cert verified for a name it does not carry")
	}
	ccert, _, err := ca.Issue("client", nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	cc := parse(t, ccert)
	if _, err := cc.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify client: %v", err)
	}
	if _, err := cc.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err == nil {
		t.Error("client cert accepted for server auth")
	}
	other, _ := NewCA("other")
	if _, err := c.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: other.Pool()}); err == nil {
		t.Error("verified against an unrelated CA")
	}
	if !parse(t, ca.CertPEM()).IsCA {
		t.Error("CA cert is not a CA")
	}
}

func TestIssueValidExpired(t *testing.T) {
	ca, _ := NewCA("test CA")
	now := time.Now()
	cp, _, err := ca.IssueValid("old", []string{"localhost"}, nil, false, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parse(t, cp).Verify(x509.VerifyOptions{DNSName: "localhost", Roots: ca.Pool()}); err == nil {
		t.Error("expired certificate verified")
	}
	if _, _, err := ca.IssueValid("x", nil, nil, false, now, now); err == nil {
		t.Error("empty validity window accepted")
	}
}

func TestWriteDemoSet(t *testing.T) {
	dir := t.TempDir() + "/pki"
	p, err := WriteDemoSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{
		p.CA: 0o644, p.ServerCert: 0o644, p.ServerKey: 0o600, p.ClientCert: 0o644, p.ClientKey: 0o600,
	} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && st.Mode().Perm() != mode { // Windows has only the read-only bit
			t.Errorf("%s mode %v, want %v", path, st.Mode().Perm(), mode)
		}
	}
	if _, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey); err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(p.CA)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem unreadable")
	}
	sp, _ := os.ReadFile(p.ServerCert)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := parse(t, sp).Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("server cert for %s: %v", name, err)
		}
	}
	// Rewriting replaces the set and keeps the modes.
	if _, err := WriteDemoSet(dir); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 5 {
		t.Errorf("dir holds %d entries, want 5 (no temp files left)", len(ents))
	}
}
