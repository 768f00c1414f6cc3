package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// The ferry CLI (`ferry held release`, `ferry queue purge`, `ferry
// backfill` ...) runs as a process of its own beside, or instead of, the
// gateway, and the Sink's spool has one writer: the gateway. So a short
// process sends its events itself with an Emitter, and when the
// repository cannot take them, it leaves them in a hand-off directory
// (normally <data_dir>/audit/handoff): one file per batch, written to a
// temporary name, fsynced and renamed, so that a reader never sees half
// of one. The gateway's Sink moves those files into its spool (at start
// and every HandoffInterval) and sends them with its own events. Nothing
// is lost while the gateway is stopped: the files wait.

// handoffExt ends the name of a complete hand-off file.
const handoffExt = ".audit"

// DefaultHandoffInterval is how often a Sink looks for hand-off files.
const DefaultHandoffInterval = 30 * time.Second

// Emitter sends the audit events of a short-lived process synchronously,
// over one connection dialled on first use; see the comment above. It is
// not safe for concurrent use.
type Emitter struct {
	opts   Options
	dialer *dialer
	header Header
	c      conn
	down   error // why the repository is not tried again in this process
}

// NewEmitter checks opts (URL, SourceID, HandoffDir; the spool and queue
// fields are not used), loads the TLS files and makes sure the hand-off
// directory can be written, so that a caller can refuse an action it
// could not audit before doing it. It does not connect.
func NewEmitter(opts Options) (*Emitter, error) {
	ep, err := parseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	ep.bare = opts.DTLSBare
	if opts.SourceID == "" {
		return nil, errors.New("audit: source id is empty")
	}
	if opts.HandoffDir == "" {
		return nil, errors.New("audit: hand-off directory is empty")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	e := &Emitter{opts: opts, header: Header{Hostname: opts.Hostname, ProcID: strconv.Itoa(os.Getpid())}}
	if e.dialer, err = newDialer(ep, opts.TLS, opts.Proxy, opts.Timeout, func(int) {}); err != nil {
		return nil, err
	}
	if err := durable.MkdirAll(opts.HandoffDir, 0o700); err != nil {
		return nil, fmt.Errorf("audit hand-off directory: %w", err)
	}
	probe, err := durable.Create(filepath.Join(opts.HandoffDir, "probe"), 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit hand-off directory %s is not writable: %w", opts.HandoffDir, err)
	}
	probe.Abort()
	return e, nil
}

// Emit sends evs to the repository. Those it cannot send (the repository
// is unreachable, a write fails; over UDP, all of them when the network
// says any was not taken) are written together, fsynced, to one
// file in the hand-off directory for the gateway to send; handedOff
// counts them. After one failure the process does not dial again: every
// later event goes straight to the hand-off directory. An error means the
// hand-off write failed too, or the repository refused events as invalid
// (they are not kept, whether or not others were handed off), and the
// events neither sent nor handed off are lost: the caller must say so.
func (e *Emitter) Emit(ctx context.Context, evs ...Event) (handedOff int, err error) {
	// Each event is encoded for the repository and made a record (the
	// form the gateway's spool keeps, record.go) before anything is sent,
	// so that an event that cannot be encoded fails the call before any
	// is sent. The hand-off files hold records, not messages: the gateway
	// may have been switched to another kind of repository by the time
	// it takes them.
	msgs := make([][][]byte, 0, len(evs)) // each event's messages (encodeAll)
	recs := make([][]byte, 0, len(evs))
	for _, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		if ev.AuditSourceID == "" {
			ev.AuditSourceID = e.opts.SourceID
		}
		if ev.AuditSite == "" {
			ev.AuditSite = e.opts.Site
		}
		m, err := e.dialer.ep.encodeAll(e.header, &ev)
		if err != nil {
			return 0, err
		}
		r, err := marshalRecord(e.header.ProcID, &ev)
		if err != nil {
			return 0, err
		}
		// Sealed with the data-at-rest key (Options.Key), as the
		// gateway's spool is: an event may name a patient's identifier,
		// and a hand-off file can wait long for a gateway to take it.
		msgs, recs = append(msgs, m), append(recs, sealRecord(e.opts.Key, r))
	}
	if r, ok := e.c.(renewable); ok {
		// As the Sink's sender does (retire): a command that runs for
		// a while (backfill, which sends every opsFlushEvery events)
		// must not write into a DTLS association past its age or idle
		// time, which a restarted repository silently discards, nor
		// into a connection the repository ended.
		if err := r.lostErr(); err != nil {
			e.down = err
			e.c.Close()
			e.c = nil
		} else if r.expired(e.dialer.now()) {
			e.c.Close()
			e.c = nil
		}
	}
	if e.down == nil && e.c == nil {
		if e.c, err = e.dialer.dial(ctx); err != nil {
			e.down, e.c = err, nil
		}
	}
	var refused error
	_, unconfirmed := e.c.(confirmer)
	i := 0
	for e.c != nil && i < len(msgs) {
		var err error
		for _, m := range msgs[i] {
			if err = e.c.WriteMessage(m); err != nil {
				break
			}
		}
		if err != nil {
			var re *refusedError
			if errors.As(err, &re) {
				// Invalid to the repository: handing it off would only
				// have the gateway try it again. Say so to the caller.
				refused = errors.Join(refused, err)
				i++
				continue
			}
			e.down = err
			e.c.Close()
			e.c = nil
			break
		}
		i++
	}
	if unconfirmed && i > 0 {
		// UDP: what was written may not have been taken, which the
		// ICMP port unreachable it brought back says at a later write
		// (the one that failed above) or read (confirm); either way all
		// of it is handed off.
		if e.c != nil {
			if err := e.c.(confirmer).confirm(udpConfirmWait); err != nil {
				e.down = err
				e.c.Close()
				e.c = nil
			}
		}
		if e.c == nil {
			i = 0
		}
	}
	if i == len(msgs) {
		return 0, refused
	}
	if err := writeHandoff(e.opts.HandoffDir, recs[i:]); err != nil {
		return 0, errors.Join(refused, fmt.Errorf("audit repository unreachable (%s) and %w", describe(e.down), err))
	}
	// Those refused before the failure are lost all the same.
	return len(recs) - i, refused
}

// Unreachable returns why the repository was given up on, or nil.
func (e *Emitter) Unreachable() error { return e.down }

// Close closes the connection.
func (e *Emitter) Close() error {
	if e.c == nil {
		return nil
	}
	err := e.c.Close()
	e.c = nil
	return err
}

// writeHandoff writes recs (record.go) in the spool's framing to a new
// file in dir: fsynced under a temporary name, then renamed.
func writeHandoff(dir string, recs [][]byte) error {
	_, err := writeHandoffFile(dir, recs)
	return err
}

// writeHandoffFile is writeHandoff, returning the file's path.
func writeHandoffFile(dir string, recs [][]byte) (string, error) {
	var b bytes.Buffer
	for _, m := range recs {
		var h [recHeader]byte
		binary.BigEndian.PutUint32(h[:4], uint32(len(m)))
		binary.BigEndian.PutUint32(h[4:], crc32.Checksum(m, castagnoli))
		b.Write(h[:])
		b.Write(m)
	}
	r := make([]byte, 4)
	rand.Read(r)
	// Names sort by time, so the Sink takes the files in order.
	name := fmt.Sprintf("%020d-%d-%s%s", time.Now().UnixNano(), os.Getpid(), hex.EncodeToString(r), handoffExt)
	path := filepath.Join(dir, name)
	if err := durable.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("write audit hand-off file: %w", err)
	}
	return path, nil
}

// handoffFiles lists the complete hand-off files in dir, oldest first.
func handoffFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit hand-off directory: %w", err)
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, handoffExt) && !durable.IsTemp(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// HandoffKeys counts, per key id, the sealed records of the hand-off files
// in dir (the events commands left for the gateway while the repository
// was down), as SpoolKeys does for the spool: the gateway takes them into
// its spool as they are, so a previous key that sealed them is needed
// until they are sent.
func HandoffKeys(dir string) (map[string]int, error) {
	use := map[string]int{}
	names, err := handoffFiles(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		recs, _ := readHandoff(filepath.Join(dir, name))
		for _, rec := range recs {
			if id, ok := seal.KeyIDOf(rec); ok {
				use[id]++
			}
		}
	}
	return use, nil
}

// errHandoffOpen wraps readHandoff's error for a file it could not open.
type errHandoffOpen struct{ err error }

func (e errHandoffOpen) Error() string { return e.err.Error() }
func (e errHandoffOpen) Unwrap() error { return e.err }

// readHandoff reads the records of one hand-off file. A file that does
// not parse (it cannot be torn: it was renamed complete) yields the
// records before the damage and an error; one that cannot be opened, an
// errHandoffOpen.
func readHandoff(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errHandoffOpen{err}
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var msgs [][]byte
	for {
		m, err := readRecord(br)
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, fmt.Errorf("audit hand-off file %s: %w", filepath.Base(path), err)
		}
		msgs = append(msgs, m)
	}
}

// takeHandoff moves the hand-off files into the spool: appended with one
// fsync, then removed. A crash in between sends them twice, which the
// at-least-once trail allows. A file it cannot open is left for the next
// round. Called by the sender goroutine only. The records go in as they
// are: those of this version are events, and the encoded messages an
// earlier ferry's commands left are sent, or converted, like the ones in
// its spool (record.go).
func (s *Sink) takeHandoff() {
	dir := s.opts.HandoffDir
	if dir == "" {
		return
	}
	names, err := handoffFiles(dir)
	if err != nil {
		s.recordError(err)
		return
	}
	for len(names) > 0 {
		n := min(len(names), 64)
		var msgs [][]byte
		taken := make([]string, 0, n)
		for _, name := range names[:n] {
			m, err := readHandoff(filepath.Join(dir, name))
			var oe errHandoffOpen
			if errors.As(err, &oe) {
				if errors.Is(err, os.ErrNotExist) {
					continue // gone meanwhile
				}
				// Not damaged, not ours yet: a command run as root
				// leaves its file root's until it exits and gives the
				// data folder back (installer.FixOwnership). It stays
				// for the next round; said once.
				if !s.handoffWarned[name] {
					s.handoffWarned[name] = true
					s.log.Warn("audit hand-off file cannot be read yet; it is tried again", "file", name, "error", err)
				}
				continue
			}
			taken = append(taken, name)
			delete(s.handoffWarned, name)
			if err != nil {
				// Damaged: what can be read is kept, the rest counted.
				s.lose(1)
				s.log.Warn("damaged audit hand-off file; readable events kept", "file", name, "error", err)
			}
			for _, r := range m {
				msgs = append(msgs, sealRecord(s.opts.Key, r))
			}
		}
		if len(msgs) > 0 {
			dropped, err := s.spool.Append(msgs)
			s.pending.Store(int64(s.spool.Len()))
			if err != nil {
				// The files stay for the next round.
				s.recordError(err)
				return
			}
			s.spooled.Add(uint64(len(msgs)))
			if dropped > 0 {
				s.lose(uint64(dropped))
				s.warnSpoolFull()
			}
		}
		for _, name := range taken {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.recordError(err)
			}
		}
		durable.SyncDir(dir)
		names = names[n:]
	}
}
