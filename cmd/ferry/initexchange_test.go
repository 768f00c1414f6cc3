package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitExchangeFlagsNeedTheirExchange: `ferry init --ca ... --cert
// ... --key ...` without --exchange-url (forgotten, or on a line of its
// own the shell never got) wrote a configuration with no exchange, the
// certificates left out without a word: the gateway then wrote every
// bundle to its local outbox and sent the exchange nothing. So did
// --sftp-key and --known-hosts beside an https:// exchange, and --ca,
// --cert, --key and --server-name beside an sftp:// one, whose
// configuration has no TLS. Such flags are a usage mistake (exit status
// 2) naming them, and nothing is written.
func TestInitExchangeFlagsNeedTheirExchange(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ferry.yaml")
	data := filepath.Join(dir, "data")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--ca", "ca.pem", "--cert", "client.pem", "--key", "client.key"}, []string{"--ca", "--cert", "--key", "--exchange-url"}},
		{[]string{"--server-name", "hie.internal"}, []string{"--server-name", "--exchange-url"}},
		{[]string{"--sftp-key", "id_ed25519", "--known-hosts", "known_hosts"}, []string{"--sftp-key", "--known-hosts", "sftp://"}},
		{[]string{"--exchange-url", "https://hie.example.org/fhir", "--cert", "client.pem", "--key", "client.key", "--sftp-key", "id_ed25519"}, []string{"--sftp-key", "sftp://"}},
		{[]string{"--exchange-url", "sftp://clinic7@sftp.hie.example.org/in", "--sftp-key", "id_ed25519", "--known-hosts", "known_hosts", "--ca", "ca.pem"}, []string{"--ca", "https://"}},
	} {
		args := append([]string{"init", "--non-interactive", "--data-dir", data, "--out", out}, tc.args...)
		var stdout, stderr bytes.Buffer
		code := runMain(context.Background(), args, &stdout, &stderr)
		if code != 2 {
			t.Errorf("ferry %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("ferry %s does not name %s:\n%s", strings.Join(args, " "), w, stderr.String())
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("ferry %s wrote %s", strings.Join(args, " "), out)
		}
	}
}

// TestInitSchemeInCapitals: `ferry init --exchange-url SFTP://...` (the
// scheme as an onboarding sheet may print it) took the exchange for an
// https:// one, refusing --sftp-key and --known-hosts as flags of another
// kind of exchange; the scheme is read in any case, as ferry reads
// exchange.url (RFC 3986 §3.1), and the file gets its sftp block.
func TestInitSchemeInCapitals(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ferry.yaml")
	args := []string{"init", "--non-interactive", "--data-dir", filepath.Join(dir, "data"), "--out", out,
		"--exchange-url", "SFTP://clinic7@sftp.hie.example.org/in", "--sftp-key", filepath.Join(dir, "id_ed25519"), "--known-hosts", filepath.Join(dir, "known_hosts")}
	var stdout, stderr bytes.Buffer
	if code := runMain(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("ferry %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "known_hosts:") {
		t.Errorf("the file has no sftp block:\n%s", b)
	}
}
