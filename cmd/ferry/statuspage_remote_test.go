package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
)

// TestStatusPageShowsRemoteSources: the status page lists the folders'
// SFTP fetches and the fax mailboxes, as `ferry status` does, with a
// failing poll marked.
func TestStatusPageShowsRemoteSources(t *testing.T) {
	now := time.Now().UTC()
	r := ops.Status{Now: now, Started: now,
		Fetches: []ops.RemoteFetch{{Folder: "athena", From: "sftp://sftp.ehr.example.com:22/outbound",
			Stats: fetch.Stats{Fetched: 7, LastPoll: now, LastError: "fetch.known_hosts names no key for sftp.ehr.example.com"}}},
		Mailboxes: []ops.MailboxStatus{{Name: "cloudfax", Address: "imap.example.com:993", Mailbox: "INBOX",
			MailboxStats: fax.MailboxStats{Taken: 3, Failed: 1, LastPoll: now}}},
	}
	var b bytes.Buffer
	if err := statusTmpl.Execute(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<table id="fetches">`, "<td>athena</td><td>sftp://sftp.ehr.example.com:22/outbound</td><td>7</td>",
		`class="bad">failed: fetch.known_hosts names no key`, `<table id="mailboxes">`, "<td>cloudfax</td><td>imap.example.com:993 INBOX</td><td>3</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
}
