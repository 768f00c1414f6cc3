package fax

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestIncompleteFaxSaysSo: a fax whose receive ended in error (HylaFAX's
// xferfaxlog RECV record gives the reason, "" when the fax came whole; a
// cloud fax's sidecar a partial flag, Concord's Partial, Telnyx's
// partial_content) is still delivered, but its DocumentReference says
// that pages may be missing, with the reason and the pages received, its
// fax receipt carries partial, and a WARN names the fax by its hash
// only. It reached the exchange looking complete.
func TestIncompleteFaxSaysSo(t *testing.T) {
	t.Run("hylafax", func(t *testing.T) {
		root := t.TempDir()
		recvq := filepath.Join(root, "recvq")
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(recvq, 0o755); err != nil {
			t.Fatal(err)
		}
		log := "11/20/26 14:03\tRECV\t000000042\tttyS0\trecvq/fax000000042.tif\t\tfax\t\"5550199\"\t\"+1 555 0100\"\t4199434\t2\t0:01:10\t0:01:02\t\"RSPREC error/got DCN\"\t\"TEST CLINIC\"\t\"5550100\"\t\"\"\t\"\"\n"
		if err := os.WriteFile(filepath.Join(root, "etc", "xferfaxlog"), []byte(log), 0o644); err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(faxDir, "hylafax/recvq/fax000000042.tif"), filepath.Join(recvq, "fax000000042.tif"))
		cfg := DefaultConfig(KindHylaFAX)
		cfg.Name, cfg.Path, cfg.TimeZone = "hylafax", recvq, "America/New_York"
		g, logs := partialRun(t, cfg)
		checkPartial(t, g, logs, "RSPREC error/got DCN", "2 pages received")
	})
	for name, sidecar := range map[string]string{
		"concord": `{"CallerNumber":"+15550100","FaxPages":1,"Partial":true,"MRN":"4711","PatientName":"Smith, John"}`,
		"telnyx":  `{"from":"+15550100","page_count":1,"partial_content":true,"mrn":"4711","patient_name":"Smith, John"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Smith_John.json"), []byte(sidecar), 0o600); err != nil {
				t.Fatal(err)
			}
			copyFile(t, filepath.Join(faxDir, "g4-fine-1p.tif"), filepath.Join(dir, "Smith_John.tif"))
			cfg := DefaultConfig(KindFax)
			cfg.Name, cfg.Path = "cloud", dir
			g, logs := partialRun(t, cfg)
			checkPartial(t, g, logs, "", "1 page received")
			if strings.Contains(logs, "Smith") || strings.Contains(logs, "4711") {
				t.Errorf("the WARN names the patient: %s", logs)
			}
		})
	}
	// A fax that came whole says nothing of it.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.json"), []byte(`{"CallerNumber":"+15550100","Partial":false}`), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(faxDir, "g4-fine-1p.tif"), filepath.Join(dir, "x.tif"))
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "cloud", dir
	g, logs := partialRun(t, cfg)
	if d := str(docRef(g.bundle), "description"); strings.Contains(strings.ToLower(d), "incomplete") || strings.Contains(logs, "incomplete") {
		t.Errorf("a whole fax is said to be incomplete: %q\n%s", d, logs)
	}
	if _, ok := receipt(docRef(g.bundle))["partial"]; ok {
		t.Errorf("a whole fax's receipt says partial")
	}
}

func partialRun(t *testing.T, cfg Config) (got, string) {
	t.Helper()
	c := newCollector(t)
	cfg.Settle, cfg.Rescan = 20*time.Millisecond, time.Hour
	var logs syncBuffer
	s, err := New(adapters.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	g := c.next(t, s)
	s.Shutdown(context.Background())
	return g, logs.String()
}

func checkPartial(t *testing.T, g got, logs, reason, pages string) {
	n := strings.Fields(pages)[0]
	t.Helper()
	f := faxfhir.FaxFromMeta(g.raw.Meta)
	if !f.Partial || f.PartialReason != reason {
		t.Errorf("fax partial %v, reason %q; want true, %q", f.Partial, f.PartialReason, reason)
	}
	d := docRef(g.bundle)
	desc := str(d, "description")
	if !strings.Contains(desc, "INCOMPLETE") || !strings.Contains(desc, "pages may be missing") || !strings.Contains(desc, pages) ||
		(reason != "" && !strings.Contains(desc, reason)) {
		t.Errorf("description %q does not say the fax is incomplete (%s, %s)", desc, reason, pages)
	}
	if r := receipt(d); r["partial"] != true || (reason != "" && r["partialReason"] != reason) {
		t.Errorf("receipt %v: want partial true, partialReason %q", r, reason)
	}
	var line string
	for l := range strings.Lines(logs) {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "incomplete") {
			line = l
		}
	}
	if !strings.Contains(line, "sha256="+g.raw.Meta["sha256"][:12]) || !strings.Contains(line, "pages="+n) {
		t.Errorf("no WARN naming the fax by its hash and the pages received: %q\n%s", line, logs)
	}
	if strings.Contains(line, "file=") {
		t.Errorf("the WARN names the file: %q", line)
	}
}

// TestIncompleteCountedOnceTaken: Incomplete counts an incomplete fax
// once it is taken, not for an attempt the queue refused (the fax is
// tried again), nor a fax that came whole.
func TestIncompleteCountedOnceTaken(t *testing.T) {
	refuse := true
	next := adapters.ConsumerFunc(func(context.Context, adapters.Raw) error {
		if refuse {
			return errors.New("queue is full")
		}
		return nil
	})
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "cloud", t.TempDir()
	s, err := New(adapters.Settings{}, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	in := func(sidecar string) adapters.Raw {
		return adapters.Raw{Name: "a.tif", Body: []byte("II*\x00"), Received: time.Now(),
			Meta: map[string]string{"file": "a.tif"}, Sidecars: map[string][]byte{"a.json": []byte(sidecar)}}
	}
	if err := s.Feed(context.Background(), in(`{"Partial":true}`)); err == nil {
		t.Fatal("the refusal was not returned")
	}
	if n := s.Incomplete(); n != 0 {
		t.Errorf("a fax the queue refused counted: %d", n)
	}
	refuse = false
	for _, sc := range []string{`{"Partial":true}`, `{"Partial":false}`} {
		if err := s.Feed(context.Background(), in(sc)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Incomplete(); n != 1 {
		t.Errorf("incomplete faxes %d, want 1", n)
	}
}

// TestIncompleteCountedOnceReadAgain: an e-mailed fax marked incomplete
// that is read again counts once. A fax mailbox whose move to
// done_mailbox fails (the mailbox over its quota) reads the message
// again at every poll, and an e-mail in a fax inbox whose second fax was
// refused (the queue full) is read again whole: each reading counted the
// faxes already stored, so ferry_fax_incomplete_total went up once a
// poll for one fax, though README counts a fax "once taken, not per
// attempt".
func TestIncompleteCountedOnceReadAgain(t *testing.T) {
	t.Run("mailbox move refused", func(t *testing.T) {
		var refusing atomic.Bool
		site := startIMAPRefusing(t, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}, refusals{move: refusing.Load})
		mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, newCollector(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := mb.Poll(t.Context()); err != nil { // makes ferry-done and ferry-failed
			t.Fatal(err)
		}
		eml := filepath.Join(site.dir, "a.eml")
		writeEmail(t, eml, map[string]string{"Subject": "Fax from 555-010-0142 (1 page)"},
			part{contentType: "text/plain", encoding: "7bit", body: []byte("Partial: yes\r\n")},
			part{contentType: "application/pdf", name: "a.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
		site.deliver(t, eml)
		refusing.Store(true)
		for range 3 {
			if err := mb.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "over quota") {
				t.Fatalf("poll with the move refused: %v", err)
			}
		}
		refusing.Store(false)
		if err := mb.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
		if st := mb.Stats(); st.Taken != 1 || st.Incomplete != 1 {
			t.Errorf("taken %d, incomplete %d; want 1, 1", st.Taken, st.Incomplete)
		}
	})
	t.Run("inbox e-mail read again", func(t *testing.T) {
		var n atomic.Int32
		next := adapters.ConsumerFunc(func(context.Context, adapters.Raw) error {
			if n.Add(1) == 2 {
				return errors.New("queue is full")
			}
			return nil
		})
		cfg := DefaultConfig(KindFax)
		cfg.Name, cfg.Path = "cloud", t.TempDir()
		s, err := New(adapters.Settings{}, cfg, next)
		if err != nil {
			t.Fatal(err)
		}
		eml := filepath.Join(t.TempDir(), "a.eml")
		writeEmail(t, eml, map[string]string{"Subject": "Fax from 555-010-0142"},
			part{contentType: "text/plain", encoding: "7bit", body: []byte("Partial: yes\r\n")},
			part{contentType: "application/pdf", name: "a.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"},
			part{contentType: "application/pdf", name: "b.pdf", body: pdfOf(t, "g3-1d-normal-3p.tif"), encoding: "base64"})
		body, err := os.ReadFile(eml)
		if err != nil {
			t.Fatal(err)
		}
		in := adapters.Raw{Name: "a.eml", Body: body, Received: time.Now(), Meta: map[string]string{"file": "a.eml"}}
		if err := s.Feed(context.Background(), in); err == nil {
			t.Fatal("the refusal of the second fax was not returned")
		}
		if err := s.Feed(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if got := s.Incomplete(); got != 2 {
			t.Errorf("incomplete faxes %d, want 2", got)
		}
	})
}
