// Package sftpdrop is the Sink for exchanges that take files over SFTP
// (exchange.url sftp://user@host[:port]/dir), as many state HIEs still do
// beside MLLP, HTTPS and AS2 (STANDARDS.md §4, PRACTICE): each queued
// bundle becomes one file, <dir>/<item ID>.json, which the exchange's
// pick-up job collects; with sftp.format hl7v2 (an immunization registry,
// a state's lab reporting) each HL7 v2 message becomes <dir>/<item ID>.hl7,
// as it was received.
//
// A file is delivered when it is whole under its final name: ferry writes
// it as <dir>/.<ID>.json.<random>.part, has the server flush it to its disk
// (fsync@openssh.com, when the server offers it; OpenSSH does), and then
// renames it over the final name (posix-rename@openssh.com, atomic, so the
// pick-up job never sees half a file and a re-sent bundle replaces the
// earlier copy rather than failing). Only then is the item acknowledged
// and taken from the queue. The file is 0640 at most, set before it is
// written (restrictMode): it holds PHI, and the server's umask alone
// (0644 with the usual 022) let every account on a shared server read it.
// Each attempt writes a .part of its own: a
// server stuck in an earlier attempt's rename (a hung disk), given up by
// the watchdog, may still carry it out later, and must find that
// attempt's whole file under the name, never the one a later attempt is
// writing. A failed attempt's .part is removed at once, or, when the
// connection broke, once a later attempt delivers the item. Those of an
// earlier process (killed mid-file, or stopped with the connection
// broken) are found in the directory at the first connection and removed
// once their item is delivered, as the item always is again: only items
// of this gateway's are touched, never another's files in a shared
// directory. Names start with a dot so that
// pick-up jobs globbing *.json skip them. Item IDs are ULIDs, so
// the files of one patient sort in the order they were queued.
//
// Authentication is the client's key (key_file, an OpenSSH private key)
// and the server's host key, which must be listed in known_hosts (an
// OpenSSH known_hosts file: `ssh-keyscan -p PORT host`, checked with the
// exchange): there is no password login and no trust on first use. A
// refused key, an unknown or changed host key, a missing directory or no
// right to write there are configuration problems: the items stay queued
// (never dead letters) and `ferry status` says what to fix. A server that
// cannot store a file (disk full) is retried like any outage. Nothing an
// SFTP server answers is a verdict on the content, so no item is ever
// dead-lettered by this sink.
package sftpdrop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/mllptls"
)

// Scheme is the exchange.url scheme of this sink.
const Scheme = configssh.Scheme

// Formats of the files written.
const (
	// FormatFHIR writes each FHIR transaction Bundle as <ID>.json
	// (default).
	FormatFHIR = "fhir"
	// FormatHL7v2 writes each HL7 v2 message as it was received, its
	// segments ended by CR, as <ID>.hl7: for an exchange (an immunization
	// registry, a state's lab reporting) that collects HL7 v2 files.
	// Inputs that are not HL7 v2 cannot be written so and are
	// dead-lettered, as for an mllps:// exchange.
	FormatHL7v2 = "hl7v2"
)

// Options are the exchange.sftp settings: ferry's key, the server's host
// key, and what the files hold.
type Options struct {
	configssh.Login `yaml:",inline"`
	// Format is FormatFHIR (default) or FormatHL7v2.
	Format string `yaml:"format"`
}

// Config configures the sink.
type Config struct {
	// URL is sftp://user@host[:port]/dir (configssh.ParseURL).
	URL string
	Options
	// Timeout bounds connecting and each file's writing without
	// progress (default 30s).
	Timeout time.Duration
}

// DefaultTimeout is Config.Timeout when it is zero.
const DefaultTimeout = 30 * time.Second

// what names the settings in problems.
const what = "exchange.sftp"

// CheckURL checks an sftp:// exchange URL alone (`ferry init` asks for
// it before the key files).
func CheckURL(raw string) error {
	_, err := configssh.ParseURL(raw)
	return err
}

// Validate checks the settings without I/O.
func (c Config) Validate() error {
	var errs []error
	if _, err := configssh.ParseURL(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	if err := c.Login.Validate(); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			errs = append(errs, fmt.Errorf("sftp.%w", e))
		}
	}
	switch c.Format {
	case "", FormatFHIR, FormatHL7v2:
	default:
		errs = append(errs, fmt.Errorf("sftp.format: %q is not %s or %s", c.Format, FormatFHIR, FormatHL7v2))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: negative"))
	}
	return errors.Join(errs...)
}

// Sink writes bundles into the exchange's SFTP directory. It is safe for
// concurrent Send calls, which share one SSH connection.
type Sink struct {
	cfg Config
	t   configssh.Target
	log *slog.Logger

	mu   sync.Mutex
	sess *configssh.Session
	// leftover holds, by item ID, the .part files of attempts that
	// failed and could not remove them (the connection broke), or that an
	// earlier process left (found by scanned), to be removed once the
	// item is delivered.
	leftover map[string][]string
	scanned  bool // the directory was searched for an earlier process's .part files
	// scanning: that search is under way; delivered holds the items
	// delivered meanwhile (see scanLeftovers).
	scanning  bool
	delivered map[string]bool
	// noFsync: the last session's server offered no fsync@openssh.com,
	// which is warned of when a session first finds it so, not at every
	// connection (servers that end idle sessions make one per bundle).
	noFsync bool
	// modeWarned: a server that does not set a file's mode was warned of
	// (restrictMode).
	modeWarned bool
}

var _ transport.Sink = (*Sink)(nil)

// New validates cfg and returns an unconnected Sink. A nil logger
// discards.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t, _ := configssh.ParseURL(cfg.URL)
	return &Sink{cfg: cfg, t: t, log: log}, nil
}

// Connect reads the key and known_hosts files, logs in and checks that
// the directory is there, so that a wrong setting shows at once.
//
// A session made since the Send that asked for the connection found none
// is kept: the dispatcher's workers each ask when their Send finds no
// session, so a second worker's Connect may follow the first's, and
// replacing the session that one made would end the Sends already
// writing through it.
func (s *Sink) Connect(ctx context.Context) error {
	if s.current() != nil {
		return nil
	}
	sess, err := configssh.Dial(ctx, s.cfg.Login, s.t, s.cfg.Timeout, what)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.sess != nil {
		s.mu.Unlock()
		sess.Close() // another Connect made one meanwhile
		return nil
	}
	s.sess = sess
	scan := !s.scanned
	s.scanned = true
	s.scanning = scan
	s.mu.Unlock()
	if scan {
		if err := s.scanLeftovers(ctx, sess); err != nil {
			s.forget(sess)
			return err
		}
	}
	s.mu.Lock()
	warn := !sess.Fsync && !s.noFsync
	s.noFsync = !sess.Fsync
	s.mu.Unlock()
	if warn {
		s.log.Warn("the exchange's SFTP server offers no fsync@openssh.com: a file counts as delivered once it is whole under its name, as durable as the server makes it", "server", s.t.Addr)
	}
	return nil
}

// Check logs in, writes a probe file into the directory, renames it as a
// Send renames its file into place, and removes it: `ferry doctor`'s test
// of the account, which some servers let write and delete files but not
// rename them. It reports whether the server flushes files to its disk on
// request.
func (s *Sink) Check(ctx context.Context) (fsync bool, err error) {
	sess, err := configssh.Dial(ctx, s.cfg.Login, s.t, s.cfg.Timeout, what)
	if err != nil {
		return false, err
	}
	defer sess.Close()
	// As in a Send: a server that stops answering must not hold `ferry
	// doctor` for ever.
	_, done := sess.Watch(ctx, s.cfg.Timeout)
	defer done()
	c := sess.SFTP
	probe := path.Join(s.t.Dir, fmt.Sprintf(".ferry-doctor-%d.part", time.Now().UnixNano()))
	f, err := c.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err == nil {
		_, err = f.Write([]byte("ferry doctor\n"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			c.Remove(probe) // created, not written (a full disk): leave nothing
		}
	}
	if err != nil {
		return sess.Fsync, configssh.FileError(sess.Unanswered(err), "write a file into "+s.t.Dir)
	}
	renamed := strings.TrimSuffix(probe, ".part")
	if err := configssh.Replace(c, probe, renamed); err != nil {
		c.Remove(probe)
		return sess.Fsync, configssh.FileError(sess.Unanswered(err), "rename a file in "+s.t.Dir+" (as each delivered file is renamed into place)")
	}
	probe = renamed
	if err := c.Remove(probe); err != nil {
		return sess.Fsync, configssh.FileError(sess.Unanswered(err), "remove the probe file "+probe)
	}
	return sess.Fsync, nil
}

// Close ends the session.
func (s *Sink) Close(context.Context) error {
	s.replace(nil)
	return nil
}

// current is the session Sends use, nil when there is none. A session
// the server has ended is none: servers end idle sessions (OpenSSH's
// ClientAliveInterval, a commercial server's idle timeout), and a bundle
// written into one failed as "connection lost", a delivery failure
// logged and retried after a backoff, where the dispatcher should
// connect and send it at once.
func (s *Sink) current() *configssh.Session {
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	if sess != nil && sess.Ended() {
		s.forget(sess)
		return nil
	}
	return sess
}

// replace makes sess (nil: none) the session Sends use and ends the one
// it replaces.
func (s *Sink) replace(sess *configssh.Session) {
	s.mu.Lock()
	old := s.sess
	s.sess = sess
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// forget drops sess after a failure that may have broken it; the next
// Send asks the dispatcher to connect again.
func (s *Sink) forget(sess *configssh.Session) {
	s.mu.Lock()
	if s.sess != sess {
		s.mu.Unlock()
		return
	}
	s.sess = nil
	s.mu.Unlock()
	sess.Close()
}

// Send writes the item's bundle as <dir>/<ID>.json, or its HL7 v2 message
// as <dir>/<ID>.hl7 (see the package documentation).
func (s *Sink) Send(ctx context.Context, it *queue.Item) error {
	sess := s.current()
	if sess == nil {
		return transport.ErrNotConnected
	}
	if it.ID == "" || strings.ContainsAny(it.ID, "/\\") || strings.HasPrefix(it.ID, ".") {
		return queue.Permanent(fmt.Errorf("item id %q cannot name a file", it.ID))
	}
	body, size, ext, err := s.content(it)
	if err != nil {
		return err
	}
	final := path.Join(s.t.Dir, it.ID+ext)
	// This attempt's own .part (see the package documentation).
	part := path.Join(s.t.Dir, "."+it.ID+ext+"."+strconv.FormatUint(rand.Uint64(), 36)+".part")
	// A server that stops answering mid-file would hold the worker for
	// ever: the watchdog counts the body's reads and the server's answers.
	progress, done := sess.Watch(ctx, s.cfg.Timeout)
	defer done()
	err = s.write(sess, body, size, part, progress)
	if err == nil {
		progress()
		err = s.rename(sess, part, final)
	}
	if err == nil {
		s.removeLeftovers(sess, it.ID)
		return nil
	}
	if rerr := sess.SFTP.Remove(part); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		s.mu.Lock()
		if s.leftover == nil {
			s.leftover = map[string][]string{}
		}
		s.leftover[it.ID] = append(s.leftover[it.ID], part)
		s.mu.Unlock()
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	var ce *configssh.ConfigError
	if !errors.As(err, &ce) {
		// The session may be broken (closed by the watchdog, reset):
		// start the next attempt on a new one.
		s.forget(sess)
	}
	return fmt.Errorf("deliver %s to %s: %w", it.ID, s.t.Addr, err)
}

// scanLeftovers notes the .part files of this sink's naming an earlier
// process left in the directory (see the package documentation), each
// under its item's ID, so that delivering the item removes them. Item IDs
// are ULIDs; a name that does not carry one is not ferry's and stays. A
// directory that cannot be listed leaves nothing noted: the files cost the
// server only disk space, and pick-up jobs skip them. The listing is
// bounded as a Send is (Session.Watch): a server that stops answering it
// (a hung disk) held Connect, and every worker waiting for it, for ever.
// Its error, or ctx's, is returned, the session closed; the next Connect
// goes without the search. The other workers send on the session while
// the listing comes (the item an earlier process was writing when it was
// killed among the first): the .part files it shows of an item delivered
// meanwhile, whose delivery found none noted, are removed at once.
func (s *Sink) scanLeftovers(ctx context.Context, sess *configssh.Session) error {
	_, done := sess.Watch(ctx, s.cfg.Timeout)
	defer done()
	entries, err := sess.SFTP.ReadDir(s.t.Dir)
	s.mu.Lock()
	delivered := s.delivered
	s.scanning, s.delivered = false, nil
	s.mu.Unlock()
	if err != nil {
		var stall *configssh.StallError
		if err = sess.Unanswered(err); errors.As(err, &stall) {
			return fmt.Errorf("list %s for the .part files of an earlier run: %w", s.t.Dir, err)
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		s.log.Debug("the exchange's SFTP directory not searched for .part files left by an earlier run", "reason", err.Error())
		return nil
	}
	var now []string
	s.mu.Lock()
	for _, e := range entries {
		if id, ok := partItem(e.Name()); ok && e.Mode().IsRegular() {
			if delivered[id] {
				now = append(now, path.Join(s.t.Dir, e.Name()))
				continue
			}
			if s.leftover == nil {
				s.leftover = map[string][]string{}
			}
			s.leftover[id] = append(s.leftover[id], path.Join(s.t.Dir, e.Name()))
		}
	}
	s.mu.Unlock()
	for _, p := range now {
		sess.SFTP.Remove(p)
	}
	return nil
}

// partItem returns the item ID of a .part file name a Send writes,
// .<ID><ext>.<random>.part, with ok false for any other name.
func partItem(name string) (id string, ok bool) {
	rest, found := strings.CutPrefix(name, ".")
	if !found {
		return "", false
	}
	if rest, found = strings.CutSuffix(rest, ".part"); !found {
		return "", false
	}
	id, rest, found = strings.Cut(rest, ".")
	if !found || len(id) != 26 || strings.Trim(strings.ToUpper(id), "0123456789ABCDEFGHJKMNPQRSTVWXYZ") != "" {
		return "", false
	}
	ext, random, found := strings.Cut(rest, ".")
	if !found || (ext != "json" && ext != "hl7") || random == "" || strings.Trim(random, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
		return "", false
	}
	return id, true
}

// removeLeftovers removes the .part files earlier attempts to deliver
// item id left, now that it is delivered. A file that cannot be removed
// is left: it costs the server only disk space, and pick-up jobs skip it.
func (s *Sink) removeLeftovers(sess *configssh.Session, id string) {
	s.mu.Lock()
	parts := s.leftover[id]
	delete(s.leftover, id)
	if s.scanning {
		if s.delivered == nil {
			s.delivered = map[string]bool{}
		}
		s.delivered[id] = true
	}
	s.mu.Unlock()
	for _, p := range parts {
		sess.SFTP.Remove(p)
	}
}

// content opens what the item's file holds, and the file's extension:
// the bundle (.json), or the HL7 v2 message it carries (.hl7). An item
// with nothing to write in that format is transport.ErrNothingToSend (a
// later part of an HL7 v2 message) or a permanent error (not from HL7 v2).
func (s *Sink) content(it *queue.Item) (io.ReadCloser, int64, string, error) {
	if s.cfg.Format != FormatHL7v2 {
		body, err := it.OpenBody()
		if err != nil {
			return nil, 0, "", fmt.Errorf("read the queued bundle: %w", err)
		}
		return body, it.BodySize(), ".json", nil
	}
	msg, err := mllptls.V2Message(it)
	var re *mllptls.ReadError
	switch {
	case errors.As(err, &re):
		return nil, 0, "", err
	case err != nil:
		return nil, 0, "", queue.Permanent(err)
	case msg == nil:
		return nil, 0, "", transport.ErrNothingToSend
	}
	return io.NopCloser(bytes.NewReader(msg)), int64(len(msg)), ".hl7", nil
}

// write copies body into part and, when the server can, flushes it. A
// request the server left unanswered until the watchdog closed the
// connection is named so (Session.Unanswered), not "connection lost".
func (s *Sink) write(sess *configssh.Session, body io.ReadCloser, size int64, part string, progress func()) error {
	defer body.Close()
	f, err := sess.SFTP.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return configssh.FileError(sess.Unanswered(err), "create "+part)
	}
	// Before a byte of the file is written (restrictMode).
	err = s.restrictMode(f)
	if err == nil {
		_, err = f.ReadFrom(configssh.Progress(body, size, progress))
	}
	if err == nil && sess.Fsync {
		progress()
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("flush %s on the server: %w", part, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", part, cerr)
	}
	if err != nil {
		return configssh.FileError(sess.Unanswered(err), "write "+part)
	}
	return nil
}

// fileMode is the most a delivered file's mode allows: read and write
// for the account, read for its group.
const fileMode = 0o640

// restrictMode takes from f, just created, the rights the server's umask
// gave other accounts and the group's right to write (SETSTAT): the
// file holds PHI, and the usual umask 022 makes it 0644, readable by
// every account on a server that many clinics' accounts share. The
// exchange's pick-up job runs as the account or in its group, so 0640
// still lets it read the file; a stricter umask (0600) is kept. A server
// that will not set modes (one without POSIX modes, a Windows server)
// answers with a status: the file is delivered as the server makes it,
// and that is said once. Any other failure (the connection) is the
// attempt's.
func (s *Sink) restrictMode(f *sftp.File) error {
	st, err := f.Stat()
	if err == nil && st.Mode().Perm()&^fileMode != 0 {
		err = f.Chmod(st.Mode().Perm() & fileMode)
	}
	var se *sftp.StatusError
	if err != nil && (errors.As(err, &se) || errors.Is(err, os.ErrPermission)) {
		s.mu.Lock()
		warn := !s.modeWarned
		s.modeWarned = true
		s.mu.Unlock()
		if warn {
			s.log.Warn("the exchange's SFTP server does not set a delivered file's mode: its files have the mode the server gives them, which may let its other accounts read them",
				"server", s.t.Addr, "reason", configssh.Reason(err))
		}
		return nil
	}
	return err
}

// rename puts part in place of final, replacing a copy an earlier attempt
// left (its acknowledgement lost): atomically with posix-rename, or, on a
// server without it, by removing the old copy first.
func (s *Sink) rename(sess *configssh.Session, part, final string) error {
	if err := configssh.Replace(sess.SFTP, part, final); err != nil {
		return configssh.FileError(sess.Unanswered(err), "rename "+part+" to "+final)
	}
	return nil
}
