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
)

// TestConfigCheckCountsMailboxes: config check's summary counted the
// MLLP listeners and folders but not the fax mailboxes, so a clinic whose
// faxes come by e-mail alone read "ok (0 MLLP listener(s), 0 folder(s),
// ...)", as if the file took no input at all; the mailboxes are counted
// beside them.
func TestConfigCheckCountsMailboxes(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "imap.pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ferry.yaml")
	cfg := fmt.Sprintf(`data_dir: %q
sources:
  mailboxes:
    - name: efax
      address: "127.0.0.1:993"
      username: faxes
      password_file: %q
      source_id: 1.3.6.1.4.1.21367.2026.9
    - name: efax2
      address: "127.0.0.1:993"
      username: faxes2
      password_file: %q
      source_id: 1.3.6.1.4.1.21367.2026.10
`, filepath.Join(dir, "data"), pw, pw)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard); err != nil {
		t.Fatalf("config check: %v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), ": ok (0 MLLP listener(s), 0 folder(s), 2 fax mailbox(es), exchange ") {
		t.Errorf("config check does not count the 2 fax mailboxes:\n%s", &out)
	}
}
