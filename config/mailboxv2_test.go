package config

import (
	"strings"
	"testing"
)

// TestV2ExchangeWarnsFaxMailbox: an exchange that takes HL7 v2 (mllps://,
// or SFTP files in hl7v2) dead-letters every fax, and config check warns
// about each fax inbox so; a fax mailbox's faxes go the same way, and it
// got no warning, so a clinic learnt it from the dead letters.
func TestV2ExchangeWarnsFaxMailbox(t *testing.T) {
	for _, exchange := range []string{
		"  url: mllps://hie.example.org:6661\n  tls: {cert_file: /etc/ferry/client.pem, key_file: /etc/ferry/client.key}\n",
		"  url: sftp://ferry@sftp.hie.example.org/inbound\n  sftp: {format: hl7v2, key_file: /etc/ferry/sftp_ed25519, known_hosts: /etc/ferry/known_hosts}\n",
	} {
		c, err := Parse("t.yaml", []byte("exchange:\n"+exchange+`fax: {source_id: 1.2.3}
sources:
  mailboxes:
    - {name: efax, address: imap.example.org:993, username: faxes@clinic.example, password_file: /etc/ferry/imap.pass}
`))
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, w := range c.Warnings() {
			if w.Path == "sources.mailboxes[0]" && strings.Contains(w.Msg, "faxes have no HL7 v2 message to forward and will be dead-lettered") {
				found = true
				if w.Line != 7 {
					t.Errorf("%s: warning on line %d, want 7", exchange, w.Line)
				}
			}
		}
		if !found {
			t.Errorf("%s: no warning about the fax mailbox: %v", exchange, c.Warnings())
		}
	}
}
