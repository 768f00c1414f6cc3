package fax

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/go-co-op/gocron/v2"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config/configtext"
	"github.com/ferry-health/ferry/queue"
)

// Mailbox defaults.
const (
	DefaultMailboxPoll   = time.Minute
	DefaultDoneMailbox   = "ferry-done"
	DefaultFailedMailbox = "ferry-failed"
	// DefaultMailboxBatch bounds the messages one poll takes, so that a
	// mailbox with a backlog is worked through a batch at a time.
	DefaultMailboxBatch = 50
	// mailboxStall bounds how long the server may stay silent while
	// ferry waits for it (see stallConn).
	mailboxStall = 5 * time.Minute
)

// MailboxConfig is a fax mailbox: an IMAP mailbox a fax-to-e-mail service
// (or a T.37 internet fax machine) delivers faxes to. ferry polls it over
// TLS, reads each message as an e-mailed fax (see readEmail), and moves
// the message to DoneMailbox once every fax in it is stored (fsynced), or
// to FailedMailbox, with a note saying why, when it holds none ferry can
// read. Nothing is deleted, and a message is moved only after its faxes
// are on disk: a crash in between has the next poll read it again, and
// the duplicate check keeps that harmless.
type MailboxConfig struct {
	Name string `yaml:"name"`
	// Address is the IMAP server, host:port: 993 speaks TLS from the
	// first byte; with StartTLS (port 143) the session is upgraded before
	// the login. There is no clear-text mode.
	Address  string `yaml:"address"`
	StartTLS bool   `yaml:"starttls"`
	Username string `yaml:"username"`
	// PasswordFile holds the password (its first line), read at each
	// poll, so that a changed password needs no restart. It should be
	// readable by the service account only. Give it or OAuth2.
	PasswordFile string `yaml:"password_file"`
	// OAuth2 logs in with SASL XOAUTH2 and an access token from the
	// OAuth 2.0 client credentials grant, as Microsoft 365 (which turned
	// password logins off) and Google Workspace ask of a service.
	OAuth2 *OAuth2Config `yaml:"oauth2"`
	// HTTP is the client the token endpoint is asked with (the gateway's,
	// with its proxy); nil means a default client.
	HTTP *http.Client `yaml:"-"`
	// Mailbox is the folder the faxes arrive in (default INBOX).
	Mailbox string `yaml:"mailbox"`
	// DoneMailbox and FailedMailbox are created when missing.
	DoneMailbox   string        `yaml:"done_mailbox"`
	FailedMailbox string        `yaml:"failed_mailbox"`
	Poll          time.Duration `yaml:"poll"`
	// TimeZone and Lines are as for a fax inbox (Config).
	TimeZone string `yaml:"time_zone"`
	Lines    []Line `yaml:"lines"`
	// SourceID is the IHE MHD sourceId (an OID) of this mailbox's faxes,
	// when the fax service is a source system apart from the clinic's
	// other faxes (as a fax inbox's source_id); empty means fax.source_id.
	SourceID string `yaml:"source_id"`
}

func (c MailboxConfig) withDefaults() MailboxConfig {
	if c.Mailbox == "" {
		c.Mailbox = "INBOX"
	}
	if c.DoneMailbox == "" {
		c.DoneMailbox = DefaultDoneMailbox
	}
	if c.FailedMailbox == "" {
		c.FailedMailbox = DefaultFailedMailbox
	}
	if c.Poll == 0 {
		c.Poll = DefaultMailboxPoll
	}
	return c
}

// Validate checks the configuration without touching the network or the
// password file.
func (c MailboxConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if _, port, err := net.SplitHostPort(c.Address); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("address: want host:port (993, or 143 with starttls: true), got %q", c.Address))
	}
	if c.Username == "" {
		errs = append(errs, errors.New("username: required"))
	}
	switch {
	case c.PasswordFile == "" && c.OAuth2 == nil:
		errs = append(errs, errors.New("password_file: required (a file holding the password, readable by the service account only), or oauth2"))
	case c.PasswordFile != "" && c.OAuth2 != nil:
		errs = append(errs, errors.New("oauth2: give password_file or oauth2, not both"))
	case c.OAuth2 != nil:
		errs = append(errs, c.OAuth2.validate()...)
	}
	if c.Poll < 10*time.Second {
		errs = append(errs, fmt.Errorf("poll: at least 10s, got %s", c.Poll))
	}
	names := map[string]string{}
	for _, m := range []struct{ field, name string }{{"mailbox", c.Mailbox}, {"done_mailbox", c.DoneMailbox}, {"failed_mailbox", c.FailedMailbox}} {
		if prev, ok := names[strings.ToUpper(m.name)]; ok {
			errs = append(errs, fmt.Errorf("%s: %q is already %s", m.field, m.name, prev))
		}
		names[strings.ToUpper(m.name)] = m.field
	}
	errs = append(errs, zoneAndLines(c.TimeZone, c.Lines)...)
	return errors.Join(errs...)
}

// MailboxStats counts what a mailbox source did since it started. PHI-free.
type MailboxStats struct {
	Polls  int64 // polls that reached the mailbox
	Taken  int64 // messages whose faxes were stored, moved to done_mailbox
	Failed int64 // messages without a readable fax, moved to failed_mailbox
	// Incomplete counts the faxes stored marked incomplete (the call
	// ended early, pages may be missing).
	Incomplete int64
	LastPoll   time.Time `json:",omitzero"` // the end of the last poll that reached the mailbox; zero before one
	// LastError is the last poll's error ("" after a good poll): the
	// server unreachable, the login refused, a fax not stored yet.
	LastError string
}

// Mailbox is a fax mailbox source. It implements adapters.Source.
type Mailbox struct {
	id    string // adapters.Raw.Source of its faxes
	cfg   MailboxConfig
	tls   *tls.Config
	src   *Source // describes and hands on each fax, as an inbox does
	log   *slog.Logger
	sched gocron.Scheduler
	own   bool
	jobID [16]byte
	stall time.Duration // mailboxStall; shorter in tests

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // one poll at a time (Poll from a test, the job)
	stopMu sync.Mutex
	done   bool

	// boxesReady is set once DoneMailbox and FailedMailbox are known to
	// exist (guarded by mu).
	boxesReady bool
	// warned is the poll error last logged, at warnedAt (guarded by mu).
	warned   string
	warnedAt time.Time
	// tok is the OAuth 2.0 access token and when it is to be renewed.
	tokMu  sync.Mutex
	tok    string
	tokExp time.Time
	// stopping ends a poll after the message in hand (Shutdown).
	stopping atomic.Bool

	polls, taken, failed atomic.Int64
	stMu                 sync.Mutex
	lastPoll             time.Time
	lastErr              string
}

var _ adapters.Source = (*Mailbox)(nil)

// NewMailbox builds a fax mailbox that hands each fax to next. tlsCfg is
// the client TLS configuration (its ServerName defaults to the address's
// host); sched, when not nil, runs the poll (the gateway's scheduler).
func NewMailbox(set adapters.Settings, cfg MailboxConfig, tlsCfg *tls.Config, next adapters.Consumer, sched gocron.Scheduler) (*Mailbox, error) {
	if next == nil {
		return nil, fmt.Errorf("fax mailbox %q: nil consumer", cfg.Name)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fax mailbox %q: invalid config: %w", cfg.Name, err)
	}
	if set.ID == "" {
		set.ID = "mailbox/" + cfg.Name
	}
	log := set.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsCfg = tlsCfg.Clone()
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName, _, _ = net.SplitHostPort(cfg.Address)
	}
	if tlsCfg.MinVersion < tls.VersionTLS12 {
		tlsCfg.MinVersion = tls.VersionTLS12
	}
	src := &Source{cfg: Config{TimeZone: cfg.TimeZone, Lines: cfg.Lines}, next: next, log: log, logPHI: set.LogPHI, loc: time.Local}
	src.cfg.Name = cfg.Name
	if cfg.TimeZone != "" {
		src.loc, _ = time.LoadLocation(cfg.TimeZone)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Mailbox{id: set.ID, cfg: cfg, tls: tlsCfg, src: src, log: log, sched: sched, stall: mailboxStall, ctx: ctx, cancel: cancel}, nil
}

// Start schedules the poll (the first right away) and returns.
func (m *Mailbox) Start(context.Context, adapters.Host) error {
	if m.sched == nil {
		s, err := gocron.NewScheduler()
		if err != nil {
			return fmt.Errorf("fax mailbox %q: scheduler: %w", m.cfg.Name, err)
		}
		m.sched, m.own = s, true
	}
	job, err := m.sched.NewJob(
		gocron.DurationJob(m.cfg.Poll),
		gocron.NewTask(func() { _ = m.Poll(m.ctx) }),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithStartAt(gocron.WithStartImmediately()),
		gocron.WithName("fax mailbox "+m.cfg.Name),
	)
	if err != nil {
		return fmt.Errorf("fax mailbox %q: schedule the poll: %w", m.cfg.Name, err)
	}
	m.jobID = job.ID()
	if m.own {
		m.sched.Start()
	}
	return nil
}

// Shutdown stops polling and waits for the poll in progress, which ends
// after the message in hand (its faxes stored and the message moved, or
// not, for the next start); when ctx ends first, that message's store is
// cancelled too.
func (m *Mailbox) Shutdown(ctx context.Context) error {
	m.stopMu.Lock()
	if m.done {
		m.stopMu.Unlock()
		return nil
	}
	m.done = true
	m.stopMu.Unlock()
	m.stopping.Store(true)
	if m.sched != nil {
		if m.own {
			_ = m.sched.Shutdown()
		} else {
			_ = m.sched.RemoveJob(m.jobID)
		}
	}
	if m.mu.TryLock() {
		m.mu.Unlock()
	} else {
		// A stop is otherwise silent until it ends: say what it waits
		// for, as the MLLP listener does.
		m.log.Info("fax mailbox stopping: waiting for the poll in progress (the message in hand is stored and moved, or left for the next start)",
			"mailbox", m.cfg.Name)
	}
	idle := make(chan struct{})
	go func() { m.mu.Lock(); m.mu.Unlock(); close(idle) }()
	select {
	case <-idle:
		m.cancel()
		return nil
	case <-ctx.Done():
		m.cancel()
		<-idle
		return ctx.Err()
	}
}

// Stats returns what the mailbox did since it started.
func (m *Mailbox) Stats() MailboxStats {
	m.stMu.Lock()
	defer m.stMu.Unlock()
	return MailboxStats{Polls: m.polls.Load(), Taken: m.taken.Load(), Failed: m.failed.Load(), Incomplete: m.src.Incomplete(),
		LastPoll: m.lastPoll, LastError: m.lastErr}
}

// Config returns the mailbox's configuration, defaults applied.
func (m *Mailbox) Config() MailboxConfig { return m.cfg }

// Poll reads the mailbox once: every message (up to DefaultMailboxBatch)
// is read as an e-mailed fax, oldest first, and moved once settled. A
// message whose faxes cannot be stored now (the queue full, the disk)
// ends the poll and stays for the next.
func (m *Mailbox) Poll(ctx context.Context) (err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping.Load() {
		return nil // a scheduled run that started as Shutdown removed it
	}
	defer func() {
		m.stMu.Lock()
		m.lastErr = ""
		if err != nil {
			m.lastErr = err.Error()
		}
		m.stMu.Unlock()
		switch {
		case err == nil && m.warned != "":
			m.log.Info("fax mailbox read again", "mailbox", m.cfg.Name)
			m.warned = ""
		case err != nil && ctx.Err() == nil && (adapters.FailureKey(err, err.Error()) != m.warned || time.Since(m.warnedAt) >= 15*time.Minute):
			// A server down for a night logs when it fails, when the
			// reason changes and every 15 minutes, not at every poll;
			// the reason without the connection's addresses, whose own
			// port is new at every poll.
			m.log.Warn("fax mailbox poll failed; trying again at the next poll", "mailbox", m.cfg.Name, "err", err, "poll", m.cfg.Poll)
			m.warned, m.warnedAt = adapters.FailureKey(err, err.Error()), time.Now()
		}
	}()
	c, closeConn, err := m.dial(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	if err := m.login(ctx, c); err != nil {
		return fmt.Errorf("fax mailbox %s: %w", m.cfg.Name, err)
	}
	if !m.boxesReady {
		// Listed (and created) once, not at every poll; a failed move
		// looks again.
		for _, box := range []string{m.cfg.DoneMailbox, m.cfg.FailedMailbox} {
			if err := ensureMailbox(c, box); err != nil {
				return fmt.Errorf("fax mailbox %s: %w", m.cfg.Name, err)
			}
		}
		m.boxesReady = true
	}
	sel, err := c.Select(m.cfg.Mailbox, nil).Wait()
	if err != nil {
		return fmt.Errorf("fax mailbox %s: select %s: %w", m.cfg.Name, m.cfg.Mailbox, err)
	}
	search, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("fax mailbox %s: search %s: %w", m.cfg.Name, m.cfg.Mailbox, err)
	}
	// Messages the server refuses to give (a NO to their FETCH: a
	// message its store cannot read, a virus scanner's lock) are left
	// where they are, for the next poll, and the rest taken meanwhile;
	// the poll then fails naming them. Anything else ends the poll. The
	// batch counts the messages settled, not those refused: a batch's
	// worth of refused ones first in the mailbox would otherwise be all
	// that every poll tried.
	var refused []error
	settled := 0
	for _, uid := range search.AllUIDs() {
		if ctx.Err() != nil || m.stopping.Load() {
			return nil
		}
		if settled >= DefaultMailboxBatch {
			break
		}
		if err := m.take(ctx, c, sel.UIDValidity, uid); err != nil {
			var rf *fetchRefused
			if !errors.As(err, &rf) {
				return err
			}
			refused = append(refused, err)
			continue
		}
		settled++
	}
	m.polls.Add(1)
	m.stMu.Lock()
	m.lastPoll = time.Now()
	m.stMu.Unlock()
	if err := c.Logout().Wait(); err != nil {
		m.log.Debug("fax mailbox logout", "mailbox", m.cfg.Name, "err", err)
	}
	return errors.Join(refused...)
}

// fetchRefused is a FETCH of one message the server answered with NO or
// BAD: that message's trouble, not the session's.
type fetchRefused struct{ err error }

func (e *fetchRefused) Error() string { return e.err.Error() }
func (e *fetchRefused) Unwrap() error { return e.err }

// refusal marks err as a refused FETCH when the server answered it.
func refusal(err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return &fetchRefused{err}
	}
	return err
}

// take reads one message and settles it.
func (m *Mailbox) take(ctx context.Context, c *imapclient.Client, validity uint32, uid imap.UID) error {
	set := imap.UIDSetNum(uid)
	name := fmt.Sprintf("mailbox %s message %d/%d", m.cfg.Name, validity, uid)
	msgs, err := c.Fetch(set, &imap.FetchOptions{RFC822Size: true}).Collect()
	if err != nil {
		return refusal(fmt.Errorf("%s: fetch its size: %w", name, err))
	}
	if len(msgs) == 0 {
		return nil // expunged meanwhile
	}
	var perm error
	var sent, faxes, partial int
	if size := msgs[0].RFC822Size; size > MaxEmailBytes {
		perm = queue.Permanent(fmt.Errorf("%s: %d bytes, more than the %d an e-mailed fax may have", name, size, MaxEmailBytes))
	} else {
		ins, e, found, err := m.fetch(c, set, name, msgs[0].RFC822Size)
		switch {
		case err != nil && !queue.IsPermanent(err):
			return refusal(err)
		case err != nil:
			perm = err
		case !found:
			return nil // expunged meanwhile
		default:
			faxes = len(ins)
			if sent, partial, err = m.src.passEmail(ctx, ins, e); err != nil {
				if !queue.IsPermanent(err) {
					return fmt.Errorf("%s: not stored: %w", name, err)
				}
				perm = err
			}
		}
	}
	to := m.cfg.DoneMailbox
	if perm != nil {
		to = m.cfg.FailedMailbox
	}
	if err := move(c, set, to); err != nil {
		m.boxesReady = false // someone may have removed it
		return fmt.Errorf("%s: move to %s: %w", name, to, err)
	}
	// Its incomplete faxes count once it is moved: a move that fails has
	// the message read again, its faxes stored then duplicates.
	m.src.incomplete.Add(int64(partial))
	if perm == nil {
		m.taken.Add(1)
		return nil
	}
	m.failed.Add(1)
	// The note follows the move, so that a move failing poll after poll
	// does not leave a note each time.
	attrs := []any{"mailbox", m.cfg.Name, "uid", uint32(uid), "to", to, "faxes_sent", sent}
	if m.src.logPHI {
		attrs = append(attrs, "err", perm)
	}
	m.log.Warn("fax mailbox message holds a fax ferry cannot read (faxes_sent counts the others it stored); moved to the failed mailbox with a note saying why", attrs...)
	sentNote := "Nothing of it was sent to the exchange."
	if sent > 0 {
		sentNote = fmt.Sprintf("%d of its %d faxes were sent to the exchange all the same; the rest were not.", sent, faxes)
	}
	note := fmt.Sprintf("From: ferry <ferry@localhost>\r\nSubject: ferry could not read message %d/%d of %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n\r\nThe message is beside this note, in %s. %s\r\n",
		validity, uid, m.cfg.Mailbox, time.Now().Format(time.RFC1123Z), crlf(perm.Error()), to, sentNote)
	if err := appendNote(c, to, note); err != nil {
		m.log.Warn("fax mailbox: the note on a failed message was not written", "mailbox", m.cfg.Name, "err", err)
	}
	return nil
}

// fetch reads a message's faxes as the server sends it: the message is
// parsed as it streams in (only its decoded images are held), and the
// FETCH is complete before anything is stored. found is false when the
// message is gone.
func (m *Mailbox) fetch(c *imapclient.Client, set imap.UIDSet, name string, size int64) (ins []adapters.Raw, e *emailFax, found bool, err error) {
	section := &imap.FetchItemBodySection{Peek: true}
	cmd := c.Fetch(set, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}})
	defer func() {
		if cerr := cmd.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: fetch: %w", name, cerr)
		}
	}()
	msg := cmd.Next()
	if msg == nil {
		return nil, nil, false, nil
	}
	for {
		item := msg.Next()
		if item == nil {
			return nil, nil, false, nil
		}
		body, ok := item.(imapclient.FetchItemDataBodySection)
		if !ok || body.Literal == nil {
			continue
		}
		in := adapters.Raw{
			Source: m.id, Format: Format, Name: name, Size: size, Received: time.Now(),
			// The mailbox's name stands as the folder's: a source_id of
			// its own is looked up by it (faxfhir.WithFolderSourceIDs).
			Meta: map[string]string{MetaMailbox: m.cfg.Name, folder.MetaFolder: m.cfg.Name},
			Open: func() (io.ReadCloser, error) { return io.NopCloser(body.Literal), nil },
		}
		ins, e, err = emailInputs(in)
		// What the parser left of the literal (an epilogue) is read, so
		// that the FETCH can complete.
		_, _ = io.Copy(io.Discard, body.Literal)
		for msg.Next() != nil {
		}
		return ins, e, true, err
	}
}

// MetaMailbox names, in Raw.Meta, the fax mailbox a fax came from.
const MetaMailbox = "fax.mailbox"

// dial connects to the server; closeConn closes the connection. It is
// closed as well when ctx ends, which ends a command waiting for a
// silent server at once (Shutdown).
func (m *Mailbox) dial(ctx context.Context) (c *imapclient.Client, closeConn func(), err error) {
	opts := &imapclient.Options{TLSConfig: m.tls}
	d := &net.Dialer{Timeout: 30 * time.Second}
	var nc net.Conn
	if m.cfg.StartTLS {
		if nc, err = d.DialContext(ctx, "tcp", m.cfg.Address); err == nil {
			first := &firstBytesConn{Conn: nc}
			c, err = imapclient.NewStartTLS(stallConn{first, m.stall}, opts)
			if err != nil && ctx.Err() == nil && first.tlsPort() && !errors.Is(err, syscall.ECONNRESET) {
				// imapclient sends STARTTLS at once: a server that speaks
				// TLS from the first byte takes it for a broken handshake
				// and closes the connection, with a TLS alert or nothing,
				// never an IMAP greeting.
				return nil, nil, fmt.Errorf("fax mailbox %s: connect to %s: the server answered STARTTLS with no IMAP greeting (%s), as a server that speaks TLS from the first byte does (its port 993); if %s is that port, set starttls: false, or give its STARTTLS port (143)",
					m.cfg.Name, m.cfg.Address, first.saw(), m.cfg.Address)
			}
		}
	} else {
		tc := m.tls.Clone()
		if tc.NextProtos == nil {
			tc.NextProtos = []string{"imap"}
		}
		if nc, err = (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, "tcp", m.cfg.Address); err == nil {
			c = imapclient.New(stallConn{nc, m.stall}, opts)
		}
	}
	var rh tls.RecordHeaderError
	if err != nil && !m.cfg.StartTLS && errors.As(err, &rh) && bytes.HasPrefix(rh.RecordHeader[:], []byte("* ")) {
		// An IMAP greeting ("* OK ...") where the TLS handshake
		// belongs: the server's plain port, usually 143.
		return nil, nil, fmt.Errorf("fax mailbox %s: connect to %s: the server answered in plain text (an IMAP greeting), not TLS: it wants STARTTLS; set starttls: true, or give its TLS port (993)", m.cfg.Name, m.cfg.Address)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("fax mailbox %s: connect to %s: %w", m.cfg.Name, m.cfg.Address, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return c, func() { stop(); c.Close() }, nil
}

// firstBytesConn keeps the first two bytes the server sends, which tell
// an IMAP greeting ("* ") from a TLS record.
type firstBytesConn struct {
	net.Conn
	mu    sync.Mutex
	first []byte
}

func (c *firstBytesConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if k := min(n, 2-len(c.first)); k > 0 {
		c.first = append(c.first, p[:k]...)
	}
	c.mu.Unlock()
	return n, err
}

// tlsPort reports whether what the server sent first is what a TLS
// server sends a client that does not begin with a handshake: nothing,
// or a TLS record (an alert, 0x15, or a handshake, 0x16, of version 3.x).
func (c *firstBytesConn) tlsPort() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.first) == 0 || (c.first[0] == 0x15 || c.first[0] == 0x16) && (len(c.first) < 2 || c.first[1] == 0x03)
}

// saw says what the server sent first, for tlsPort's error.
func (c *firstBytesConn) saw() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.first) == 0 {
		return "it closed the connection, or stayed silent, without a word"
	}
	return "it sent a TLS record"
}

// stallConn bounds the server's silence: imapclient clears the read
// deadline once it has read a response, and its reader then waits for
// the next with none, so a server that took a command and never answered
// held the poll, and every later one, forever. A cleared deadline is
// stall from now instead, and a read that times out closes the
// connection (the reader would otherwise read on, under its own 30 s).
type stallConn struct {
	net.Conn
	stall time.Duration
}

func (c stallConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		t = time.Now().Add(c.stall)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c stallConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.Conn.Close()
	}
	return n, err
}

// readPassword returns the first line of the password file, read as
// Windows saves text: after a UTF-8 byte-order mark (Notepad before 2019,
// PowerShell 5's Set-Content -Encoding UTF8), or UTF-16 by its mark
// (PowerShell 5's > and Out-File), as sidecars are (configtext).
func readPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("password_file: %w", err)
	}
	if b, err = configtext.UTF8(b); err != nil {
		return "", fmt.Errorf("password_file %s: %w", path, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("password_file %s: empty", path)
	}
	return line, nil
}

// ensureMailbox creates box unless the server lists it.
func ensureMailbox(c *imapclient.Client, box string) error {
	list, err := c.List("", box, nil).Collect()
	if err != nil {
		return fmt.Errorf("list %s: %w", box, err)
	}
	for _, l := range list {
		if strings.EqualFold(l.Mailbox, box) {
			return nil
		}
	}
	if err := c.Create(box, nil).Wait(); err != nil {
		return fmt.Errorf("create %s: %w", box, err)
	}
	return nil
}

// move moves the messages of set to box: MOVE (RFC 6851), or on a
// server without it, COPY, then STORE \Deleted, then EXPUNGE, each only
// once the one before succeeded. (imapclient's own fallback sends the
// three at once, so a COPY the server refuses, say for a mailbox someone
// removed, still has the message flagged and expunged: gone, with no
// copy anywhere.) Without UIDPLUS (RFC 4315) there is no UID EXPUNGE,
// and EXPUNGE removes every message flagged \Deleted, someone else's
// too (flagged in a mail client, still to be undeleted there): it is
// sent only when no message outside set is flagged. Otherwise the moved
// message stays flagged, which the poll's search skips, until whoever
// expunges the others.
func move(c *imapclient.Client, set imap.UIDSet, box string) error {
	if c.Caps().Has(imap.CapMove) {
		_, err := c.Move(set, box).Wait()
		return err
	}
	if _, err := c.Copy(set, box).Wait(); err != nil {
		return err
	}
	flag := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.Store(set, flag, nil).Close(); err != nil {
		return err
	}
	if c.Caps().Has(imap.CapUIDPlus) {
		return c.UIDExpunge(set).Close()
	}
	flagged, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return err
	}
	for _, uid := range flagged.AllUIDs() {
		if !set.Contains(uid) {
			return nil
		}
	}
	return c.Expunge().Close()
}

// crlf ends the lines of s with CRLF, as a message appended must (the
// errors of several faxes are joined by bare line feeds).
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

func appendNote(c *imapclient.Client, box, note string) error {
	cmd := c.Append(box, int64(len(note)), nil)
	if _, err := io.WriteString(cmd, note); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// Check logs in and looks into the mailbox without changing anything
// (EXAMINE): how many messages wait there. For `ferry doctor`.
func (m *Mailbox) Check(ctx context.Context) (waiting uint32, err error) {
	c, closeConn, err := m.dial(ctx)
	if err != nil {
		return 0, err
	}
	defer closeConn()
	if err := m.login(ctx, c); err != nil {
		return 0, err
	}
	if _, err := c.Select(m.cfg.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return 0, fmt.Errorf("examine %s: %w", m.cfg.Mailbox, err)
	}
	// As a poll counts them: messages flagged \Deleted (by someone, or
	// by ferry's own move on a server without UIDPLUS) are not read.
	search, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("search %s: %w", m.cfg.Mailbox, err)
	}
	_ = c.Logout().Wait()
	return uint32(len(search.AllUIDs())), nil
}
