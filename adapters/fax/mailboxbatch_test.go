package fax

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/ferry-health/ferry/adapters"
)

// TestMailboxRefusedFillBatch: messages the server refuses to give are
// left for the next poll and the rest taken meanwhile, but they counted
// toward the poll's batch: with a batch's worth of them first in INBOX,
// every poll tried them alone and no fax after them ever reached the
// exchange. The batch counts the messages settled.
func TestMailboxRefusedFillBatch(t *testing.T) {
	site := startIMAPRefusing(t, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}, refusals{fetch: func(set imap.NumSet) bool {
		uids, ok := set.(imap.UIDSet)
		if !ok {
			return false
		}
		for uid := imap.UID(1); uid <= DefaultMailboxBatch; uid++ {
			if uids.Contains(uid) {
				return true
			}
		}
		return false
	}})
	c := newCollector(t)
	mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range DefaultMailboxBatch + 1 {
		eml := filepath.Join(site.dir, fmt.Sprintf("m%d.eml", i))
		writeEmail(t, eml, map[string]string{"Subject": fmt.Sprintf("Fax %d", i)},
			part{contentType: "application/pdf", name: "fax.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
		site.deliver(t, eml)
	}
	if err := mb.Poll(t.Context()); err == nil {
		t.Fatal("poll with refused messages: no error")
	}
	if n, subjects := site.count(t, DefaultDoneMailbox); n != 1 || subjects[0] != fmt.Sprintf("Fax %d", DefaultMailboxBatch) {
		t.Fatalf("%s holds %d %q, want the message after the refused ones", DefaultDoneMailbox, n, subjects)
	}
	if len(c.got) != 1 {
		t.Errorf("%d faxes handed on, want 1", len(c.got))
	}
}
