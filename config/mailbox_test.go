package config

import (
	"strings"
	"testing"
)

// TestMailboxConfig: a fax mailbox's settings are checked with their
// paths; its own source_id stands for its faxes (FolderSourceIDs, by its
// name), and without one fax.source_id is required as for a fax inbox.
func TestMailboxConfig(t *testing.T) {
	_, err := Parse("t", []byte(`
sources:
  mailboxes:
    - name: efax
      address: imap.example.org
      source_id: not-an-oid
      oauth2: {token_url: "http://login.example.org/token"}
      tls: {cert_file: c.pem, key_file: k.pem}
`))
	for _, want := range []string{
		"sources.mailboxes[0].address: want host:port",
		"sources.mailboxes[0].username: required",
		"sources.mailboxes[0].source_id: \"not-an-oid\" is not an OID",
		"sources.mailboxes[0].oauth2.token_url: want an https:// URL",
		"sources.mailboxes[0].oauth2.client_id: required",
		"sources.mailboxes[0].tls.cert_file: an IMAP server takes a password",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	cfg, err := Parse("t", []byte(`
sources:
  mailboxes:
    - {name: efax, address: "imap.example.org:993", username: u, password_file: /etc/ferry/p, source_id: 1.3.6.1.4.1.21367.2026.9}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.FolderSourceIDs()["efax"]; got != "1.3.6.1.4.1.21367.2026.9" {
		t.Errorf("FolderSourceIDs: %q", got)
	}
	if _, err := Parse("t", []byte(`
sources:
  mailboxes:
    - {name: efax, address: "imap.example.org:993", username: u, password_file: /etc/ferry/p}
`)); err == nil || !strings.Contains(err.Error(), "fax.source_id") {
		t.Errorf("without source_id, fax.source_id is required: %v", err)
	}
}
