package configtls

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/pki"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  interface{ Validate() error }
		want string // substring; empty = valid
	}{
		{"zero client", ClientConfig{}, ""},
		{"full client", ClientConfig{CAFile: "ca", CertFile: "c", KeyFile: "k", MinVersion: "1.3"}, ""},
		{"cert without key", ClientConfig{CertFile: "c"}, "cert_file: set but key_file is empty"},
		{"key without cert", ClientConfig{KeyFile: "k"}, "key_file: set but cert_file is empty"},
		{"old version", ClientConfig{MinVersion: "1.0"}, `min_version: "1.0" is not allowed`},
		{"bad server name", ClientConfig{ServerName: "https://x"}, "server_name:"},
		{"server ok", ServerConfig{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}, ""},
		{"server without cert", ServerConfig{ClientCAFile: "ca"}, "cert_file: required"},
		{"server key only", ServerConfig{KeyFile: "k"}, "key_file: set but cert_file is empty"},
		{"server version", ServerConfig{CertFile: "c", KeyFile: "k", MinVersion: "1.1"}, "min_version"},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

// TestValidateMutual: a mutual-TLS client needs its certificate and key,
// and the ordinary checks still apply.
func TestValidateMutual(t *testing.T) {
	cases := []struct {
		name string
		cfg  ClientConfig
		want []string // substrings; none = valid
	}{
		{"zero", ClientConfig{}, []string{"cert_file: required", "key_file: required"}},
		{"ca only", ClientConfig{CAFile: "ca"}, []string{"cert_file: required", "key_file: required"}},
		{"pair", ClientConfig{CertFile: "c", KeyFile: "k"}, nil},
		{"cert without key", ClientConfig{CertFile: "c"}, []string{"cert_file: set but key_file is empty"}},
		{"pair, old version", ClientConfig{CertFile: "c", KeyFile: "k", MinVersion: "1.1"}, []string{"min_version"}},
	}
	for _, tc := range cases {
		err := tc.cfg.ValidateMutual()
		if len(tc.want) == 0 && err != nil {
			t.Errorf("%s: unexpected error %v", tc.name, err)
		}
		if len(tc.want) > 0 && err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want it to contain %q", tc.name, err, w)
			}
		}
	}
}

func demo(t *testing.T) pki.Paths {
	t.Helper()
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadTLSConfigPolicy(t *testing.T) {
	p := demo(t)
	cc, err := ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.MinVersion != tls.VersionTLS12 || cc.InsecureSkipVerify || cc.RootCAs == nil || cc.GetClientCertificate == nil {
		t.Fatalf("client config: %+v", cc)
	}
	for _, cs := range cc.CipherSuites {
		name := tls.CipherSuiteName(cs)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !strings.Contains(name, "_GCM_") {
			t.Errorf("suite %s outside ECDHE AES-GCM", name)
		}
	}
	sc, err := ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: p.CA, MinVersion: "1.3"}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if sc.ClientAuth != tls.RequireAndVerifyClientCert || sc.MinVersion != tls.VersionTLS13 {
		t.Fatalf("server config: %+v", sc)
	}
	sc2, err := ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if sc2.ClientAuth != tls.NoClientCert {
		t.Fatalf("server without client_ca_file asks for client certs")
	}
}

// handshake runs a real TLS handshake over loopback and returns the client's
// and the server's error. The client reads one byte so that a rejection the
// server sends after a TLS 1.3 handshake reaches it.
func handshake(t *testing.T, client, server *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		_, err = tc.Write([]byte("x"))
		// Wait for the client to close before closing, so the byte is
		// never cut off by an early close.
		io.Copy(io.Discard, tc)
		done <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err == nil {
		buf := make([]byte, 1)
		_, err = c.Read(buf)
		c.Close()
	}
	return err, <-done
}

func TestMutualTLSHandshake(t *testing.T) {
	p := demo(t)
	server, err := ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: p.CA}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.2", "1.3"} {
		client, err := ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey, ServerName: "localhost", MinVersion: v}.LoadTLSConfig()
		if err != nil {
			t.Fatal(err)
		}
		if v == "1.2" {
			client.MaxVersion = tls.VersionTLS12 // exercise the 1.2 suite list
		}
		if cerr, serr := handshake(t, client, server); cerr != nil || serr != nil {
			t.Fatalf("tls %s: client %v, server %v", v, cerr, serr)
		}
	}
}

func TestHandshakeDiagnoses(t *testing.T) {
	p := demo(t)
	other := demo(t) // a second, unrelated CA and certificates
	server, err := ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: p.CA}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	// Expired server certificate, signed by a CA the client trusts.
	ca, _ := pki.NewCA("expiring CA")
	now := time.Now()
	ecert, ekey, _ := ca.IssueValid("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, false, now.Add(-48*time.Hour), now.Add(-time.Hour))
	epair, err := tls.X509KeyPair(ecert, ekey)
	if err != nil {
		t.Fatal(err)
	}
	expiredServer := &tls.Config{Certificates: []tls.Certificate{epair}}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, ca.CertPEM(), 0o644)

	cases := []struct {
		name   string
		client ClientConfig
		server *tls.Config
		want   Problem
		node   bool // a node authentication failure (NodeAuthentication)
	}{
		{"unknown authority", ClientConfig{CAFile: other.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey, ServerName: "localhost"}, server, UnknownAuthority, true},
		{"hostname mismatch", ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey, ServerName: "hie.example.org"}, server, HostnameMismatch, true},
		{"client cert from another CA", ClientConfig{CAFile: p.CA, CertFile: other.ClientCert, KeyFile: other.ClientKey, ServerName: "localhost"}, server, ClientCertRejected, true},
		{"no client cert", ClientConfig{CAFile: p.CA, ServerName: "localhost"}, server, ClientCertRejected, true},
		{"no client cert tls1.2", ClientConfig{CAFile: p.CA, ServerName: "localhost"}, server, NoCommonParameters, true},
		{"expired server cert", ClientConfig{CAFile: caFile, ServerName: "localhost"}, expiredServer, Expired, true},
	}
	for _, tc := range cases {
		client, err := tc.client.LoadTLSConfig()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if strings.HasSuffix(tc.name, "tls1.2") {
			client.MaxVersion = tls.VersionTLS12
		}
		cerr, _ := handshake(t, client, tc.server)
		if cerr == nil {
			t.Fatalf("%s: handshake succeeded", tc.name)
		}
		d := Diagnose(cerr)
		if d == nil {
			t.Fatalf("%s: Diagnose(%v) = nil", tc.name, cerr)
		}
		if d.Problem != tc.want {
			t.Errorf("%s: problem %q, want %q (%v)", tc.name, d.Problem, tc.want, d)
		}
		if d.NodeAuthentication() != tc.node {
			t.Errorf("%s: NodeAuthentication() = %v, want %v", tc.name, !tc.node, tc.node)
		}
		if !errors.Is(d, cerr) && !errors.Is(d.Err, cerr) {
			t.Errorf("%s: original error not wrapped", tc.name)
		}
		t.Logf("%s: %v", tc.name, d)
	}
	if Diagnose(errors.New("connection refused")) != nil {
		t.Error("plain network error diagnosed as TLS")
	}
	// Speaking TLS to a plain TCP server.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	client, _ := ClientConfig{CAFile: p.CA, ServerName: "localhost"}.LoadTLSConfig()
	_, err = tls.Dial("tcp", ln.Addr().String(), client)
	if d := Diagnose(err); d == nil || d.Problem != NoCommonParameters || d.NodeAuthentication() {
		t.Errorf("plain server: %v (node authentication %v, want a configuration problem)", d, d.NodeAuthentication())
	}
	// No TLS version in common: found by ferry, not an authentication.
	old, err := ClientConfig{CAFile: p.CA, ServerName: "localhost"}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	old.MaxVersion = tls.VersionTLS12
	modern := server.Clone()
	modern.MinVersion = tls.VersionTLS13
	cerr, _ := handshake(t, old, modern)
	if d := Diagnose(cerr); d == nil || d.NodeAuthentication() {
		t.Errorf("no common version: %v is diagnosed as a node authentication failure", cerr)
	}
}

func TestLoadErrorsInPlainWords(t *testing.T) {
	p := demo(t)
	other := demo(t)
	dir := t.TempDir()
	enc := filepath.Join(dir, "enc.key")
	os.WriteFile(enc, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600)
	ca, _ := pki.NewCA("x")
	now := time.Now()
	oc, ok, _ := ca.IssueValid("old client", nil, nil, true, now.Add(-72*time.Hour), now.Add(-24*time.Hour))
	oldCert, oldKey := filepath.Join(dir, "old.pem"), filepath.Join(dir, "old.key")
	os.WriteFile(oldCert, oc, 0o644)
	os.WriteFile(oldKey, ok, 0o600)
	missing := filepath.Join(dir, "nope.pem")

	// Paths are quoted (%q) in the errors: on Windows with their
	// backslashes doubled.
	cases := []struct {
		name string
		cfg  ClientConfig
		want []string
	}{
		{"missing ca", ClientConfig{CAFile: missing}, []string{"ca_file", missing, "does not exist"}},
		{"missing cert", ClientConfig{CertFile: missing, KeyFile: p.ClientKey}, []string{"cert_file", "does not exist"}},
		{"missing key", ClientConfig{CertFile: p.ClientCert, KeyFile: missing}, []string{"key_file", "does not exist"}},
		{"key mismatch", ClientConfig{CertFile: p.ClientCert, KeyFile: other.ClientKey}, []string{"key_file", strconv.Quote(other.ClientKey), "does not match the certificate"}},
		{"swapped", ClientConfig{CertFile: p.ClientKey, KeyFile: p.ClientCert}, []string{"cert_file", "swapped"}},
		{"key is a cert", ClientConfig{CertFile: p.ClientCert, KeyFile: p.CA}, []string{"key_file", "swapped"}},
		{"encrypted key", ClientConfig{CertFile: p.ClientCert, KeyFile: enc}, []string{"key_file", "passphrase"}},
		{"expired cert", ClientConfig{CertFile: oldCert, KeyFile: oldKey}, []string{"cert_file", strconv.Quote(oldCert), "expired on"}},
		{"invalid", ClientConfig{CertFile: p.ClientCert}, []string{"cert_file: set but key_file is empty"}},
	}
	for _, tc := range cases {
		_, err := tc.cfg.LoadTLSConfig()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", tc.name, err, w)
			}
		}
	}
	_, err := ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: missing}.LoadTLSConfig()
	if err == nil || !strings.Contains(err.Error(), "client_ca_file") {
		t.Errorf("server missing client ca: %v", err)
	}
}

func TestExpiredCAFile(t *testing.T) {
	ca, _ := pki.NewCA("old CA")
	path := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(path, ca.CertPEM(), 0o644)
	if _, err := loadPool("ca_file", path, time.Now().Add(3*365*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired CA: %v", err)
	}
}

func TestCertExpiryAndStatus(t *testing.T) {
	p := demo(t)
	exp, err := CertExpiry(p.ClientCert)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 300*24*time.Hour || d > 400*24*time.Hour {
		t.Errorf("client cert expiry %v is not about a year away", exp)
	}
	st, err := ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}.CertStatus()
	if err != nil || len(st) != 2 {
		t.Fatalf("status %v, %v", st, err)
	}
	if st[0].Field != "ca_file" || st[1].Field != "cert_file" || st[1].Expired(time.Now()) || !st[1].Expired(exp.Add(time.Second)) {
		t.Errorf("status %+v", st)
	}
	if _, err := CertExpiry(p.ClientKey); err == nil {
		t.Error("expiry of a key file")
	}
}

// TestParseCertificates: the shared PEM reader of config loading and
// `ferry doctor` keeps every certificate of a chain in order and names the
// usual mistakes.
func TestParseCertificates(t *testing.T) {
	p := demo(t)
	ca, _ := os.ReadFile(p.CA)
	client, _ := os.ReadFile(p.ClientCert)
	key, _ := os.ReadFile(p.ClientKey)
	certs, err := ParseCertificates(append(append(append([]byte{}, client...), key...), ca...))
	if err != nil || len(certs) != 2 {
		t.Fatalf("chain with a key between: %d certificates, %v", len(certs), err)
	}
	if certs[1].Subject.CommonName == certs[0].Subject.CommonName {
		t.Errorf("order lost: %q, %q", certs[0].Subject.CommonName, certs[1].Subject.CommonName)
	}
	for _, c := range []struct {
		data []byte
		want string
	}{
		{key, "swapped"},
		{[]byte("not pem"), "is it PEM"},
		{[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "certificate 1 cannot be parsed"},
	} {
		if _, err := ParseCertificates(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}

func TestKeyPairReload(t *testing.T) {
	p := demo(t)
	server, _ := ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey}.LoadTLSConfig()
	first, _ := server.GetCertificate(nil)
	// Renew in place: a new CA and certificates written to the same paths.
	if _, err := pki.WriteDemoSet(p.Dir); err != nil {
		t.Fatal(err)
	}
	// Make sure the stamp changes even on coarse-mtime filesystems.
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(p.ServerCert, later, later)
	second, _ := server.GetCertificate(nil)
	if string(first.Certificate[0]) == string(second.Certificate[0]) {
		t.Fatal("renewed certificate not picked up")
	}
	// A half-written renewal (key no longer matching) keeps the old pair.
	os.WriteFile(p.ServerKey, []byte("garbage"), 0o600)
	third, _ := server.GetCertificate(nil)
	if string(third.Certificate[0]) != string(second.Certificate[0]) {
		t.Fatal("broken renewal replaced a working certificate")
	}
}

// TestFailedReloadWarns: a renewal gone wrong (a new certificate copied
// without its key) keeps the old pair in use, and says so at once, once,
// naming the file and the reason; CheckKeyPair, which the status asks,
// reports it too.
func TestFailedReloadWarns(t *testing.T) {
	p := demo(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	client, err := ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}.LoadTLSConfigLog(log)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := client.GetClientCertificate(nil)
	other, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "renewed"))
	if err != nil {
		t.Fatal(err)
	}
	renewed, _ := os.ReadFile(other.ClientCert)
	if err := os.WriteFile(p.ClientCert, renewed, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(p.ClientCert, later, later)
	for range 3 {
		got, _ := client.GetClientCertificate(nil)
		if string(got.Certificate[0]) != string(first.Certificate[0]) {
			t.Fatal("a certificate without its key replaced the working pair")
		}
	}
	out := logs.String()
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, p.ClientCert) || !strings.Contains(out, "does not match") {
		t.Errorf("want one warning naming %s and the mismatch, logged:\n%s", p.ClientCert, out)
	}
	if err := CheckKeyPair(p.ClientCert, p.ClientKey); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("CheckKeyPair: %v, want the mismatch", err)
	}
	// The key arrives: the renewed pair is used, and the log says so.
	key, _ := os.ReadFile(other.ClientKey)
	if err := os.WriteFile(p.ClientKey, key, 0o600); err != nil {
		t.Fatal(err)
	}
	later = later.Add(2 * time.Second)
	os.Chtimes(p.ClientKey, later, later)
	got, _ := client.GetClientCertificate(nil)
	if string(got.Certificate[0]) == string(first.Certificate[0]) {
		t.Fatal("the completed renewal was not picked up")
	}
	if !strings.Contains(logs.String(), "certificate reloaded") {
		t.Errorf("no notice that the renewal took effect:\n%s", logs.String())
	}
}
