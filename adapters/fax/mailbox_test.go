package fax

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/config/pki"
)

// imapSite is a real IMAP server (go-imap's, in memory) speaking TLS
// with a test CA, a user "fax" and its password file.
type imapSite struct {
	addr, passFile string
	clientTLS      *tls.Config
	serverCert     tls.Certificate
	dir            string
}

func startIMAP(t *testing.T) imapSite {
	t.Helper()
	return startIMAPCaps(t, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}})
}

// startIMAPCaps is startIMAP with a server that announces caps (an
// IMAP4rev1 server without MOVE or UIDPLUS).
func startIMAPCaps(t *testing.T, caps imap.CapSet) imapSite {
	t.Helper()
	return startIMAPRefusing(t, caps, refusals{})
}

// refusals are the commands a test server answers NO: a FETCH of the
// messages fetch names (a store that cannot read them), a MOVE while
// move says so (a mailbox over its quota).
type refusals struct {
	fetch func(imap.NumSet) bool
	move  func() bool
}

type refusingSession struct {
	imapserver.SessionIMAP4rev2
	r refusals
}

func (s refusingSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	if s.r.fetch != nil && s.r.fetch(numSet) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "message unreadable"}
	}
	return s.SessionIMAP4rev2.Fetch(w, numSet, options)
}

func (s refusingSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if s.r.move != nil && s.r.move() {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "over quota"}
	}
	return s.SessionIMAP4rev2.Move(w, numSet, dest)
}

// startIMAPRefusing is startIMAPCaps with a server that refuses what r
// says.
func startIMAPRefusing(t *testing.T, caps imap.CapSet, r refusals) imapSite {
	t.Helper()
	dir := t.TempDir()
	paths, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(paths.ServerCert, paths.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("fax", "s3cret")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			if r.fetch != nil || r.move != nil {
				return refusingSession{mem.NewSession().(imapserver.SessionIMAP4rev2), r}, nil, nil
			}
			return mem.NewSession(), nil, nil
		},
		Caps:   caps,
		Logger: log.New(io.Discard, "", 0), // the unknown-CA case's handshake error
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(paths.CA)
	pool.AppendCertsFromPEM(ca)
	passFile := filepath.Join(dir, "imap.pass")
	if err := os.WriteFile(passFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return imapSite{addr: ln.Addr().String(), passFile: passFile, clientTLS: &tls.Config{RootCAs: pool}, serverCert: cert, dir: dir}
}

// client logs in as the fax service would deliver, or a person would look.
func (s imapSite) client(t *testing.T) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(s.addr, &imapclient.Options{TLSConfig: s.clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("fax", "s3cret").Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// deliver appends an e-mail file to INBOX, as the fax service's mail
// server delivers it.
func (s imapSite) deliver(t *testing.T, eml string) {
	t.Helper()
	b, err := os.ReadFile(eml)
	if err != nil {
		t.Fatal(err)
	}
	cmd := s.client(t).Append("INBOX", int64(len(b)), nil)
	cmd.Write(b)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// count returns how many messages box holds, and their subjects.
func (s imapSite) count(t *testing.T, box string) (int, []string) {
	t.Helper()
	c := s.client(t)
	sel, err := c.Select(box, nil).Wait()
	if err != nil {
		t.Fatalf("select %s: %v", box, err)
	}
	if sel.NumMessages == 0 {
		return 0, nil
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, sel.NumMessages), &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, m := range msgs {
		subjects = append(subjects, m.Envelope.Subject)
	}
	return int(sel.NumMessages), subjects
}

// flaky fails while fail is set, like a full queue, and otherwise hands on.
type flaky struct {
	next adapters.Consumer
	fail atomic.Bool
}

func (f *flaky) Consume(ctx context.Context, in adapters.Raw) error {
	if f.fail.Load() {
		return errors.New("queue full")
	}
	return f.next.Consume(ctx, in)
}

// TestMailbox: a fax mailbox polled over TLS. A fax e-mail is handed on
// and moved to ferry-done only once its faxes are stored; while they
// cannot be (the queue full), it stays in INBOX and the poll says why; a
// message with no fax goes to ferry-failed with a note saying why; a
// wrong password or an unknown CA reaches nothing and moves nothing.
func TestMailbox(t *testing.T) {
	site := startIMAP(t)
	c := newCollector(t)
	fl := &flaky{next: c}
	cfg := MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile, Lines: []Line{{Called: "+1 555 010 0199", DocType: "lab"}}}
	mb, err := NewMailbox(adapters.Settings{}, cfg, site.clientTLS, fl, nil)
	if err != nil {
		t.Fatal(err)
	}

	writeEmail(t, filepath.Join(site.dir, "a.eml"), map[string]string{
		"To": "FAX=+15550100199@fax.example.org", "Subject": "Fax from 555-010-0142 (1 page)", "Date": "Wed, 25 Nov 2026 16:00:00 +0000",
	}, part{contentType: "application/pdf", name: "a.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
	writeEmail(t, filepath.Join(site.dir, "notice.eml"), map[string]string{"Subject": "Fax delivery failed"},
		part{contentType: "text/plain", encoding: "7bit", body: []byte("The fax could not be received.\r\n")})
	site.deliver(t, filepath.Join(site.dir, "a.eml"))
	site.deliver(t, filepath.Join(site.dir, "notice.eml"))

	fl.fail.Store(true)
	if err := mb.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "not stored: queue full") {
		t.Fatalf("poll with the queue full: %v", err)
	}
	if n, _ := site.count(t, "INBOX"); n != 2 {
		t.Fatalf("INBOX holds %d, want both messages still there", n)
	}
	if st := mb.Stats(); st.Taken != 0 || !strings.Contains(st.LastError, "queue full") {
		t.Errorf("stats %+v", st)
	}

	fl.fail.Store(false)
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-c.got:
		f := faxfhir.FaxFromMeta(g.raw.Meta)
		if f.CallerNumber != "555-010-0142" || f.CalledNumber != "+15550100199" || f.DocType != "lab" || g.raw.Meta[MetaMailbox] != "efax" {
			t.Errorf("fax %+v meta %v", f, g.raw.Meta)
		}
		if str(docRef(g.bundle), "type", "coding", 0, "code") != "11502-2" {
			t.Errorf("the lab line's faxes are lab reports: %v", get(docRef(g.bundle), "type"))
		}
	default:
		t.Fatal("no fax handed on")
	}
	if n, _ := site.count(t, "INBOX"); n != 0 {
		t.Errorf("INBOX holds %d after the poll", n)
	}
	if n, _ := site.count(t, DefaultDoneMailbox); n != 1 {
		t.Errorf("%s holds %d, want 1", DefaultDoneMailbox, n)
	}
	n, subjects := site.count(t, DefaultFailedMailbox)
	if n != 2 || !strings.Contains(strings.Join(subjects, "\n"), "ferry could not read message") {
		t.Errorf("%s holds %d: %q, want the notice and a note", DefaultFailedMailbox, n, subjects)
	}
	if st := mb.Stats(); st.Taken != 1 || st.Failed != 1 || st.Polls != 1 || st.LastError != "" || st.LastPoll.IsZero() {
		t.Errorf("stats %+v", st)
	}

	// A wrong password and an unknown CA: nothing read, the reason told.
	site.deliver(t, filepath.Join(site.dir, "a.eml"))
	if n, err := mb.Check(t.Context()); err != nil || n != 1 {
		t.Errorf("Check (ferry doctor): %d, %v; want the 1 message waiting", n, err)
	}
	os.WriteFile(site.passFile, []byte("wrong\n"), 0o600)
	if _, err := mb.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "login as fax") {
		t.Errorf("Check with a wrong password: %v", err)
	}
	if err := mb.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "login as fax") {
		t.Errorf("wrong password: %v", err)
	}
	os.WriteFile(site.passFile, []byte("s3cret\n"), 0o600)
	other, err := NewMailbox(adapters.Settings{}, cfg, &tls.Config{RootCAs: x509.NewCertPool()}, fl, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown CA: %v", err)
	}
	if n, _ := site.count(t, "INBOX"); n != 1 {
		t.Errorf("INBOX holds %d, want the message left alone", n)
	}
	// The same fax again (a resend) is handed on again: the pipeline's
	// duplicate check, not the mailbox, keeps it from the exchange.
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if g := <-c.got; !bytes.Contains([]byte(g.raw.Name), []byte("mailbox efax message")) {
		t.Errorf("name %q", g.raw.Name)
	}
}

// TestMailboxScheduled: started, the mailbox polls at once and on its
// schedule; Shutdown stops it.
func TestMailboxScheduled(t *testing.T) {
	site := startIMAP(t)
	c := newCollector(t)
	mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeEmail(t, filepath.Join(site.dir, "a.eml"), map[string]string{"Subject": "Fax"},
		part{contentType: "application/pdf", name: "a.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
	site.deliver(t, filepath.Join(site.dir, "a.eml"))
	if err := mb.Start(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	<-c.got
	if err := mb.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestMailboxConfigValidate(t *testing.T) {
	bad := MailboxConfig{Name: "x", Address: "imap.example.org", Poll: 5e9, DoneMailbox: "inbox", Lines: []Line{{Called: "x"}}}
	err := bad.Validate()
	for _, want := range []string{"address: want host:port", "username: required", "password_file: required", "poll: at least 10s", `done_mailbox: "inbox" is already mailbox`, "lines[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

// TestMailboxSourceID: a mailbox's own source_id is its faxes' MHD
// sourceId, as a fax inbox's is (the mailbox's name stands as the
// folder's).
func TestMailboxSourceID(t *testing.T) {
	site := startIMAP(t)
	c := newCollector(t)
	conv, err := c.conv.WithFolderSourceIDs(map[string]string{"efax": "1.3.6.1.4.1.21367.2026.99"})
	if err != nil {
		t.Fatal(err)
	}
	c.conv = conv
	mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile, SourceID: "1.3.6.1.4.1.21367.2026.99"}, site.clientTLS, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeEmail(t, filepath.Join(site.dir, "a.eml"), map[string]string{"Subject": "Fax"},
		part{contentType: "application/pdf", name: "a.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
	site.deliver(t, filepath.Join(site.dir, "a.eml"))
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	g := <-c.got
	b, _ := json.Marshal(g.bundle)
	if !bytes.Contains(b, []byte("urn:oid:1.3.6.1.4.1.21367.2026.99")) {
		t.Errorf("the SubmissionSet does not carry the mailbox's sourceId")
	}
}

// TestMailboxMoveWithoutMOVECopyFails: on a server without MOVE (RFC
// 6851), a message is copied, flagged \Deleted and expunged; when the
// copy fails (here the failed mailbox was removed after ferry made it),
// the message must stay in INBOX, not be expunged with no copy anywhere.
func TestMailboxMoveWithoutMOVECopyFails(t *testing.T) {
	site := startIMAPCaps(t, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}})
	mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, newCollector(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mb.Poll(t.Context()); err != nil { // makes ferry-done and ferry-failed
		t.Fatal(err)
	}
	if err := site.client(t).Delete(DefaultFailedMailbox).Wait(); err != nil {
		t.Fatal(err)
	}
	writeEmail(t, filepath.Join(site.dir, "notice.eml"), map[string]string{"Subject": "Fax delivery failed"},
		part{contentType: "text/plain", encoding: "7bit", body: []byte("The fax could not be received.\r\n")})
	site.deliver(t, filepath.Join(site.dir, "notice.eml"))
	if err := mb.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "move to "+DefaultFailedMailbox) {
		t.Errorf("poll with the failed mailbox gone: %v", err)
	}
	if n, _ := site.count(t, "INBOX"); n != 1 {
		t.Fatalf("INBOX holds %d, want the message left there", n)
	}
	// The next poll makes the mailbox again and moves the message.
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, _ := site.count(t, DefaultFailedMailbox); n != 2 {
		t.Errorf("%s holds %d, want the message and its note", DefaultFailedMailbox, n)
	}
}

// TestMailboxMoveWithoutUIDPLUS: a server without MOVE and UIDPLUS (RFC
// 4315) has only EXPUNGE, which removes every message flagged \Deleted.
// A message someone else flagged \Deleted in a mail client (and could
// still undelete) must not be expunged by ferry's move.
func TestMailboxMoveWithoutUIDPLUS(t *testing.T) {
	site := startIMAPCaps(t, imap.CapSet{imap.CapIMAP4rev1: {}})
	c := newCollector(t)
	mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeEmail(t, filepath.Join(site.dir, "a.eml"), map[string]string{"Subject": "Fax"},
		part{contentType: "application/pdf", name: "a.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
	site.deliver(t, filepath.Join(site.dir, "a.eml")) // someone's, flagged \Deleted below
	site.deliver(t, filepath.Join(site.dir, "a.eml"))
	other := site.client(t)
	if _, err := other.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	flag := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := other.Store(imap.SeqSetNum(1), flag, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-c.got
	if n, _ := site.count(t, DefaultDoneMailbox); n != 1 {
		t.Errorf("%s holds %d, want the fax", DefaultDoneMailbox, n)
	}
	if n, _ := site.count(t, "INBOX"); n < 1 {
		t.Errorf("INBOX holds %d: the message flagged \\Deleted by someone else was expunged", n)
	}
	// The message ferry took stays flagged at most, and is not read again,
	// nor counted as waiting by `ferry doctor`'s check.
	if n, err := mb.Check(t.Context()); err != nil || n != 0 {
		t.Errorf("check: %d waiting, %v; want none, both messages being flagged \\Deleted", n, err)
	}
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.got:
		t.Error("a message taken was read again")
	default:
	}

	// With no other message flagged, the one taken is expunged.
	site.deliver(t, filepath.Join(site.dir, "a.eml"))
	if err := other.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-c.got
	if n, _ := site.count(t, "INBOX"); n != 0 {
		t.Errorf("INBOX holds %d, want none", n)
	}
}

// stalledIMAP is a server with site's certificate that greets, then
// reads what it is sent and never answers: what it reads goes to got.
func stalledIMAP(t *testing.T, site imapSite) (addr string, got chan string) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{site.serverCert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { ln.Close(); close(stop) })
	got = make(chan string, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-stop; conn.Close() }()
			go func() {
				io.WriteString(conn, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
				buf := make([]byte, 4096)
				for {
					n, err := conn.Read(buf)
					if n > 0 {
						got <- string(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

// TestMailboxStalledServer: a server that takes the connection and then
// never answers must not hold the poll forever: cancelling the poll (as
// Shutdown does) ends it at once, and the server's silence ends it too.
func TestMailboxStalledServer(t *testing.T) {
	site := startIMAP(t)
	addr, got := stalledIMAP(t, site)
	mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, newCollector(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- mb.Poll(ctx) }()
	<-got // the LOGIN, which is never answered
	cancel()
	if err := <-done; err == nil {
		t.Error("a poll cancelled while the server is silent succeeded")
	}

	// Left alone, the poll ends once the server has been silent for the
	// stall bound, and says so.
	mb.stall = time.Millisecond
	if err := mb.Poll(t.Context()); err == nil {
		t.Error("a poll of a silent server succeeded")
	}
	if st := mb.Stats(); st.LastError == "" {
		t.Errorf("stats %+v, want the poll's error", st)
	}
}

// TestMailboxOneBadAttachment: a message whose first attachment is a
// damaged PDF and whose second is a good fax. The good fax is handed on
// all the same (it is a fax of its own), the message goes to the failed
// mailbox for the damaged one, and the note says what was sent.
func TestMailboxOneBadAttachment(t *testing.T) {
	site := startIMAP(t)
	c := newCollector(t)
	mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := pdfOf(t, "g4-fine-1p.tif")
	writeEmail(t, filepath.Join(site.dir, "two.eml"), map[string]string{"Subject": "Faxes"},
		part{contentType: "application/pdf", name: "damaged.pdf", body: good[:len(good)/2], encoding: "base64"},
		part{contentType: "application/pdf", name: "good.pdf", body: good, encoding: "base64"})
	site.deliver(t, filepath.Join(site.dir, "two.eml"))
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-c.got:
		if !strings.Contains(g.raw.Name, "attachment 2 of 2") {
			t.Errorf("handed on %q", g.raw.Name)
		}
	default:
		t.Error("the good fax of the message was not handed on")
	}
	if n, _ := site.count(t, "INBOX"); n != 0 {
		t.Errorf("INBOX holds %d", n)
	}
	cl := site.client(t)
	if _, err := cl.Select(DefaultFailedMailbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := cl.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var note string
	for _, m := range msgs {
		if strings.HasPrefix(m.Envelope.Subject, "ferry could not read") {
			for _, b := range m.BodySection {
				note = string(b.Bytes)
			}
		}
	}
	if !strings.Contains(note, "attachment 1 of 2") || strings.Contains(note, "Nothing of it was sent") || !strings.Contains(note, "1 of its 2 faxes") {
		t.Errorf("note:\n%s", note)
	}
}

// TestMailboxRefusedMessageSkipped: a message the server will not give
// (NO to its FETCH) stays in INBOX and does not keep the messages after
// it from the exchange: they are taken in the same poll, which then
// fails naming the refused one (UID 1); once the server gives it, it is
// taken too.
func TestMailboxRefusedMessageSkipped(t *testing.T) {
	var refusing atomic.Bool
	refusing.Store(true)
	site := startIMAPRefusing(t, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}, refusals{fetch: func(set imap.NumSet) bool {
		uids, ok := set.(imap.UIDSet)
		return ok && refusing.Load() && uids.Contains(1)
	}})
	c := newCollector(t)
	mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		eml := filepath.Join(site.dir, name+".eml")
		writeEmail(t, eml, map[string]string{"Subject": "Fax " + name},
			part{contentType: "application/pdf", name: name + ".pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
		site.deliver(t, eml)
	}
	err = mb.Poll(t.Context())
	if err == nil || !strings.Contains(err.Error(), "message unreadable") || !strings.Contains(err.Error(), "/1: fetch") {
		t.Fatalf("poll with message 1 refused: %v", err)
	}
	if n, subjects := site.count(t, "INBOX"); n != 1 || subjects[0] != "Fax a" {
		t.Fatalf("INBOX holds %d %q, want the refused message only", n, subjects)
	}
	if n, _ := site.count(t, DefaultDoneMailbox); n != 1 {
		t.Fatalf("%s holds %d, want the message after the refused one", DefaultDoneMailbox, n)
	}
	if st := mb.Stats(); st.Taken != 1 || st.LastPoll.IsZero() || !strings.Contains(st.LastError, "message unreadable") {
		t.Errorf("stats %+v", st)
	}
	refusing.Store(false)
	if err := mb.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, _ := site.count(t, DefaultDoneMailbox); n != 2 {
		t.Errorf("%s holds %d, want both", DefaultDoneMailbox, n)
	}
	if len(c.got) != 2 {
		t.Errorf("%d faxes handed on, want 2", len(c.got))
	}
}

// TestMailboxOneNoteWhileMoveFails: a message that goes to the failed
// mailbox gets one note, however many polls its move fails (the mailbox
// over its quota): the note follows the move, where it came before it
// and was appended again at every poll.
func TestMailboxOneNoteWhileMoveFails(t *testing.T) {
	var refusing atomic.Bool
	site := startIMAPRefusing(t, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}, refusals{move: refusing.Load})
	mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, newCollector(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mb.Poll(t.Context()); err != nil { // makes ferry-done and ferry-failed
		t.Fatal(err)
	}
	writeEmail(t, filepath.Join(site.dir, "notice.eml"), map[string]string{"Subject": "Fax delivery failed"},
		part{contentType: "text/plain", encoding: "7bit", body: []byte("The fax could not be received.\r\n")})
	site.deliver(t, filepath.Join(site.dir, "notice.eml"))
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
	if n, subjects := site.count(t, DefaultFailedMailbox); n != 2 {
		t.Errorf("%s holds %d %q, want the message and one note", DefaultFailedMailbox, n, subjects)
	}
	if n, _ := site.count(t, "INBOX"); n != 0 {
		t.Errorf("INBOX holds %d", n)
	}
}

// TestMailboxPlainServerSaysStartTLS: README has the address "TLS from
// the first byte; 143 with starttls: true". A mailbox given IMAP's plain
// port without starttls got the server's greeting where a TLS record
// belongs, and its poll failed with crypto/tls's "first record does not
// look like a TLS handshake", naming neither cause nor setting; it now
// says the server wants STARTTLS and names starttls.
func TestMailboxPlainServerSaysStartTLS(t *testing.T) {
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return imapmemserver.New().NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	pass := filepath.Join(t.TempDir(), "imap.pass")
	if err := os.WriteFile(pass, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := MailboxConfig{Name: "efax", Address: ln.Addr().String(), Username: "fax", PasswordFile: pass}
	mb, err := NewMailbox(adapters.Settings{}, cfg, &tls.Config{}, newCollector(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = mb.Poll(t.Context())
	if err == nil || !strings.Contains(err.Error(), "starttls: true") || !strings.Contains(err.Error(), "plain text") {
		t.Fatalf("poll of a server that greets in plain text: %v, want it to say so and name starttls: true", err)
	}
}

// heldConsumer holds each fax until release is closed, as a queue on a
// slow disk would.
type heldConsumer struct {
	entered chan struct{}
	release chan struct{}
}

func (h heldConsumer) Consume(context.Context, adapters.Raw) error {
	h.entered <- struct{}{}
	<-h.release
	return nil
}

// TestMailboxShutdownSaysWhatItWaitsFor: a mailbox whose message in hand
// was slow to store held the gateway's stop without a word, where the
// MLLP listener says at once that it waits for its messages in flight;
// it now says it waits for the poll in progress.
func TestMailboxShutdownSaysWhatItWaitsFor(t *testing.T) {
	site := startIMAP(t)
	h := heldConsumer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	logs := &syncBuffer{}
	set := adapters.Settings{Logger: slog.New(slog.NewTextHandler(logs, nil))}
	mb, err := NewMailbox(set, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeEmail(t, filepath.Join(site.dir, "a.eml"), map[string]string{"Subject": "Fax"},
		part{contentType: "application/pdf", name: "a.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
	site.deliver(t, filepath.Join(site.dir, "a.eml"))
	if err := mb.Start(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	<-h.entered
	stopped := make(chan error, 1)
	go func() { stopped <- mb.Shutdown(context.Background()) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "fax mailbox stopping: waiting for the poll in progress") {
		if time.Now().After(deadline) {
			close(h.release)
			t.Fatalf("the stop waits for the message in hand without saying so:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(h.release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "mailbox=efax") {
		t.Errorf("the stopping line does not name the mailbox:\n%s", logs.String())
	}
}
