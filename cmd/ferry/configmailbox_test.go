package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/pki"
)

// TestConfigCheckMailboxCAFiles: a fax mailbox's CA files (tls.ca_file,
// oauth2.ca_file) are loaded by the gateway at start, which refuses to
// start on one it cannot use; `ferry config check`, which README says
// loads "the certificates, keys and CA bundles of every tls block as the
// gateway will", said ok. It now names them as it does the exchange's,
// and one not installed yet is a warning there too.
func TestConfigCheckMailboxCAFiles(t *testing.T) {
	dir := t.TempDir()
	p, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "imap.pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ferry.yaml")
	write := func(block string) {
		t.Helper()
		cfg := fmt.Sprintf(`data_dir: %q
sources:
  mailboxes:
    - name: efax
      address: "127.0.0.1:993"
      username: faxes
      source_id: 1.3.6.1.4.1.21367.2026.9
%s`, filepath.Join(dir, "data"), block)
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A key where the CA belongs: the gateway does not start.
	password := fmt.Sprintf("      password_file: %q\n", pw)
	write(password + fmt.Sprintf("      tls: {ca_file: %q}\n", p.ClientKey))
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newGateway(cfg, newLogger(io.Discard, "error")); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("the gateway takes the mailbox's unusable ca_file: %v", err)
	}
	var out bytes.Buffer
	err = cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "sources.mailboxes[0].tls: ca_file") {
		t.Errorf("config check of a mailbox ca_file the gateway refuses: %v\n%s", err, &out)
	}

	write(fmt.Sprintf("      oauth2: {token_url: \"https://login.example.org/token\", client_id: ferry, client_secret_file: %q, ca_file: %q}\n", pw, p.ClientKey))
	if cfg, err = config.Load(file); err != nil {
		t.Fatal(err)
	}
	if _, err := newGateway(cfg, newLogger(io.Discard, "error")); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("the gateway takes the mailbox's unusable oauth2.ca_file: %v", err)
	}
	out.Reset()
	err = cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "sources.mailboxes[0].oauth2: ca_file") {
		t.Errorf("config check of a mailbox oauth2.ca_file the gateway refuses: %v\n%s", err, &out)
	}

	gone := filepath.Join(dir, "not-yet", "ca.pem")
	write(password + fmt.Sprintf("      tls: {ca_file: %q}\n", gone))
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "warning: line 9: sources.mailboxes[0].tls: ca_file") || !strings.Contains(out.String(), ": ok (") {
		t.Errorf("a mailbox ca_file not installed yet: %v\n%s", err, &out)
	}
}
