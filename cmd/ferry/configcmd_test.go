package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/pki"
)

// TestConfigCheckWarnsOpenListener: `ferry config check` passes a listener
// on the network without allow or client certificates, but warns with the
// line, the field and the fix; with allow set the warning goes.
func TestConfigCheckWarnsOpenListener(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ferry.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"+s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("sources:\n  mllp:\n    - name: lab\n      listen: 0.0.0.0:2575\n")
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard); err != nil {
		t.Fatalf("a warning must not fail the check: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], file+": warning: line 5: sources.mllp[0].listen: 0.0.0.0:2575 accepts HL7 from any host") ||
		!strings.Contains(lines[0], "set allow") || !strings.Contains(lines[1], ": ok (1 MLLP listener(s)") {
		t.Fatalf("config check said:\n%s", out.String())
	}

	write("sources:\n  mllp:\n    - name: lab\n      listen: 0.0.0.0:2575\n      allow: [10.1.2.0/24]\n")
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard); err != nil || strings.Contains(out.String(), "warning") {
		t.Fatalf("with allow: %v\n%s", err, out.String())
	}

	write("sources:\n  mllp:\n    - name: lab\n      listen: 0.0.0.0:2575\n      allow: [10.1.2.0/24, 10.1.400.0/24]\n")
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard); err == nil ||
		!strings.Contains(out.String(), "line 6: sources.mllp[0].allow[1]: \"10.1.400.0/24\" is not an IP address or CIDR network") {
		t.Fatalf("bad allow entry: %v\n%s", err, out.String())
	}
}

// TestConfigCheckKeyFileMode: `ferry config check` reports a TLS key that
// other accounts can read, as the gateway would refuse it at start, with
// the field, its line and the fix; a key file not there yet is left to
// `ferry doctor`.
func TestConfigCheckKeyFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows protects key files by ACL, not mode bits")
	}
	dir := t.TempDir()
	paths, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ferry.yaml")
	cfg := fmt.Sprintf("data_dir: %q\nsources:\n  mllp:\n    - name: s\n      listen: 127.0.0.1:2575\n      tls:\n        cert_file: %q\n        key_file: %q\n",
		filepath.Join(dir, "data"), paths.ServerCert, paths.ServerKey)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard); err != nil {
		t.Fatalf("0600 key: %v\n%s", err, out.String())
	}
	os.Chmod(paths.ServerKey, 0o644)
	out.Reset()
	err = cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard)
	want := fmt.Sprintf("line 8: sources.mllp[0].tls.key_file: %q: mode 0644 lets other accounts read", paths.ServerKey)
	if err == nil || !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "chmod 600") {
		t.Fatalf("0644 key: %v\n%s\nwant %s", err, out.String(), want)
	}
	os.Remove(paths.ServerKey)
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard); err != nil {
		t.Fatalf("missing key (doctor's business): %v\n%s", err, out.String())
	}
}

// TestConfigCheckTLSFiles: `ferry config check` loads every tls block's
// files as the gateway will. A key that belongs to another certificate is
// a problem naming the block and its line (the gateway would refuse the
// listener, or hold delivery with "tls files" on its status page); a file
// not installed yet is a warning, and the check passes.
func TestConfigCheckTLSFiles(t *testing.T) {
	dir := t.TempDir()
	p, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ferry.yaml")
	check := func(ca, cert, key string) (string, error) {
		t.Helper()
		cfg := fmt.Sprintf("data_dir: %q\nexchange:\n  url: https://hie.example.org/fhir\n  tls:\n    ca_file: %q\n    cert_file: %q\n    key_file: %q\n",
			filepath.Join(dir, "data"), ca, cert, key)
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard)
		return out.String(), err
	}

	out, err := check(p.CA, p.ClientCert, p.ClientKey)
	if err != nil || strings.Contains(out, "exchange.tls") {
		t.Fatalf("good files: %v\n%s", err, out)
	}

	out, err = check(p.CA, p.ClientCert, p.ServerKey)
	// The output shows paths as typed (pathsPlain), backslashes unescaped.
	want := fmt.Sprintf(`line 5: exchange.tls: key_file "%s" does not match the certificate in cert_file "%s"`, p.ServerKey, p.ClientCert)
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("swapped key: %v\n%s\nwant %s", err, out, want)
	}

	gone := filepath.Join(dir, "not-yet", "ca.pem")
	out, err = check(gone, p.ClientCert, p.ClientKey)
	want = fmt.Sprintf(`warning: line 5: exchange.tls: ca_file "%s": file does not exist`, gone)
	if err != nil || !strings.Contains(out, want) || !strings.Contains(out, ": ok (") {
		t.Fatalf("CA bundle not installed yet: %v\n%s\nwant %s", err, out, want)
	}
}

// TestConfigCheckAuthFiles: `ferry config check` loads the SMART key and
// the UDAP certificate and key as the gateway's connection does, so a key
// the gateway cannot use (an EC key on P-256, which SMART's ES384 does not
// take, as `openssl ecparam -name prime256v1` makes; a UDAP key that is
// not the certificate's) is a problem naming the block and its line. The
// check said ok, and the gateway then held every bundle, retrying its
// connection, with nothing wrong in the file's eyes; a file not
// installed yet is a warning, as for the tls blocks.
func TestConfigCheckAuthFiles(t *testing.T) {
	dir := t.TempDir()
	p, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	writeKey := func(name string, key any) string {
		t.Helper()
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	file := filepath.Join(dir, "ferry.yaml")
	check := func(auth string) (string, error) {
		t.Helper()
		cfg := fmt.Sprintf("data_dir: %q\nexchange:\n  url: https://hie.example.org/fhir\n  tls:\n    ca_file: %q\n  auth:\n%s",
			filepath.Join(dir, "data"), p.CA, auth)
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard)
		return out.String(), err
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	out, err := check(fmt.Sprintf("    smart: {client_id: ferry-1, key_file: %q}\n", writeKey("smart.key", p384)))
	if err != nil || strings.Contains(out, "exchange.auth") {
		t.Fatalf("good SMART key: %v\n%s", err, out)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	out, err = check(fmt.Sprintf("    smart: {client_id: ferry-1, key_file: %q}\n", writeKey("p256.key", p256)))
	if err == nil || !strings.Contains(out, "line 7: exchange.auth.smart: ") || !strings.Contains(out, "P-384") {
		t.Fatalf("P-256 SMART key: %v\n%s", err, out)
	}
	gone := filepath.Join(dir, "not-yet", "smart.key")
	out, err = check(fmt.Sprintf("    smart: {client_id: ferry-1, key_file: %q}\n", gone))
	if err != nil || !strings.Contains(out, "warning: line 7: exchange.auth.smart: ") || !strings.Contains(out, ": ok (") {
		t.Fatalf("SMART key not installed yet: %v\n%s", err, out)
	}

	// The demo client certificate has no URI SAN, which the check of
	// the file itself reports; a certificate with one is needed here.
	udapKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	uri, _ := url.Parse("https://clinic-12.example.org/ferry")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ferry"}, URIs: []*url.URL{uri},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, udapKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "udap.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	udap := func(key string) string {
		return fmt.Sprintf("    udap: {cert_file: %q, key_file: %q, trust_anchors: %q, organization_id: \"urn:oid:1.2.3\", contacts: [\"mailto:it@example.org\"]}\n",
			cert, key, p.CA)
	}
	out, err = check(udap(writeKey("udap.key", udapKey)))
	if err != nil || strings.Contains(out, "exchange.auth") {
		t.Fatalf("good UDAP files: %v\n%s", err, out)
	}
	out, err = check(udap(writeKey("other.key", p256)))
	if err == nil || !strings.Contains(out, "line 7: exchange.auth.udap: ") || !strings.Contains(out, "not the private key") {
		t.Fatalf("UDAP key of another certificate: %v\n%s", err, out)
	}
}

// TestEmptyConfigFileRefused: `ferry config check` and `ferry run --config`
// of an empty or comment-only file (the wrong file, or one emptied by a
// failed copy) say that it sets nothing, rather than passing it and running
// a gateway with no source that keeps its data under the working folder;
// without --config, run takes the embedded default as before.
func TestEmptyConfigFileRefused(t *testing.T) {
	dir := t.TempDir()
	// Were the file taken, run would keep its data under the working
	// folder: let that be dir, and the gateway stop as soon as it starts.
	t.Chdir(dir)
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	for _, body := range []string{"", "# ferry.yaml: written by hand, see README\n"} {
		file := filepath.Join(dir, "ferry.yaml")
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := runMain(context.Background(), []string{"config", "check", file}, &out, &errb)
		if code != 1 || !strings.Contains(out.String(), file+": the file sets nothing") || strings.Contains(out.String(), ": ok") {
			t.Errorf("config check of %q: exit %d\n%s%s", body, code, out.String(), errb.String())
		}
		out.Reset()
		errb.Reset()
		code = runMain(stopped, []string{"run", "--config", file}, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "the file sets nothing") {
			t.Errorf("run --config of %q: exit %d\n%s%s", body, code, out.String(), errb.String())
		}
	}
}
