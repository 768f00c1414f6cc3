// Package mllptls is the Sink for exchanges that take HL7 v2 rather than
// FHIR: it forwards each queued HL7 v2 message, byte for byte as the
// sender sent it (but for MSH-13, and MSH-15 and MSH-16 in enhanced
// mode: see linkHeader), over MLLP inside TLS with ferry's client certificate
// (exchange.url mllps://host:port), and waits for the exchange's
// acknowledgement before the item leaves the queue. It is the durable
// forwarder the classic interface engines are used for, with the
// guarantees the FHIR path has: nothing is acknowledged upstream before it
// is on disk, nothing leaves the disk before the exchange acknowledged it,
// and a down exchange only delays delivery.
//
// What is sent: the message ferry's HL7 v2 converter keeps in the bundle's
// Binary (x-application/hl7-v2+er7). A message converted into several
// bundles (a long ORU cut into parts, a status change) carries that Binary
// in one of them; the others have nothing to forward and are settled as
// transport.ErrNothingToSend (counted as skipped, no Export audited). Inputs that are not HL7 v2 (faxes, C-CDA and FHIR
// documents) cannot be forwarded as v2 and are dead-lettered with that
// reason (`ferry config check` warns about such sources).
//
// How the acknowledgement decides (HL7 v2.5.1 §2.9, tables 0008 and 0155):
//
//	MSA-1 AA or CA, or an MLLP release 2 commit ACK  → delivered
//	MSA-1 AE or CE (an error in the message)         → dead letter, with ERR/MSA-3
//	                                                   and the whole ACK (Outcome)
//	MSA-1 AR or CR, an MLLP commit NAK               → retry ("rejected for reasons
//	                                                   unrelated to content": down, busy)
//	MSA-1 AR or CR with ERR-3 200-203 (table 0357:   → dead letter: the same bytes
//	type, event, processing id, version unsupported;   will never be accepted
//	MSA-6 before v2.5)
//	MSA-2 a message sent earlier on the connection   → skipped; the next frame is read
//	MSA-2 empty (required, but some leave it so)     → the answer to the message on a
//	                                                   connection that carried no other,
//	                                                   not kept for another (a WARN says
//	                                                   so once); a mismatch otherwise
//	MSA-2 not the message's MSH-10, no ACK, junk     → retry on a new connection
//	a timeout or a dropped connection                → retry, as an unknown outcome
//
// Connections are kept open and reused, one message in flight on each; the
// dispatcher's workers each take one (at most exchange.workers of them),
// but for an exchange that closed a kept connection without answering
// the message written on it (one message per connection: see
// closedUnanswered), where each message gets a connection of its own
// until one stays open after its answer (see watchClose).
package mllptls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/neterr"
)

// Scheme is the exchange.url scheme of this sink.
const Scheme = "mllps"

// V2ContentType is the Binary content type the HL7 v2 converter keeps the
// original message under.
const V2ContentType = "x-application/hl7-v2+er7"

// Defaults for Config fields left zero.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultMaxConns = 4
	// maxAckBytes bounds an acknowledgement frame.
	maxAckBytes = 1 << 20
	// maxErrText bounds the exchange's text kept in an error.
	maxErrText = 300
)

// Config configures the sink.
type Config struct {
	// URL is mllps://host:port.
	URL string
	// Timeout bounds connecting, writing the message (plus the time a
	// link of 256 kbit/s takes for it, so that a large message over a
	// slow link is not cut on every attempt) and waiting for its
	// acknowledgement (plus the time the write took).
	Timeout time.Duration
	// TLS is the client TLS configuration (CA, client certificate).
	TLS configtls.ClientConfig
	// MaxConns bounds the connections kept open (the dispatcher's workers).
	MaxConns int
	// OnAuthFailure, when set, is called for every connection to the
	// exchange that failed node authentication (NodeAuthentication of its
	// configtls.HandshakeError): its certificate did not verify, or it
	// refused ferry's client certificate (with TLS 1.3 that refusal
	// arrives with the first read, so it is reported from Send). remote
	// is mllps://host:port. It is not called for network errors. The
	// gateway records it as an ATNA Security Alert; it must not block.
	OnAuthFailure func(remote string, err *configtls.HandshakeError)
}

// Validate checks the settings offline.
func (c Config) Validate() error {
	var errs []error
	if _, err := HostPort(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("tls.%w", err))
	}
	return errors.Join(errs...)
}

// HostPort returns the host:port of an mllps:// URL; the port is required
// (MLLP has no registered TLS port that exchanges agree on).
func HostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != Scheme:
		return "", fmt.Errorf("%q is not %s://host:port", raw, Scheme)
	case u.User != nil:
		return "", errors.New("must not contain credentials")
	case u.Hostname() == "" || u.Port() == "":
		return "", fmt.Errorf("%q needs a host and a port (%s://host:port)", raw, Scheme)
	case u.Path != "" && u.Path != "/" || u.RawQuery != "":
		return "", fmt.Errorf("%q has a path or query; MLLP has none", raw)
	}
	return u.Host, nil
}

// Sink forwards HL7 v2 messages to the exchange. It is safe for concurrent
// Send calls, each on a connection of its own.
type Sink struct {
	cfg      Config
	log      *slog.Logger
	hostport string

	mu    sync.Mutex
	tls   *tls.Config // nil until Connect
	idle  []*conn     // open connections waiting for a Send
	dials int         // connections made (the tests count reuse by it)

	emptyMSA2 atomic.Bool // the exchange's ACKs leave MSA-2 empty: warned once
	// closesAfterAnswer: the exchange closed a kept connection without
	// answering the message written on it, as a receiver that takes one
	// message per connection does when its close comes after ferry's
	// next message; connections are then no longer kept (see Send).
	closesAfterAnswer atomic.Bool
	// closeWatch is how long an answered connection must stay open for
	// the sink to keep connections again (see watchClose).
	closeWatch time.Duration
	watched    *conn // the connection watchClose waits on, under mu
}

var _ transport.Sink = (*Sink)(nil)

type conn struct {
	c  net.Conn
	br *bufio.Reader // under rd
	rd *mllp.Reader
	// sent holds the control ids (MSH-10, "" for one left empty) of the
	// last maxSent messages written on this connection, oldest first,
	// the one in flight last: an ACK that names one of the others while
	// it is awaited is that message's answer again (see exchange).
	sent []string
	// written counts the messages written on this connection: an
	// answer with MSA-2 empty is the one in flight's only when it is
	// the first (see Send).
	written int
}

// maxSent bounds conn.sent.
const maxSent = 16

// sentEarlier reports whether a message with control id ctrl went out
// on c before the one in flight.
func (c *conn) sentEarlier(ctrl string) bool {
	return ctrl != "" && slices.Contains(c.sent[:max(len(c.sent)-1, 0)], ctrl)
}

// probeWindow is how long usable waits for a sign that the exchange closed
// an idle connection. The read returns at once with EOF (or the TLS
// close_notify) when it did; otherwise it times out after this window. A
// few hundred microseconds per message spare the next message a write into
// a dead connection, whose lost answer would delay it by
// unknown_outcome_delay.
const probeWindow = 200 * time.Microsecond

// usable reports whether an idle connection is still open and quiet: the
// read must time out. EOF or a reset means the exchange closed it; bytes
// mean something arrived unasked (a late application ACK), and the stream
// is no longer in step with ours. A CR or LF is no answer: it ends the
// previous frame (a receiver that writes the end block and its CR in two
// writes sends them in two TLS records, the CR read only after the frame)
// and is passed over, as the frame reader passes over it.
func (c *conn) usable() bool { return c.quietFor(probeWindow) }

// quietFor reports whether c stays open and silent for d (see usable).
func (c *conn) quietFor(d time.Duration) bool {
	if n := c.br.Buffered(); n > 0 {
		if p, _ := c.br.Peek(n); len(bytes.Trim(p, "\r\n")) > 0 {
			return false
		}
	}
	var b [1]byte
	deadline := time.Now().Add(d)
	c.c.SetReadDeadline(deadline)
	if probeDelay != nil {
		probeDelay(c.c, deadline)
	}
	for {
		n, err := c.c.Read(b[:])
		if n == 1 && (b[0] == '\r' || b[0] == '\n') {
			continue
		}
		var ne net.Error
		if n == 0 && errors.As(err, &ne) && ne.Timeout() {
			return c.stillOpen()
		}
		return false
	}
}

// stillOpen reports whether c is open and quiet now, looking at the
// socket itself: a timeout of quietFor's read does not say so, as Go
// answers a read whose deadline passed before it ran (a goroutine
// delayed on a loaded machine) with a timeout without reading the
// socket, and a connection the exchange had closed looked open. What is
// waiting there goes through TLS, which turns a close_notify or an alert
// into an error and keeps its own records (a TLS 1.3 session ticket) to
// itself; a read with a deadline already passed takes only what TLS holds
// read, and one is given time while the socket has bytes, until they are
// read.
func (c *conn) stillOpen() bool {
	sc, ok := netConn(c.c).(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	wait := probeWindow
	for {
		// No deadline while peeking: Go refuses to look at a socket
		// whose read deadline passed.
		c.c.SetReadDeadline(time.Time{})
		st := peekSocket(rc)
		deadline := time.Unix(1, 0) // passed: TLS's buffers only
		switch st {
		case sockUnknown:
			return true // the timed read decided
		case sockClosed:
			return false
		case sockBytes:
			deadline = time.Now().Add(wait)
			wait = min(2*wait, time.Second)
		}
		c.c.SetReadDeadline(deadline)
		n, err := c.c.Read(b[:])
		if n == 1 && (b[0] == '\r' || b[0] == '\n') {
			continue
		}
		var ne net.Error
		if n == 0 && errors.As(err, &ne) && ne.Timeout() {
			if st == sockEmpty {
				return true // nothing in the socket, nothing in TLS
			}
			continue // bytes were in the socket: look again
		}
		return false
	}
}

// sockState is what peekSocket saw.
type sockState int

const (
	sockUnknown sockState = iota // it could not look
	sockEmpty
	sockBytes
	sockClosed
)

// netConn returns the connection under a TLS one.
func netConn(nc net.Conn) net.Conn {
	if tc, ok := nc.(*tls.Conn); ok {
		return tc.NetConn()
	}
	return nc
}

// probeDelay, when set by a test, runs between setting quietFor's
// deadline on nc and reading, as a scheduler delay may.
var probeDelay func(nc net.Conn, deadline time.Time)

// closeWatchWindow is how long a connection that carried an answered
// message must stay open, once the sink gives each message a connection of
// its own, for it to take the exchange for one that keeps connections.
// A receiver that takes one message per connection closes it as soon as it
// has answered, within the network's round trip.
const closeWatchWindow = 2 * time.Second

// New validates cfg and returns an unconnected Sink. A nil logger discards.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mllptls config: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hp, _ := HostPort(cfg.URL)
	return &Sink{cfg: cfg, log: log, hostport: hp, closeWatch: closeWatchWindow}, nil
}

// Connect reads the TLS files and opens one connection, so that a wrong
// certificate or a down exchange shows up as a connection problem (retried
// with backoff, diagnosed by configtls) before any message is tried.
func (s *Sink) Connect(ctx context.Context) error {
	s.mu.Lock()
	tc := s.tls
	s.mu.Unlock()
	if tc == nil {
		var err error
		if tc, err = s.cfg.TLS.LoadTLSConfigLog(s.log); err != nil {
			return fmt.Errorf("connect to exchange: %w", err)
		}
		s.mu.Lock()
		s.tls = tc
		s.mu.Unlock()
	}
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	s.put(c)
	return nil
}

func (s *Sink) dial(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	tc := s.tls
	s.mu.Unlock()
	if tc == nil {
		return nil, transport.ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}, Config: tc}
	nc, err := d.DialContext(ctx, "tcp", s.hostport)
	if err != nil {
		if hs := configtls.Diagnose(err); hs != nil {
			s.authFailed(hs)
			// The CA pool is read only when the TLS settings are
			// loaded: forget them, so that the next Connect reads
			// the files again and a fixed ca_file resumes delivery
			// without a restart.
			s.mu.Lock()
			if s.tls == tc {
				s.tls = nil
			}
			s.mu.Unlock()
		}
		return nil, fmt.Errorf("connect to exchange %s: %w", s.hostport, err)
	}
	s.mu.Lock()
	s.dials++
	s.mu.Unlock()
	br := bufio.NewReader(nc)
	return &conn{c: nc, br: br, rd: mllp.NewReader(br, maxAckBytes)}, nil
}

// authFailed reports hs to OnAuthFailure when it is a node
// authentication failure.
func (s *Sink) authFailed(hs *configtls.HandshakeError) {
	if s.cfg.OnAuthFailure != nil && hs.NodeAuthentication() {
		s.cfg.OnAuthFailure(Scheme+"://"+s.hostport, hs)
	}
}

// get returns an idle connection or dials a new one, for a message with
// control id ctrl. A connection that carried an earlier message with the
// same control id (a sender that reuses MSH-10) is not used for it: a
// receiver that answers a kept connection's earlier messages again (see
// exchange) would give the earlier message's answer first, and nothing
// would tell it from this one's, so a refused message could count as
// delivered.
func (s *Sink) get(ctx context.Context, ctrl string) (*conn, error) {
	for {
		s.mu.Lock()
		n := len(s.idle)
		if n == 0 {
			s.mu.Unlock()
			break
		}
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		if (ctrl == "" || !slices.Contains(c.sent, ctrl)) && c.usable() {
			return c, nil
		}
		c.c.Close()
	}
	c, err := s.dial(ctx)
	if err != nil {
		// Let the dispatcher reconnect with backoff (and diagnose TLS).
		return nil, fmt.Errorf("%w: %w", transport.ErrNotConnected, err)
	}
	return c, nil
}

// put keeps c for the next Send, or closes it when enough are kept.
func (s *Sink) put(c *conn) {
	s.mu.Lock()
	if s.tls != nil && len(s.idle) < s.cfg.MaxConns {
		s.idle = append(s.idle, c)
		c = nil
	}
	s.mu.Unlock()
	if c != nil {
		c.c.Close()
	}
}

// Close closes the idle connections and forgets the TLS settings; a later
// Connect re-reads the files.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	idle := s.idle
	if s.watched != nil {
		idle = append(idle, s.watched)
		s.watched = nil
	}
	s.idle, s.tls = nil, nil
	s.mu.Unlock()
	for _, c := range idle {
		c.c.Close()
	}
	return nil
}

// dialCount returns how many connections the sink has opened.
func (s *Sink) dialCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials
}

// Send forwards the item's HL7 v2 message and classifies the answer (see
// the package documentation).
func (s *Sink) Send(ctx context.Context, it *queue.Item) error {
	msg, err := V2Message(it)
	var re *ReadError
	switch {
	case errors.As(err, &re):
		// The queue's file could not be read just now (too many open
		// files, a disk error, a key not configured): not the item's
		// fault, so it is retried, as the other sinks do.
		return err
	case err != nil:
		return queue.Permanent(err)
	}
	if msg == nil {
		// Another bundle of the same message carries it.
		return transport.ErrNothingToSend
	}
	msg = linkHeader(msg)
	ctrl := controlID(msg)
	c, err := s.get(ctx, ctrl)
	if err != nil {
		return err
	}
	a, err := s.exchange(ctx, c, msg, ctrl)
	if err != nil {
		c.c.Close()
		if hs := configtls.Diagnose(err); hs != nil {
			s.authFailed(hs)
		}
		return fmt.Errorf("forward message %s to %s: %w", it.ID, s.hostport, err)
	}
	keep := func() { s.put(c) }
	if s.closesAfterAnswer.Load() {
		keep = func() { s.watchClose(c) }
	}
	if a.skipped > 0 {
		// The exchange answered earlier messages again: the stream is
		// not in step, so a fresh connection carries the next message.
		s.log.Debug("skipped acknowledgements of earlier messages before this one's", "item", it.ID, "skipped", a.skipped)
		keep = func() { c.c.Close() }
	}
	switch a.kind {
	case commitACK:
		keep()
		return nil
	case commitNAK:
		c.c.Close()
		return &AckError{Code: "NAK", Host: s.hostport, Item: it.ID}
	}
	if ctrl != "" && a.msg.Get("MSA-2") == "" {
		// Required by HL7, left empty by some receivers. An answer that
		// names no message is this one's only where no other was
		// written on the connection: on a kept connection it may answer
		// an earlier message again (as some receivers do before the new
		// one's, see exchange), and taken for this one's, a message the
		// receiver refused would count as delivered. So it is a
		// mismatch there (retried on a new connection), and the
		// connection it answers on is not kept for the next message.
		if c.written > 1 {
			c.c.Close()
			return &AckError{Code: strings.ToUpper(strings.TrimSpace(a.msg.Get("MSA-1"))), Host: s.hostport, Item: it.ID, Mismatch: true, Want: ctrl}
		}
		keep = func() { c.c.Close() }
		if !s.emptyMSA2.Swap(true) {
			// Said once, as the receiver will do it every time.
			s.log.Warn("the exchange leaves MSA-2 empty in its acknowledgements; each is taken as the answer to the one message sent on its connection, which is not kept for another",
				"exchange", s.hostport, "item", it.ID)
		}
	}
	ae := ackError(a.msg, ctrl, s.hostport, it.ID)
	switch {
	case ae == nil:
		keep()
		return nil
	case ae.Mismatch:
		// An answer to another message, whatever its code: no verdict
		// on this one, which is retried on a new connection.
		c.c.Close()
		return ae
	case ae.Code == "AE" || ae.Code == "CE":
		keep()
		return queue.Permanent(ae)
	case ae.Unsupported:
		// AR for a type, event, processing id or version the exchange
		// does not take: retried, the same bytes would hold the
		// patient's later messages back until exchange.retry.max_age.
		c.c.Close()
		return queue.Permanent(ae)
	default:
		// A stale ACK (the stream is out of step), or a message the
		// exchange did not keep: receivers often close the connection
		// after that (ferry's own listener does), so start afresh.
		c.c.Close()
		return ae
	}
}

// answerKind tells an HL7 acknowledgement from MLLP release 2's one-byte
// commit ACK and NAK.
type answerKind int

const (
	hl7Ack answerKind = iota
	commitACK
	commitNAK
)

type answer struct {
	kind answerKind
	msg  *hl7v2.Message // the acknowledgement, for hl7Ack
	// skipped counts the ACKs of earlier messages of the connection
	// read before this one.
	skipped int
}

// minLinkRate is the slowest link, in bytes per second, a message is
// given time for on top of Timeout: 256 kbit/s, the listener's own
// assumption (mllp.DefaultFrameTimeout).
const minLinkRate = 32 << 10

// exchange writes msg and reads one answer frame. Writing may take
// Timeout plus the message's size at minLinkRate: bounded by Timeout
// alone, a large message over a slow link (5 MB at 1 Mbit/s takes 40 s)
// failed on every attempt and held up the queue behind it. The answer is
// then awaited for Timeout plus the time the write took, or plus the
// message's size at minLinkRate if that is longer: the socket buffers
// (several megabytes each way on Linux, tuned up as the connection goes)
// may hold much or all of the message, which the exchange still reads at
// the link's pace after the write has returned.
//
// An HL7 ACK whose MSA-2 names a message sent earlier on the connection,
// not msg's control id ctrl, is skipped and the next frame read, within
// the same deadline: some receivers answer a kept connection's earlier
// messages again before the new one's (npm node-hl7-server 2.5.0,
// issue #102). Taken for the answer, it made ferry re-send a message the
// exchange had, a duplicate there. An ACK naming any other control id
// is returned, for Send to report as a mismatch.
func (s *Sink) exchange(ctx context.Context, c *conn, msg []byte, ctrl string) (answer, error) {
	start := time.Now()
	within := func(t time.Time) time.Time {
		if d, ok := ctx.Deadline(); ok && d.Before(t) {
			return d
		}
		return t
	}
	pace := time.Duration(len(msg)) * time.Second / minLinkRate
	write := s.cfg.Timeout + pace
	if err := c.c.SetDeadline(within(start.Add(write))); err != nil {
		return answer{}, err
	}
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Now()) })
	defer stop()
	if err := mllp.WriteFrame(c.c, msg); err != nil {
		return answer{}, err
	}
	c.written++
	// Noted even when empty (MSH-10 left so): sentEarlier takes the last
	// entry for the message in flight, and without it took the one
	// before, whose answer given again then counted as this one's.
	if len(c.sent) == maxSent {
		c.sent = slices.Delete(c.sent, 0, 1)
	}
	c.sent = append(c.sent, ctrl)
	// A deadline set here must not undo the one a cancellation set.
	if err := ctx.Err(); err != nil {
		return answer{}, err
	}
	if err := c.c.SetReadDeadline(within(time.Now().Add(s.cfg.Timeout + max(time.Since(start), pace)))); err != nil {
		return answer{}, err
	}
	// A cancellation that came between the check above and this deadline
	// had its deadline replaced by it; it is seen here instead.
	if err := ctx.Err(); err != nil {
		return answer{}, err
	}
	junk, _ := c.rd.Skipped()
	for skipped := 0; ; skipped++ {
		frame, err := c.rd.ReadFrame()
		if err != nil {
			if skipped == 0 && c.written > 1 && (errors.Is(err, io.EOF) || neterr.ConnReset(err)) {
				s.closedUnanswered(ctx)
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // closed where an answer was due: outcome unknown
			}
			// Say what the exchange sent instead of an answer: a
			// timeout alone sends the operator after the network.
			// Only counts, never the bytes (they may quote a patient).
			var big *mllp.FrameTooLargeError
			if n, _ := c.rd.Skipped(); n > junk {
				err = fmt.Errorf("the exchange sent %d bytes that are not in an MLLP frame (an answer without MLLP framing?) and no acknowledgement: %w", n-junk, err)
			} else if errors.As(err, &big) {
				err = fmt.Errorf("the exchange's answer is too large for an acknowledgement: %w", err)
			}
			return answer{}, err
		}
		switch {
		case mllp.IsCommitACK(frame):
			return answer{kind: commitACK, skipped: skipped}, nil
		case mllp.IsCommitNAK(frame):
			return answer{kind: commitNAK, skipped: skipped}, nil
		}
		m, err := hl7v2.Parse(frame)
		if err != nil {
			return answer{}, fmt.Errorf("the exchange's answer is not an HL7 v2 message: %w", err)
		}
		if strings.TrimSpace(m.Get("MSA-1")) == "" {
			return answer{}, errors.New("the exchange's answer has no MSA-1 acknowledgment code")
		}
		if got := m.Get("MSA-2"); got != ctrl && c.sentEarlier(got) {
			continue
		}
		return answer{msg: m, skipped: skipped}, nil
	}
}

// closedUnanswered notes that the exchange closed a kept connection, one
// that had carried an answered message, without a byte of answer to the
// next: a receiver that takes one message per connection, whose close
// came after ferry had written the next message (the check before reuse
// waits only probeWindow for it). Each such message is an unknown outcome,
// re-sent only after unknown_outcome_delay, and with connections kept
// every second message of the feed would wait so; from now on each
// message gets a connection of its own, until one stays open after its
// answer (watchClose).
func (s *Sink) closedUnanswered(ctx context.Context) {
	if ctx.Err() != nil || s.closesAfterAnswer.Swap(true) {
		return
	}
	s.log.Warn("the exchange closed a kept connection without answering the message written on it, as a receiver that takes one message per connection does; each message now gets a connection of its own",
		"exchange", s.hostport)
}

// watchClose ends c, a connection that carried an answered message while
// each message gets a connection of its own (closesAfterAnswer), but first
// waits closeWatch for the exchange to close it, in the background and on
// one connection at a time (the others are closed at once). A receiver
// that takes one message per connection does so within its round trip;
// one that leaves it open keeps connections after all: the close that
// made the sink think otherwise was another's, such as the exchange
// restarting with a message in flight. Connections are then kept again,
// this one first, rather than a TLS handshake per message until ferry
// restarts.
func (s *Sink) watchClose(c *conn) {
	s.mu.Lock()
	if s.watched != nil || s.tls == nil {
		s.mu.Unlock()
		c.c.Close()
		return
	}
	s.watched = c
	s.mu.Unlock()
	go func() {
		quiet := c.quietFor(s.closeWatch)
		s.mu.Lock()
		mine := s.watched == c // not taken by Close
		if mine {
			s.watched = nil
		}
		s.mu.Unlock()
		if !quiet || !mine {
			c.c.Close()
			return
		}
		if s.closesAfterAnswer.Swap(false) {
			s.log.Info("the exchange kept a connection open after answering on it; connections are kept for the next message again",
				"exchange", s.hostport)
		}
		s.put(c)
	}()
}

// AckError is a negative or unexpected acknowledgement. Its Error text
// includes what the exchange said (ERR-8, ERR-3's text, MSA-3), which may
// quote patient data; Summary leaves that out.
type AckError struct {
	Code     string // MSA-1, or "NAK" for an MLLP commit NAK
	Host     string
	Item     string
	Text     string // the exchange's explanation, cut to maxErrText
	Mismatch bool   // MSA-2 named another message
	Got      string // MSA-2 when Mismatch
	Want     string // the message's MSH-10 when Mismatch
	// Errors are the ERR segments' codes (HL7 table 0357) with where
	// they point (PID-3), PHI-free: "101 at PID-3", and MSA-6's code
	// (before v2.5) when no ERR gave it.
	Errors []string
	// Unsupported marks an AR or CR whose ERR-3 (or MSA-6) is 200-203: the
	// exchange does not take this message type, event, processing id or
	// version, and the same bytes will never be accepted.
	Unsupported bool
	// Answer is the exchange's acknowledgement, segments on lines of
	// their own, cut to queue.MaxOutcomeBytes: the dead letter keeps it
	// (Outcome) for `ferry queue show`.
	Answer    []byte
	Truncated bool
}

func (e *AckError) Error() string {
	s := e.Summary()
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// Outcome is the exchange's acknowledgement, which a dead letter keeps
// (queue.Outcomer). It may quote patient data.
func (e *AckError) Outcome() ([]byte, bool) { return e.Answer, e.Truncated }

// Summary is the PHI-free part of the error.
func (e *AckError) Summary() string {
	errs := ""
	if len(e.Errors) > 0 {
		errs = " (ERR " + strings.Join(e.Errors, ", ") + ")"
	}
	switch {
	case e.Mismatch:
		return fmt.Sprintf("forward message %s to %s: the exchange acknowledged control id %q, not %q (connection reset)", e.Item, e.Host, e.Got, e.Want)
	case e.Code == "NAK":
		return fmt.Sprintf("forward message %s to %s: the exchange answered an MLLP commit NAK (not stored; will retry)", e.Item, e.Host)
	case e.Code == "AE" || e.Code == "CE":
		return fmt.Sprintf("forward message %s to %s: the exchange answered %s (an error in the message)%s", e.Item, e.Host, e.Code, errs)
	case e.Unsupported:
		return fmt.Sprintf("forward message %s to %s: the exchange answered %s: its message type, event, processing id or version is not supported there (not retried)%s", e.Item, e.Host, e.Code, errs)
	case e.Code == "AR" || e.Code == "CR":
		return fmt.Sprintf("forward message %s to %s: the exchange answered %s (rejected for now; will retry)%s", e.Item, e.Host, e.Code, errs)
	}
	return fmt.Sprintf("forward message %s to %s: the exchange answered MSA-1 %q, not an acknowledgment code", e.Item, e.Host, e.Code)
}

// ackError classifies an HL7 acknowledgement; nil means accepted.
func ackError(ack *hl7v2.Message, ctrl, host, item string) *AckError {
	code := strings.ToUpper(strings.TrimSpace(ack.Get("MSA-1")))
	// An empty MSA-2 answers the one message written on the
	// connection (see Send, which refuses it on a connection that
	// carried others): taken as a mismatch, the message the receiver
	// had taken was sent to it again on every retry.
	if got := ack.Get("MSA-2"); ctrl != "" && got != ctrl && got != "" {
		return &AckError{Code: code, Host: host, Item: item, Mismatch: true, Got: got, Want: ctrl}
	}
	switch code {
	case "AA", "CA":
		return nil
	}
	ae := &AckError{Code: code, Host: host, Item: item}
	var text []string
	for _, seg := range ack.Segments() {
		if seg.Name != "ERR" {
			continue
		}
		e := readERR(seg)
		if e.code != "" || e.where != "" {
			s := e.code
			if e.where != "" {
				s = strings.TrimSpace(s + " at " + e.where)
			}
			ae.Errors = append(ae.Errors, s)
		}
		if code == "AR" || code == "CR" {
			switch e.code {
			case "200", "201", "202", "203": // table 0357: unsupported type, event, processing id, version
				ae.Unsupported = true
			}
		}
		var t []string
		if e.where != "" {
			t = append(t, e.where)
		}
		if e.code != "" || e.codeText != "" {
			t = append(t, strings.TrimSpace(e.code+" "+e.codeText))
		}
		if e.message != "" {
			t = append(t, e.message)
		}
		if len(t) > 0 {
			text = append(text, strings.Join(t, ": "))
		}
	}
	if t := ack.Get("MSA-3"); t != "" {
		text = append(text, t)
	}
	// Before v2.5 the code could come in MSA-6 (Error Condition, table
	// 0357) instead of an ERR segment, as v2.3 and v2.4 receivers still
	// send it: it decides and is named as an ERR's code is.
	if msa, ok := ack.Segment("MSA"); ok {
		cond := msa.Field(6).Rep(1)
		c, ct := token(cond.Comp(1).String(), 8), strings.TrimSpace(cond.Comp(2).String())
		if c != "" && !slices.ContainsFunc(ae.Errors, func(e string) bool { return e == c || strings.HasPrefix(e, c+" ") }) {
			ae.Errors = append(ae.Errors, c)
		}
		if code == "AR" || code == "CR" {
			switch c {
			case "200", "201", "202", "203":
				ae.Unsupported = true
			}
		}
		if c != "" || ct != "" {
			text = append(text, strings.TrimSpace(c+" "+ct))
		}
	}
	s := strings.Join(text, "; ")
	if len(s) > maxErrText {
		s = s[:maxErrText] + "…"
	}
	ae.Text = s
	ae.Answer = bytes.ReplaceAll(bytes.TrimRight(ack.Bytes(), "\r\n"), []byte("\r"), []byte("\n"))
	if len(ae.Answer) > queue.MaxOutcomeBytes {
		ae.Answer, ae.Truncated = ae.Answer[:queue.MaxOutcomeBytes], true
	}
	return ae
}

// errDetail is what one ERR segment says.
type errDetail struct {
	where    string // PID-3, PHI-free
	code     string // table 0357, PHI-free
	codeText string // the code's text, as the exchange wrote it
	message  string // ERR-8, free text
}

// readERR reads an ERR segment of v2.5 and later (ERR-2 location, ERR-3
// code, ERR-8 user message) or of v2.1-v2.4 (ERR-1:
// segment^sequence^field^code&text&system).
func readERR(seg hl7v2.Segment) errDetail {
	var e errDetail
	loc, cwe := seg.Field(2).Rep(1), seg.Field(3).Rep(1)
	codeOf := func(code, text string) {
		e.code, e.codeText = token(code, 8), strings.TrimSpace(text)
	}
	if loc.Empty() && cwe.Empty() {
		old := seg.Field(1).Rep(1)
		loc = old
		c := old.Comp(4)
		codeOf(c.Sub(1).String(), c.Sub(2).String())
	} else {
		codeOf(cwe.Comp(1).String(), cwe.Comp(2).String())
	}
	if name := token(loc.Comp(1).String(), 3); name != "" {
		e.where = name
		if f := token(loc.Comp(3).String(), 4); f != "" {
			e.where += "-" + f
		}
	}
	e.message = strings.TrimSpace(seg.Field(8).String())
	return e
}

// token returns s when it is a short run of letters and digits (a
// segment name, a field number, a table 0357 code: nothing a person's
// data could hide in), "" otherwise.
func token(s string, most int) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > most {
		return ""
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return ""
		}
	}
	return s
}

// linkHeader returns msg with the MSH fields that belong to the link, not
// to the message, set for ferry's link to the exchange, and msg unchanged
// when they already are.
//
// MSH-15 AL and MSH-16 NE when it is in enhanced acknowledgement mode
// (MSH-15 or MSH-16 valued) and asks for anything else. The clinic's
// system chose MSH-15 and MSH-16 for its link to ferry; on the link to
// the exchange ferry is the sender, and it needs the accept
// acknowledgement: an exchange that honours MSH-15 NE or ER (table 0155)
// answers nothing when it commits the message, and the sink, waiting for
// an answer, would time out and send it again, a duplicate at the
// exchange each time. No one waits for an application acknowledgement,
// which would arrive unasked on a connection kept for the next message,
// so MSH-16 becomes NE.
//
// MSH-13 empty: the sequence number protocol (v2.3 §2.23.1) counts the
// messages of one link, and the clinic's numbers, which ferry's listener
// took part in, reach the exchange out of their order (per-patient order
// only, retries, messages left out on the way) and from several senders;
// an exchange keeping the protocol would refuse them. ferry does not use
// it towards the exchange, which an empty MSH-13 says.
func linkHeader(msg []byte) []byte {
	start := 0
	if bytes.HasPrefix(msg, []byte("\xef\xbb\xbf")) {
		start = 3
	}
	if len(msg) < start+4 || !bytes.HasPrefix(msg[start:], []byte("MSH")) {
		return msg
	}
	end := bytes.IndexByte(msg[start:], '\r')
	if end < 0 {
		end = len(msg)
	} else {
		end += start
	}
	fs := msg[start+3 : start+4]
	f := bytes.Split(msg[start:end], fs) // f[n-1] is MSH-n for n >= 2
	get := func(n int) string {
		if n-1 < len(f) && string(f[n-1]) != `""` { // HL7's explicit null: not valued
			return strings.TrimSpace(string(f[n-1]))
		}
		return ""
	}
	accept, app := get(15), get(16)
	ack := !(accept == "" && app == "" || accept == hl7v2.CondAlways && app == hl7v2.CondNever)
	seq := len(f) > 12 && len(f[12]) > 0
	if !ack && !seq {
		return msg // original mode, or already what ferry needs
	}
	if ack {
		for len(f) < 16 {
			f = append(f, nil)
		}
		f[14], f[15] = []byte(hl7v2.CondAlways), []byte(hl7v2.CondNever)
	}
	if seq {
		f[12] = nil
		for len(f) > 12 && len(f[len(f)-1]) == 0 { // no trailing empty fields
			f = f[:len(f)-1]
		}
	}
	out := make([]byte, 0, len(msg)+4)
	out = append(out, msg[:start]...)
	out = append(out, bytes.Join(f, fs)...)
	return append(out, msg[end:]...)
}

// controlID is MSH-10 of msg, "" when it cannot be read.
func controlID(msg []byte) string {
	m, err := hl7v2.Parse(msg)
	if err != nil {
		return ""
	}
	return m.ControlID()
}

// ReadError is V2Message's error when the queued body could not be read
// just now (too many open files, a disk error, a key not configured): not
// the item's fault, so it is retried.
type ReadError struct{ err error }

func (e *ReadError) Error() string { return e.err.Error() }
func (e *ReadError) Unwrap() error { return e.err }

// V2Message returns the HL7 v2 message the item's bundle carries, its
// segments ended by CR: nil with no error when it is a bundle of an HL7 v2
// message that carries none (a later part), a *ReadError when the body
// could not be read, another error when the item did not come from HL7
// v2 (a fax, a C-CDA, a FHIR document: it never will).
//
// An item whose format says it did not come from HL7 v2 is refused
// without reading its body (a 90-page fax's bundle is hundreds of MB);
// another's bundle is read one entry at a time, only the message's Binary
// is decoded, and the reading stops there.
func V2Message(it *queue.Item) ([]byte, error) {
	format := it.Attrs["format"]
	if format != "" && format != "hl7v2" {
		return nil, notV2(it.ID, format)
	}
	var r io.Reader = bytes.NewReader(it.Body)
	if it.Body == nil && it.Open != nil {
		rc, err := it.Open()
		if err != nil {
			return nil, &ReadError{fmt.Errorf("read bundle %s: %w", it.ID, err)}
		}
		defer rc.Close()
		r = rc
	}
	er := &errReader{r: r}
	msg, err := findV2(er)
	switch {
	case er.err != nil:
		return nil, &ReadError{fmt.Errorf("read bundle %s: %w", it.ID, er.err)}
	case err != nil:
		return nil, fmt.Errorf("bundle %s is not readable JSON: %w", it.ID, err)
	case msg != nil:
		// Segments end in CR on the wire, whatever the file had.
		return crSegments(msg), nil
	case format == "hl7v2":
		return nil, nil
	}
	return nil, notV2(it.ID, format)
}

func notV2(id, format string) error {
	if format == "" {
		format = "non-HL7 v2"
	}
	return fmt.Errorf("bundle %s came from a %s input and holds no HL7 v2 message; the exchange takes HL7 v2 only", id, format)
}

// errReader keeps the first error of its reader but io.EOF, so that a
// read failure is told from a body that is not JSON.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// findV2 returns the decoded data of the bundle's first Binary of
// V2ContentType that has any, nil if there is none. It holds one entry
// at a time, and decodes no other Binary's data.
func findV2(r io.Reader) ([]byte, error) {
	d := json.NewDecoder(r)
	if err := expectDelim(d, '{'); err != nil {
		return nil, err
	}
	for d.More() {
		key, err := d.Token()
		if err != nil {
			return nil, err
		}
		if key != "entry" {
			if err := d.Decode(&skipJSON{}); err != nil {
				return nil, err
			}
			continue
		}
		if err := expectDelim(d, '['); err != nil {
			return nil, err
		}
		for d.More() {
			var e struct {
				Resource v2Binary `json:"resource"`
			}
			if err := d.Decode(&e); err != nil {
				return nil, err
			}
			if len(e.Resource.data) > 0 {
				return e.Resource.data, nil
			}
		}
		if _, err := d.Token(); err != nil { // ]
			return nil, err
		}
	}
	_, err := d.Token() // }
	return nil, err
}

func expectDelim(d *json.Decoder, want json.Delim) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("found %v where %v was expected", tok, want)
	}
	return nil
}

// skipJSON takes any JSON value and keeps nothing of it.
type skipJSON struct{}

func (*skipJSON) UnmarshalJSON([]byte) error { return nil }

// v2Binary is a resource whose data is decoded only when it is a Binary
// of V2ContentType.
type v2Binary struct{ data []byte }

func (b *v2Binary) UnmarshalJSON(raw []byte) error {
	var head struct {
		ResourceType string   `json:"resourceType"`
		ContentType  string   `json:"contentType"`
		Data         skipJSON `json:"data"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.ResourceType != "Binary" || head.ContentType != V2ContentType {
		return err
	}
	var r struct {
		Data []byte `json:"data"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	b.data = r.Data
	return nil
}

// crSegments ends every line of msg in CR (CRLF and LF become CR), in
// place.
func crSegments(msg []byte) []byte {
	if bytes.IndexByte(msg, '\n') < 0 {
		return msg
	}
	out := msg[:0]
	for i := 0; i < len(msg); i++ {
		switch c := msg[i]; {
		case c == '\r' && i+1 < len(msg) && msg[i+1] == '\n':
			out = append(out, '\r')
			i++
		case c == '\n':
			out = append(out, '\r')
		default:
			out = append(out, c)
		}
	}
	return out
}
