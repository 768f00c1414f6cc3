package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

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
