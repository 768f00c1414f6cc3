package mllp

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/latency"
	"github.com/ferry-health/ferry/transport/neterr"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultListen      = "127.0.0.1:2575"
	DefaultReadTimeout = 30 * time.Second
	DefaultIdleTimeout = 10 * time.Minute
	DefaultMaxConns    = 256
	// DefaultMaxConnsPerIP leaves room for a sender that opens a
	// connection per message type or per feed, while keeping one host
	// (a scanner, a sender stuck in a reconnect loop) from taking every
	// slot of MaxConns.
	DefaultMaxConnsPerIP = 32
	// DefaultFrameTimeout is long enough for a 16 MiB frame (the default
	// MaxFrameBytes) at 256 kbit/s: 16 MiB × 8 bit / 256 kbit/s ≈ 524 s,
	// under 9 minutes. A sender slower than that is not a real HL7 feed.
	DefaultFrameTimeout = 10 * time.Minute
	// DefaultMaxBufferedBytes lets four messages of the default maximum
	// size (16 MiB) be read at once, and hundreds of ordinary ones (which
	// fit in a connection's 64 KiB read buffer and draw nothing from it).
	DefaultMaxBufferedBytes = 64 << 20
)

// Config configures a listener Source.
type Config struct {
	// OnRefused, when set, is called for every connection refused for
	// security: an address outside Allow (reason "address not in allow")
	// or a TLS handshake that failed authentication (reason the TLS error,
	// which quotes no message content); not one that never started or
	// timed out (a health check, a port scan). The gateway records these as ATNA node
	// authentication failures. It is called from the accept loop or the
	// connection's goroutine and must not block.
	OnRefused func(remote netip.Addr, reason string)
	// Listen is the TCP address, e.g. "127.0.0.1:2575" or ":2575".
	Listen string
	// MaxFrameBytes bounds one message; larger frames are answered with AR
	// and the connection is closed. 0 means DefaultMaxFrameBytes.
	MaxFrameBytes int
	// ReadTimeout is an inactivity limit inside a frame: once a frame's
	// start block has arrived, the connection is dropped when no byte
	// arrives for this long. A frame that keeps making progress is not
	// cut before FrameTimeout, however slow (a multi-MB message over a
	// slow VPN). It also bounds the TLS handshake and writing one ACK.
	ReadTimeout time.Duration
	// IdleTimeout closes a connection on which no frame starts for this
	// long; bytes that are not a start block do not extend it.
	IdleTimeout time.Duration
	// TLS, when set, makes the listener speak MLLP over TLS. Set ClientAuth
	// and ClientCAs in it to require client certificates.
	TLS *tls.Config
	// MaxConns bounds concurrent connections; more are closed on accept.
	MaxConns int
	// MaxConnsPerIP bounds concurrent connections from one remote address
	// (loopback included); more are closed on accept. 0 means
	// DefaultMaxConnsPerIP.
	MaxConnsPerIP int
	// FrameTimeout bounds the time one frame may take from its start
	// block to its end block, however steadily it arrives: a sender that
	// trickles a byte just within ReadTimeout would otherwise hold its
	// connection (and the memory of its growing frame) forever. 0 means
	// DefaultFrameTimeout.
	FrameTimeout time.Duration
	// Allow lists the networks connections are accepted from (a single
	// address is a /32 or /128 prefix). A connection from any other
	// address is closed at accept, before a byte is read from it and
	// without an ACK. Empty accepts every address. IPv4 clients of a
	// dual-stack listener match IPv4 prefixes.
	Allow []netip.Prefix
	// MaxBufferedBytes bounds the memory all connections of the listener
	// hold in frame buffers at once. Frames that fit in a connection's
	// 64 KiB read buffer need none; a larger one (an ORU with an embedded
	// PDF) holds its size, up to MaxFrameBytes, from its first bytes until
	// its ACK has been written. A frame that would go
	// beyond the bound is read to its end without being kept, answered
	// AR ("send again later") and its connection closed, so that hundreds
	// of connections with large messages cannot exhaust memory. 0 means
	// DefaultMaxBufferedBytes; it must be at least MaxFrameBytes.
	MaxBufferedBytes int64
	// CommitACK speaks MLLP release 2 to the sender: each message is
	// answered first with the transport commit acknowledgement
	// (<SB>0x06<EB><CR>) once it is stored, converted or quarantined, or
	// with the negative one (<SB>0x15<EB><CR>) when it could not be
	// stored and must be sent again; the HL7 ACK follows either way.
	// Release 1 senders (most) must not get these frames, so it is off by
	// default. Commit acknowledgements a release 2 peer sends for ferry's
	// ACKs are skipped in either mode.
	CommitACK bool
	// AppAck stands in for the application: a message whose MSH-16 asks
	// for an application acknowledgement (table 0155: AL, ER on error, SU
	// on success) gets one, AA/AE/AR by the same outcome as its accept
	// acknowledgement, after that one (when MSH-15 wants it) and only once
	// the message is stored or quarantined. It is for senders that cannot
	// be set to stop waiting for one (NE/AL); off by default, since AA then
	// says less than the sender may take it to: the exchange has not seen
	// the message yet.
	AppAck bool
	// Sequences, when set, makes the listener take part in the HL7
	// sequence number protocol (MSH-13, MSA-4; see hl7v2.Sequence) for
	// the senders that use it: it answers their link starts (0) and
	// resynchronisations (-1), records each stream's last number in the
	// store before the ACK, and tells the sender the number it expects
	// next in MSA-4. Messages without MSH-13 are not affected. Nil leaves
	// MSH-13 alone.
	Sequences *SequenceStore
	// SequenceMode says what a number past the one expected (a gap: the
	// messages between were never received) does: SequenceTrack (the
	// default) stores the message, records the gap in Stats and the log,
	// and goes on from its number; SequenceEnforce, the protocol's rule,
	// refuses it (AR, nothing stored, MSA-4 the number expected) so that
	// the sender goes back and sends the missing ones first.
	SequenceMode string
}

// Sequence modes (Config.SequenceMode).
const (
	SequenceTrack   = "track"
	SequenceEnforce = "enforce"
)

// Validate reports configuration errors without touching the network.
func (c Config) Validate() error {
	var errs []error
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen: %w", err))
		}
	}
	if c.MaxFrameBytes < 0 {
		errs = append(errs, errors.New("max_frame_bytes: must not be negative"))
	}
	if c.ReadTimeout < 0 {
		errs = append(errs, errors.New("read_timeout: must not be negative"))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, errors.New("idle_timeout: must not be negative"))
	}
	if c.MaxConns < 0 {
		errs = append(errs, errors.New("max_conns: must not be negative"))
	}
	if c.MaxConnsPerIP < 0 {
		errs = append(errs, errors.New("max_conns_per_ip: must not be negative"))
	}
	if c.FrameTimeout < 0 {
		errs = append(errs, errors.New("frame_timeout: must not be negative"))
	}
	if c.MaxBufferedBytes < 0 {
		errs = append(errs, errors.New("max_buffered_bytes: must not be negative"))
	} else if frame := int64(cmp.Or(c.MaxFrameBytes, DefaultMaxFrameBytes)); c.MaxBufferedBytes > 0 && c.MaxBufferedBytes < frame {
		errs = append(errs, fmt.Errorf("max_buffered_bytes: %d is less than max_frame_bytes (%d): a message of the largest allowed size could never be read", c.MaxBufferedBytes, frame))
	}
	for i, p := range c.Allow {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("allow[%d]: not a valid network", i))
		}
	}
	switch c.SequenceMode {
	case "", SequenceTrack, SequenceEnforce:
	default:
		errs = append(errs, fmt.Errorf("sequence_numbers: want %s or %s, got %q", SequenceTrack, SequenceEnforce, c.SequenceMode))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if c.FrameTimeout == 0 {
		c.FrameTimeout = DefaultFrameTimeout
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = max(DefaultMaxBufferedBytes, int64(c.MaxFrameBytes))
	}
	allow := make([]netip.Prefix, len(c.Allow))
	for i, p := range c.Allow {
		allow[i] = normalPrefix(p)
	}
	c.Allow = allow
	return c
}

// normalPrefix masks p and turns an IPv4-mapped IPv6 prefix
// (::ffff:10.0.0.0/104) into the IPv4 one, since remote addresses are
// unmapped before they are matched.
func normalPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Stats counts what a Source has done since it was created. All fields are
// PHI-free and suitable for a status page or metrics.
type Stats struct {
	Connections int64 // connections served (allowed, within MaxConns and MaxConnsPerIP), in total
	Open        int64 // connections open now
	Rejected    int64 // connections closed at accept because of MaxConns or MaxConnsPerIP
	Denied      int64 // connections closed at accept because their address is not in Allow
	Messages    int64 // frames handed to the Consumer
	Accepted    int64 // answered AA/CA (or would have been; see AcksNotSent)
	Errors      int64 // answered AE/CE (or would have been)
	Rejects     int64 // answered AR/CR, including oversized frames (or would have been)
	Oversized   int64 // frames over MaxFrameBytes
	Busy        int64 // frames refused because MaxBufferedBytes was in use
	// MultiMessage counts frames refused whole (AR/CR, nothing stored)
	// because they held more than one message or an HL7 batch.
	MultiMessage int64
	// Buffered is the memory connections hold in frame buffers now, and
	// BufferLimit its bound (MaxBufferedBytes).
	Buffered, BufferLimit int64
	ReadFailures          int64 // connections closed by a read error or timeout mid-frame
	FrameTimeouts         int64 // of ReadFailures, frames cut by FrameTimeout
	JunkBytes             int64 // bytes skipped between frames
	TLSHandshakes         int64 // failed TLS handshakes

	// AcksNotSent counts accept acknowledgements (CA/CE/CR) not sent
	// because the message's MSH-15 asked not to get them (NE; ER when
	// accepted; SU when not). Those messages are counted above as usual.
	AcksNotSent int64
	// AppAcksRequested counts messages whose MSH-16 asks for an
	// application acknowledgement, which ferry sends only with
	// Config.AppAck (see the package documentation); AppAcksSent counts
	// those it sent.
	AppAcksRequested, AppAcksSent int64
	// Sequence number protocol (Config.Sequences): link starts (MSH-13 0)
	// and resynchronisations (-1) answered; gaps (a number past the one
	// expected; SequenceRefused of them answered AR under
	// SequenceEnforce); repeats (a number already accepted, stored again
	// as any resent message: the queue's duplicate check decides).
	SequenceStarts, SequenceResyncs, SequenceGaps, SequenceRefused, SequenceRepeats int64
	// AckLatency is the time from a message read to its ACK handed to the
	// connection. It is observed before the write, like the counters
	// above, so a sender that has read its ACK finds it counted.
	AckLatency latency.Snapshot
}

// Source is an MLLP listener. Each connection is served by one goroutine
// that handles its messages strictly in order: read a frame, hand it to the
// Consumer, and only when Consume has returned (after the converted result
// is fsynced) write the ACK and read the next frame. The sender therefore
// never sees AA for a message that a crash could still lose.
//
//	accept ─► conn goroutine: [idle] WaitFrame ─► [busy] ReadFrame ─► Consume ─► write ACK ─┐
//	                              ▲───────────────────────────────────────────────────────────┘
//
// Shutdown closes idle connections at once and lets busy ones finish the
// message at hand, so no message that was read is left without its ACK
// unless the shutdown context runs out. A frame still being read gets
// stopGrace to complete; a sender stalled mid-frame is then cut off
// without an ACK (nothing of it was stored, so it sends it again), rather
// than holding the stop for read_timeout; so is a sender that does not
// read the ACK of a message stored.
type Source struct {
	set  adapters.Settings
	cfg  Config
	next adapters.Consumer
	log  *slog.Logger
	ids  *hl7v2.ControlIDs

	// ctx is handed to Consume; it is cancelled only when Shutdown gives up
	// waiting, so that in-flight messages can finish a graceful shutdown.
	ctx    context.Context
	cancel context.CancelFunc

	budget *Budget // frame buffers of all connections (Config.MaxBufferedBytes)

	mu      sync.Mutex
	ln      net.Listener
	conns   map[*conn]struct{}
	perIP   map[netip.Addr]int // open connections by remote address
	started bool
	closing bool
	wg      sync.WaitGroup
	done    chan struct{} // closed when Shutdown has finished

	connSeq atomic.Int64
	// graceOver: Shutdown's stopGrace has passed; an answer is then
	// given stopGrace at most to be written (see cutReading).
	graceOver atomic.Bool
	stats     struct {
		conns, open, rejected, messages, aa, ae, ar, oversized, busy, readFail, junk, tlsFail atomic.Int64
		acksNotSent, appAcks, appAcksSent, denied, frameTimeouts, multi                       atomic.Int64
		seqStarts, seqResyncs, seqGaps, seqRefused, seqRepeats                                atomic.Int64
		ackLatency                                                                            latency.Histogram
	}
	// Warnings about refused connections, limited so that a port scan or
	// a sender in a reconnect loop cannot flood the log. Used by the
	// accept goroutine only.
	deniedLog, limitLog logLimiter
	// Repeats and gaps of the sequence number protocol, logged at most
	// once a minute (seqNote); any connection's goroutine logs them.
	seqLogMu sync.Mutex
	seqLog   logLimiter
	// Connections that ended without a frame though bytes came on them
	// (noteUnframed), logged at most once a minute.
	unframedMu  sync.Mutex
	unframedLog logLimiter
	// Connections whose sender and listener disagree about TLS
	// (noteTLSMismatch), logged at most once a minute.
	tlsMismatchMu  sync.Mutex
	tlsMismatchLog logLimiter
}

var _ adapters.Source = (*Source)(nil)

// conn is one accepted connection and its state.
type conn struct {
	nc   net.Conn   // wc, or a TLS server connection over it
	wc   *watchConn // the TCP connection; holds the read deadline
	ip   netip.Addr // remote address, unmapped and without zone
	id   int64
	busy bool // guarded by Source.mu: a message is being read or handled
	// handling (guarded by Source.mu): the busy message was read whole
	// and is being stored and answered; until then it is being read.
	handling bool
	// cut (guarded by Source.mu): Shutdown closed the connection while a
	// frame was being read, after stopGrace.
	cut bool
	// writing: an answer is being written (see Source.cutReading).
	writing atomic.Bool
}

// stopGrace is how long Shutdown lets a frame still being read complete
// before it closes the connection. A variable for the tests.
var stopGrace = 5 * time.Second

// listen opens a listener's socket. A variable for the tests, which make
// its accepts fail as the system does when short of sockets.
var listen = net.Listen

// New returns a Source that will listen on cfg.Listen once started and
// pass every message to next.
func New(set adapters.Settings, cfg Config, next adapters.Consumer) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mllp config: %w", err)
	}
	if next == nil {
		return nil, errors.New("mllp: nil consumer")
	}
	log := set.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg = cfg.withDefaults()
	return &Source{
		set: set, cfg: cfg, next: next, log: log,
		budget: NewBudget(cfg.MaxBufferedBytes),
		ids:    ackIDs,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*conn]struct{}),
		perIP:  make(map[netip.Addr]int),
		done:   make(chan struct{}),

		deniedLog: logLimiter{every: refusedLogInterval},
		limitLog:  logLimiter{every: refusedLogInterval},
		seqLog:    logLimiter{every: time.Minute},

		unframedLog:    logLimiter{every: refusedLogInterval},
		tlsMismatchLog: logLimiter{every: refusedLogInterval},
	}, nil
}

// Start listens and returns; connections are accepted in the background.
func (s *Source) Start(_ context.Context, host adapters.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closing {
		return errors.New("mllp: source already started or shut down")
	}
	ln, err := listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("mllp listen on %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	s.started = true
	s.wg.Add(1)
	go s.acceptLoop(ln, host)
	return nil
}

// Addr is the address the source listens on (useful with port 0), or nil
// before Start.
func (s *Source) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stats returns a snapshot of the counters.
func (s *Source) Stats() Stats {
	return Stats{
		Connections: s.stats.conns.Load(), Open: s.stats.open.Load(), Rejected: s.stats.rejected.Load(),
		Messages: s.stats.messages.Load(), Accepted: s.stats.aa.Load(), Errors: s.stats.ae.Load(),
		Rejects: s.stats.ar.Load(), Oversized: s.stats.oversized.Load(), Busy: s.stats.busy.Load(),
		Buffered: s.budget.Used(), BufferLimit: s.budget.Limit(), ReadFailures: s.stats.readFail.Load(),
		Denied: s.stats.denied.Load(), FrameTimeouts: s.stats.frameTimeouts.Load(),
		JunkBytes: s.stats.junk.Load(), TLSHandshakes: s.stats.tlsFail.Load(),
		AcksNotSent: s.stats.acksNotSent.Load(), AppAcksRequested: s.stats.appAcks.Load(), AppAcksSent: s.stats.appAcksSent.Load(),
		MultiMessage: s.stats.multi.Load(), AckLatency: s.stats.ackLatency.Snapshot(),
		SequenceStarts: s.stats.seqStarts.Load(), SequenceResyncs: s.stats.seqResyncs.Load(),
		SequenceGaps: s.stats.seqGaps.Load(), SequenceRefused: s.stats.seqRefused.Load(),
		SequenceRepeats: s.stats.seqRepeats.Load(),
	}
}

// Shutdown stops accepting, closes idle connections, lets connections busy
// with a message finish it (ACK included) and waits for every goroutine. If
// ctx ends first, it cancels the Consumer's context, closes all connections
// and still waits for the goroutines, then returns ctx's error. It is
// idempotent and safe without Start.
func (s *Source) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		select {
		case <-s.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("mllp shutdown: %w", ctx.Err())
		}
	}
	s.closing = true
	if s.ln != nil {
		_ = s.ln.Close()
	}
	var reading, handling int
	var idle []*conn
	for c := range s.conns {
		switch {
		case !c.busy:
			idle = append(idle, c)
		case c.handling:
			handling++
		default:
			reading++
		}
	}
	s.mu.Unlock()
	s.closeIdle(idle)
	if reading+handling > 0 {
		// A stop is otherwise silent until it ends: say what it waits for.
		s.log.Info("mllp listener stopping: waiting for messages in flight", "reading", reading, "storing", handling,
			"reading_cut_after", stopGrace)
	}
	grace := time.AfterFunc(stopGrace, s.cutReading)
	defer grace.Stop()

	waited := make(chan struct{})
	go func() { s.wg.Wait(); close(waited) }()
	var err error
	select {
	case <-waited:
	case <-ctx.Done():
		err = fmt.Errorf("mllp shutdown: %w", ctx.Err())
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			// No time is left for a close_notify (see closeIdle).
			_ = c.wc.Close()
		}
		s.mu.Unlock()
		<-waited
	}
	s.cancel()
	close(s.done)
	return err
}

// closeNotifyWait bounds how long a connection closed during a stop may take
// to send its TLS close_notify alert before its TCP connection is closed.
// A sender that reads gets it at once.
const closeNotifyWait = time.Second

// closeIdle closes the idle connections Shutdown found, outside s.mu and
// all at once. Over TLS, Close first sends close_notify with a write
// deadline of 5 s of its own, which a sender that does not read (its
// receive window full of ACKs it never read) lets run out: closed in
// turn, under the lock every connection's goroutine needs, each such
// connection held the stop 5 s. Each is closed in a goroutine of its own
// (counted in s.wg) by closeStopping.
func (s *Source) closeIdle(cs []*conn) {
	for _, c := range cs {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			closeStopping(c)
		}()
	}
}

// closeStopping closes c during a stop: its TCP connection is closed
// under it once closeNotifyWait has passed, whichever Close sends the
// close_notify (this one, or another's on the same connection).
func closeStopping(c *conn) {
	time.AfterFunc(closeNotifyWait, func() { _ = c.wc.Close() })
	_ = c.nc.Close()
}

func (s *Source) acceptLoop(ln net.Listener, host adapters.Host) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				return
			}
			// Resource exhaustion (EMFILE, ENOBUFS, Winsock's WSAENOBUFS)
			// and a new connection's own network error pass: back off as
			// net/http does instead of spinning, and take the next one.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) || neterr.AcceptRetry(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("mllp accept failed; retrying", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			err = fmt.Errorf("mllp accept on %s: %w", ln.Addr(), err)
			if host != nil {
				host.ReportFatalError(err)
			} else {
				s.log.Error("mllp listener stopped", "err", err)
			}
			return
		}
		backoff = 0
		// The allow list is checked once per connection, before anything
		// is read from it (TLS included): a sender from elsewhere gets no
		// byte of ours and none of its bytes reach the parser.
		ip := remoteIP(raw)
		if !s.allowed(ip) {
			s.stats.denied.Add(1)
			if s.cfg.OnRefused != nil {
				s.cfg.OnRefused(ip, "address not in allow")
			}
			if ok, dropped := s.deniedLog.allow(time.Now()); ok {
				s.log.Warn("mllp connection refused: address not in allow", "remote_ip", ip.String(), "listen", s.cfg.Listen,
					"refused_unlogged", dropped)
			}
			_ = raw.Close()
			continue
		}
		// TLS goes over the deadline wrapper, so that progress is seen
		// byte by byte and TLS never sees a deadline that was only moved.
		wc := &watchConn{Conn: raw}
		var nc net.Conn = wc
		if s.cfg.TLS != nil {
			nc = tls.Server(wc, s.cfg.TLS)
		}
		c := &conn{nc: nc, wc: wc, ip: ip, id: s.connSeq.Add(1)}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		limit, most := "", 0
		switch {
		case len(s.conns) >= s.cfg.MaxConns:
			limit, most = "max_conns", s.cfg.MaxConns
		case s.perIP[ip] >= s.cfg.MaxConnsPerIP:
			limit, most = "max_conns_per_ip", s.cfg.MaxConnsPerIP
		}
		if limit != "" {
			s.mu.Unlock()
			s.stats.rejected.Add(1)
			if ok, dropped := s.limitLog.allow(time.Now()); ok {
				s.log.Warn("mllp connection refused: too many connections", "remote_ip", ip.String(), "limit", limit, "max", most,
					"refused_unlogged", dropped)
			}
			_ = raw.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.perIP[ip]++
		s.wg.Add(1)
		s.mu.Unlock()
		s.stats.conns.Add(1)
		s.stats.open.Add(1)
		go s.serve(c)
	}
}

// remoteIP returns the connection's remote address, IPv4-mapped addresses
// unmapped (an IPv4 sender on a dual-stack listener) and without an IPv6
// zone, which netip.Prefix.Contains would refuse to match.
func remoteIP(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().WithZone("")
	}
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return ap.Addr().Unmap().WithZone("")
}

// allowed reports whether Config.Allow admits ip.
func (s *Source) allowed(ip netip.Addr) bool {
	if len(s.cfg.Allow) == 0 {
		return true
	}
	for _, p := range s.cfg.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// refusedLogInterval is how often a refused-connection warning of one
// kind may be logged.
const refusedLogInterval = time.Minute

// logLimiter lets one message through per interval and counts the ones it
// holds back, so the next message that passes can say how many there were.
type logLimiter struct {
	every   time.Duration
	next    time.Time
	dropped int64
}

// allow reports whether a message may be logged at now and, if so, how
// many were held back since the last one.
func (l *logLimiter) allow(now time.Time) (ok bool, dropped int64) {
	if now.Before(l.next) {
		l.dropped++
		return false, 0
	}
	l.next = now.Add(l.every)
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// cutReading closes the connections still reading a frame when
// Shutdown's stopGrace has passed. Their messages were not stored and get
// no ACK: their senders send them again. So are those still writing an
// ACK, which a sender that does not read its ACKs (its window full) would
// hold for read_timeout: the message is stored, and the sender, which
// never heard the ACK, sends it again to the duplicate check. An ACK
// written from now on is given stopGrace (ackDeadline).
func (s *Source) cutReading() {
	s.graceOver.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		switch {
		case c.busy && !c.handling:
			c.cut = true
			_ = c.wc.Close()
		case c.busy && c.writing.Load():
			_ = c.wc.Close()
		}
	}
}

// ackDeadline is the write deadline of an answer begun now: read_timeout,
// or stopGrace once Shutdown's grace has passed.
func (s *Source) ackDeadline() time.Time {
	d := s.cfg.ReadTimeout
	if s.graceOver.Load() {
		d = min(d, stopGrace)
	}
	return time.Now().Add(d)
}

// readWhole marks c's frame read whole. It reports false when Shutdown has
// cut the connection: the frame is then not handled, since its ACK could
// not be sent.
func (s *Source) readWhole(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.handling = true
	return !c.cut
}

// wasCut reports whether cutReading closed c.
func (s *Source) wasCut(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.cut
}

// stopping reports whether Shutdown has begun.
func (s *Source) stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// setBusy marks c busy (true) or idle (false). It reports false when the
// source is shutting down and c must not take another message.
func (s *Source) setBusy(c *conn, busy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.busy, c.handling = busy, false
	return !s.closing
}

// refuse answers a frame that was read but not kept (oversized, or over
// the memory budget) with AR and text, unless the connection broke
// mid-frame (err wraps io.ErrUnexpectedEOF), and returns the ACK's control
// id for the log. The message was not stored, so AR ("send again later")
// keeps it with the sender rather than letting it count as handled, and it
// goes out even when MSH-15 asked for no acknowledgement.
func (s *Source) refuse(c *conn, head []byte, err error, text string) string {
	s.stats.ar.Add(1)
	ack := hl7v2.BuildAck(head, &hl7v2.AckError{Code: hl7v2.CodeAR, ErrCode: hl7v2.ErrApplication, Text: text}, s.ids.Next(), time.Now())
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return ack.MessageControlID
	}
	var out []byte
	if s.cfg.CommitACK {
		out = AppendFrame(out, commitNAK) // not stored
	}
	out = AppendFrame(out, ack.Bytes)
	_ = c.nc.SetWriteDeadline(time.Now().Add(s.cfg.ReadTimeout))
	_, _ = c.nc.Write(out)
	return ack.MessageControlID
}

// ackIDs numbers the ACKs of every listener of the process. Listeners
// answer as the same application when their senders name ferry alike (MSH-5
// and MSH-6), and a generator each, seeded from the clock when each was
// made, repeated the other's control ids after a few thousand ACKs.
var ackIDs = hl7v2.NewControlIDs()

// The payloads of the MLLP release 2 commit acknowledgements.
var (
	commitACK = []byte{CommitACK}
	commitNAK = []byte{CommitNAK}
)

// readerPool recycles the connections' 64 KiB read buffers: senders that
// open a connection per message would otherwise allocate (and zero) one per
// message, which shows up as garbage collection under load.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

func (s *Source) serve(c *conn) {
	remote := c.nc.RemoteAddr().String()
	log := s.log.With("conn", c.id, "remote", remote)
	defer func() {
		if s.stopping() {
			// A connection ending in a stop (its last message
			// answered) is not let hold it for close_notify.
			closeStopping(c)
		} else {
			_ = c.nc.Close()
		}
		s.mu.Lock()
		delete(s.conns, c)
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
		s.mu.Unlock()
		s.stats.open.Add(-1)
		s.wg.Done()
	}()
	log.Debug("mllp connection opened")
	meta := map[string]string{"remote": remote, "conn": strconv.FormatInt(c.id, 10)}
	if tc, ok := c.nc.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(s.cfg.ReadTimeout))
		if err := tc.HandshakeContext(s.ctx); err != nil {
			s.stats.tlsFail.Add(1)
			// Shutdown closes a connection still in its handshake (it
			// is not busy with a message): that failed nothing.
			stopped := s.ctx.Err() != nil || s.stopping()
			var rh tls.RecordHeaderError
			if handshakeNotStarted(err) || stopped {
				// A load balancer's health check or a port scan, every
				// few seconds, attempted nothing: a warning each would
				// bury the real failures (still counted in the stats).
				log.Debug("mllp connection closed before a tls handshake", "err", err)
			} else if errors.As(err, &rh) {
				// Not TLS: a sender left on plain MLLP, reconnecting.
				s.noteTLSMismatch(log, "mllp sender does not speak TLS (plain MLLP?) to a listener with tls; connection closed: set the sender to MLLP over TLS, or take tls off the listener")
			} else {
				log.Warn("mllp tls handshake failed", "err", err)
			}
			// A connection closed before a ClientHello (a port check)
			// attempted no authentication, and one cut by Shutdown
			// failed none.
			if s.cfg.OnRefused != nil && authAttempted(err) && !stopped {
				s.cfg.OnRefused(c.ip, "tls handshake failed: "+err.Error())
			}
			return
		}
		_ = tc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		meta["tls"] = tls.VersionName(st.Version)
		if len(st.PeerCertificates) > 0 {
			meta["tls_client"] = st.PeerCertificates[0].Subject.CommonName
		}
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(c.nc)
	defer func() {
		br.Reset(nil) // drop the connection; frames were copied before use
		readerPool.Put(br)
	}()
	r := NewReader(br, s.cfg.MaxFrameBytes)
	r.SetBudget(s.budget)
	defer r.Release()
	name := "conn " + strconv.FormatInt(c.id, 10) + " msg "
	var lastJunk int64
	var out []byte
	appAckWarned, ackInNoted := false, false
	for n := 1; ; n++ {
		if !s.setBusy(c, false) {
			return
		}
		_ = c.wc.until(time.Now().Add(s.cfg.IdleTimeout))
		if n == 1 && s.cfg.TLS == nil && startsTLS(br) {
			// Read as MLLP, a ClientHello's bytes make frames (0x0B
			// and 0x1C occur in it) that are no messages.
			s.noteTLSMismatch(log, "mllp sender opened a TLS handshake on a listener without tls; connection closed: give the listener tls (cert_file, key_file) or set the sender to plain MLLP")
			return
		}
		if err := r.WaitFrame(); err != nil {
			s.noteJunk(r, &lastJunk)
			if n == 1 && lastJunk > 0 {
				s.noteUnframed(log, lastJunk)
			}
			if isTimeout(err) {
				log.Debug("mllp connection idle; closing", "idle_timeout", s.cfg.IdleTimeout)
			} else if !isClosed(err) {
				log.Debug("mllp connection closed", "err", err)
			}
			return
		}
		if !s.setBusy(c, true) {
			return
		}
		// From the start block on, the deadline is one of inactivity:
		// a slow frame that keeps coming is read to its end, unless it
		// takes longer than frame_timeout in all.
		_ = c.wc.inactivity(s.cfg.ReadTimeout, s.cfg.FrameTimeout)
		frame, err := r.ReadFrame()
		s.noteJunk(r, &lastJunk)
		var tooBig *FrameTooLargeError
		var busy *FrameBusyError
		switch {
		case errors.As(err, &tooBig):
			s.stats.oversized.Add(1)
			log.Warn("mllp frame too large; closing connection", "bytes", tooBig.Size, "limit", tooBig.Limit,
				"control_id", s.refuse(c, tooBig.Head, err, fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes", tooBig.Size, tooBig.Limit)))
			s.lingerClose(c)
			return
		case errors.As(err, &busy):
			s.stats.busy.Add(1)
			log.Warn("mllp large message refused: max_buffered_bytes in use by other connections; closing connection",
				"bytes", busy.Size, "max_buffered_bytes", busy.Budget,
				"control_id", s.refuse(c, busy.Head, err, fmt.Sprintf("gateway busy: the %d bytes this listener keeps for large messages are in use; send again later", busy.Budget)))
			s.lingerClose(c)
			return
		case err != nil:
			s.stats.readFail.Add(1)
			if s.wasCut(c) {
				log.Warn("mllp message not complete when the listener stopped; connection closed without an ACK, the sender sends it again",
					"stop_grace", stopGrace)
			} else if isTimeout(err) && c.wc.pastLimit() {
				s.stats.frameTimeouts.Add(1)
				log.Warn("mllp frame not complete within frame_timeout; closing connection", "frame_timeout", s.cfg.FrameTimeout)
			} else if isTimeout(err) {
				log.Warn("mllp sender silent mid-frame; closing connection", "read_timeout", s.cfg.ReadTimeout, "err", err)
			} else {
				log.Warn("mllp read failed; closing connection", "err", err)
			}
			return
		}
		if !s.readWhole(c) {
			// Cut by Shutdown as the frame ended: not stored, no ACK.
			return
		}
		if IsCommitACK(frame) || IsCommitNAK(frame) {
			// An MLLP R2 peer's transport acknowledgement: nothing to store.
			continue
		}
		received := time.Now()
		body := r.Own(frame)
		// A frame of several messages (or a batch) is refused whole
		// before anything of it is stored: one ACK cannot answer two
		// messages, and acknowledging the first would leave the others
		// unanswered, AA'd or not. AR keeps them with the sender, as for
		// an oversized frame, until it sends one message per frame.
		var res error
		var seq seqAnswer
		multi := hl7v2.CheckOneMessage(body)
		// An acknowledgement the sender sends (one that acknowledges
		// everything it gets, ferry's application ACKs included) holds
		// nothing to store, and answering it in original mode would
		// have such a sender acknowledge the answer, and so on without
		// end ("The only messages that should not be acknowledged are
		// ACKs themselves").
		ackIn := multi == nil && isAcknowledgement(body)
		if multi != nil {
			s.stats.multi.Add(1)
			res = multi
		} else if !ackIn {
			seq, res = s.sequenced(log, body, func() error {
				s.stats.messages.Add(1)
				return s.consume(log, adapters.Raw{
					Source:   s.set.ID,
					Format:   "hl7v2",
					Name:     name + strconv.Itoa(n),
					Body:     body,
					Received: received,
					Meta:     meta, // shared by the connection's messages: read-only
				})
			})
		}
		ack := hl7v2.BuildAckExpecting(body, res, s.ids.Next(), time.Now(), seq.expected)
		if ackIn {
			// Only an enhanced-mode acknowledgement may ask for an
			// accept acknowledgement (its MSH-15); none asks for an
			// application acknowledgement of itself.
			ack.Suppressed = ack.Suppressed || !ack.Enhanced
			ack.AppAckRequested = false
			if !ackInNoted {
				ackInNoted = true
				log.Info("mllp sender sent an acknowledgement (MSH-9 ACK): nothing to store, and none is answered unless its MSH-15 asks",
					"control_id", ack.MessageControlID, "ack_sent", !ack.Suppressed)
			}
		} else {
			s.count(ack.Code)
		}
		var appAck []byte
		if ack.AppAckRequested {
			s.stats.appAcks.Add(1)
			if s.cfg.AppAck {
				if a, due := hl7v2.BuildAppAck(body, res, s.ids.Next(), time.Now()); due {
					appAck = a.Bytes
				}
			} else if !appAckWarned {
				// Once a connection: a sender that waits for it stalls
				// here, and this line is how its operator finds out why.
				appAckWarned = true
				log.Warn("mllp sender asks for application acknowledgements (MSH-16), which this listener does not send; if it waits for them, set app_ack: true on the listener",
					"control_id", ack.MessageControlID, "message_type", messageType(body))
			}
		}
		var cp *adapters.ConvertPanic
		if errors.As(res, &cp) {
			log.Error("mllp converter panicked on a message", "control_id", ack.MessageControlID, "message_type", messageType(body),
				"panic", adapters.PanicText(cp.Value, s.set.LogPHI), "stack", string(cp.Stack))
		}
		if multi != nil {
			// The text counts messages and names segments: no PHI.
			log.Warn("mllp frame refused: it holds more than one message or a batch; nothing of it is stored",
				"ack", ack.Code, "ack_sent", true, "control_id", ack.MessageControlID, "reason", multi.Text)
		} else if res != nil {
			attrs := []any{"ack", ack.Code, "ack_sent", !ack.Suppressed, "control_id", ack.MessageControlID, "permanent", queue.IsPermanent(res)}
			if s.set.LogPHI {
				attrs = append(attrs, "err", res)
			}
			log.Warn("mllp message not accepted", attrs...)
		}
		out = out[:0]
		if s.cfg.CommitACK {
			// Stored means committed: the converted result, a duplicate
			// already in the queue, or a quarantined input (a permanent
			// error is only returned once the quarantine holds it).
			if res == nil || queue.IsPermanent(res) {
				out = AppendFrame(out, commitACK)
			} else {
				out = AppendFrame(out, commitNAK)
			}
		}
		// notKept: the message is neither stored nor quarantined (a
		// transient failure, answered CR/AR). Table 0155 would keep quiet
		// under MSH-15 NE or SU, but silence would lose the message: the
		// sender would never learn it has to send it again. So the
		// negative ACK goes out anyway and the connection is closed after
		// it, which even a sender that reads no ACKs notices. An
		// application acknowledgement (AR) going out says it already.
		notKept := res != nil && !queue.IsPermanent(res)
		if ack.Suppressed && notKept && appAck == nil {
			ack.Suppressed = false
			msg := "mllp message not kept though MSH-15 wants no accept ACK; sending the negative ACK and closing the connection"
			if seq.refused {
				msg = "mllp message refused for its sequence number though MSH-15 wants no accept ACK; sending the negative ACK"
			}
			log.Warn(msg, "ack", ack.Code, "control_id", ack.MessageControlID)
		} else {
			notKept = false
		}
		if ack.Suppressed {
			// MSH-15 asked for no accept acknowledgement in this case.
			// The message was handled as any other (stored, or
			// quarantined); the next frame is read without a word.
			if !ackIn {
				s.stats.acksNotSent.Add(1)
			}
		} else {
			out = AppendFrame(out, ack.Bytes)
		}
		if appAck != nil {
			out = AppendFrame(out, appAck)
			s.stats.appAcksSent.Add(1)
		}
		if len(out) == 0 {
			continue
		}
		if !ack.Suppressed || appAck != nil {
			s.stats.ackLatency.Observe(time.Since(received))
		}
		c.writing.Store(true) // before ackDeadline reads graceOver
		_ = c.nc.SetWriteDeadline(s.ackDeadline())
		_, err = c.nc.Write(out)
		c.writing.Store(false)
		if err != nil {
			// The message is stored; the sender will resend it and the
			// duplicate is harmless (deterministic ids downstream).
			log.Warn("mllp ack write failed; closing connection", "err", err, "control_id", ack.MessageControlID)
			return
		}
		if notKept && !seq.refused {
			// A sequence gap refused is the protocol at work, not a
			// failure: the sender sends the number expected next on
			// the same connection.
			s.lingerClose(c)
			return
		}
	}
}

// lingerTimeout bounds how long lingerClose reads what a sender still
// sends after its connection was refused.
const lingerTimeout = 2 * time.Second

// lingerClose prepares the close of a connection the listener gives up on
// right after an answer (AR for a frame refused, CR/AR for a message not
// kept), while the sender may already have sent its next frames. Closed
// with those unread, the socket would send RST and drop what it has not
// yet sent, the answer included, and the sender's system (Windows at
// least) may drop what it received but not yet read: the sender would
// see a reset instead of the reason. So the write side is shut first (the
// answer is followed by TLS close_notify and FIN), and what arrives is read
// and dropped until the sender closes too, for at most lingerTimeout (or
// ReadTimeout). Shutdown closes the connection at once, as an idle one.
func (s *Source) lingerClose(c *conn) {
	if !s.setBusy(c, false) {
		return
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		_ = tc.CloseWrite()
	}
	tcp, ok := c.wc.Conn.(interface{ CloseWrite() error })
	if !ok || tcp.CloseWrite() != nil {
		return
	}
	_ = c.wc.until(time.Now().Add(min(lingerTimeout, s.cfg.ReadTimeout)))
	_, _ = io.Copy(io.Discard, c.wc)
}

// consume calls the Consumer. The pipeline turns a panic in the converter
// (a bug tripped by an odd message) into a quarantined message and AE
// itself. A panic that still reaches here came from elsewhere, storing
// say, and is no fault of the message: it becomes an ordinary error, so
// the sender gets AR and keeps the message, instead of the whole gateway
// going down. Its value may quote the message: the ACK never carries it,
// and the log only with PHI logging on.
func (s *Source) consume(log *slog.Logger, in adapters.Raw) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("mllp consumer panicked", "panic", adapters.PanicText(p, s.set.LogPHI), "stack", string(debug.Stack()))
			err = fmt.Errorf("consume %s: internal error: the consumer panicked", in.Name)
		}
	}()
	return s.next.Consume(s.ctx, in)
}

// isAcknowledgement reports whether msg is an acknowledgement: its MSH-9.1
// (message code) ACK, and an MSA segment after the MSH, which every
// acknowledgement holds and a sequence number protocol link start (MSH
// alone, its MSH-9 "not used") does not.
// It reads MSH-9 as messageType does, without allocating: every message
// is asked.
func isAcknowledgement(msg []byte) bool {
	msg = hl7v2.TrimEnvelope(msg)
	if len(msg) < 4 || !bytes.HasPrefix(msg, []byte("MSH")) {
		return false
	}
	fs, t := msg[3], msg
	if i := bytes.IndexAny(t, "\r\n"); i >= 0 {
		t = t[:i]
	}
	for range 8 { // MSH-9 follows the eighth separator, MSH-1 the first
		i := bytes.IndexByte(t, fs)
		if i < 0 {
			return false
		}
		t = t[i+1:]
	}
	if !bytes.HasPrefix(t, []byte("ACK")) || len(t) > 3 && isAlnum(t[3]) {
		return false
	}
	return bytes.Contains(msg, []byte("\rMSA")) || bytes.Contains(msg, []byte("\nMSA"))
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// messageType returns MSH-9 (ADT^A01^ADT_A01), codes and no PHI, for a log
// line. It reads the header without the parser, which a message that made
// the converter panic may trip as well.
func messageType(msg []byte) string {
	msg = hl7v2.TrimEnvelope(msg) // as Parse reads it
	if len(msg) < 4 || !bytes.HasPrefix(msg, []byte("MSH")) {
		return ""
	}
	seg, _, _ := bytes.Cut(msg, []byte{'\r'})
	// f[n-1] is MSH-n; the fields after MSH-9 are left in one piece.
	f := bytes.SplitN(seg, msg[3:4], 10)
	if len(f) < 9 || len(f[8]) > 40 {
		return ""
	}
	return string(f[8])
}

func (s *Source) count(code string) {
	switch code {
	case hl7v2.CodeAA, hl7v2.CodeCA:
		s.stats.aa.Add(1)
	case hl7v2.CodeAE, hl7v2.CodeCE:
		s.stats.ae.Add(1)
	default:
		s.stats.ar.Add(1)
	}
}

// noteUnframed warns of a connection that ended without a single frame
// though bytes came on it: a sender that does not frame its messages (an
// interface set to raw TCP, or to another framing) gets no ACK, and
// nothing else would tell its operator why. The bytes are the message:
// only their count is logged. At most once a minute for the listener, the
// lines held back counted in the next.
func (s *Source) noteUnframed(log *slog.Logger, junk int64) {
	s.unframedMu.Lock()
	ok, held := s.unframedLog.allow(time.Now())
	s.unframedMu.Unlock()
	if !ok {
		return
	}
	attrs := []any{"bytes_outside_frames", junk}
	if held > 0 {
		attrs = append(attrs, "held_back", held)
	}
	log.Warn("mllp connection ended without an MLLP frame: what it sent was not between a start block (0x0B) and an end block (0x1C 0x0D), so no message was read and no ACK sent; set the sender to MLLP framing", attrs...)
}

// startsTLS reports whether a connection opens with a TLS handshake
// record (content type 22, record version 3.0 to 3.4): a sender set to
// MLLP over TLS. No MLLP stream opens so: 0x16 is no start block, and no
// message may hold it.
func startsTLS(br *bufio.Reader) bool {
	if b, err := br.Peek(1); err != nil || b[0] != tlsHandshakeRecord {
		return false
	}
	b, err := br.Peek(3)
	return err == nil && b[1] == 3 && b[2] <= 4
}

// tlsHandshakeRecord is the content type of a TLS handshake record (RFC
// 8446 §5.1, RFC 5246 §6.2.1), the first byte a TLS client sends.
const tlsHandshakeRecord = 0x16

// noteTLSMismatch logs msg at WARN for a connection whose sender and
// listener disagree about TLS: a TLS handshake on a listener without tls,
// or bytes that are not TLS (plain MLLP) on one with it. The sender gets
// no ACK until one side is changed, and reconnects every few seconds
// meanwhile: at most once a minute for a listener, the lines held back
// counted in the next.
func (s *Source) noteTLSMismatch(log *slog.Logger, msg string) {
	s.tlsMismatchMu.Lock()
	ok, held := s.tlsMismatchLog.allow(time.Now())
	s.tlsMismatchMu.Unlock()
	if !ok {
		return
	}
	var attrs []any
	if held > 0 {
		attrs = append(attrs, "held_back", held)
	}
	log.Warn(msg, attrs...)
}

func (s *Source) noteJunk(r *Reader, last *int64) {
	if junk, _ := r.Skipped(); junk != *last {
		s.stats.junk.Add(junk - *last)
		*last = junk
	}
}

// authAttempted reports whether a failed TLS handshake is a failed node
// authentication (a certificate absent, untrusted or refused, or nothing
// the two sides could agree on), as opposed to a handshake that never
// got that far: the peer closed or reset the connection, said nothing
// until ReadTimeout (a TCP health check, a port scanner), or sent
// something other than TLS. Those reported as ATNA Security Alerts would
// flood the audit repository with false alerts, one per health check.
func authAttempted(err error) bool {
	var rh tls.RecordHeaderError
	return !handshakeNotStarted(err) && !errors.As(err, &rh)
}

// handshakeNotStarted reports whether a failed TLS handshake failed for
// want of a peer: it closed or reset the connection or said nothing until
// ReadTimeout. Unlike non-TLS bytes (a sender left on plain MLLP), that
// is what a TCP health check or a port scan does, not a misconfiguration.
func handshakeNotStarted(err error) bool {
	return isTimeout(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		neterr.ConnReset(err) || errors.Is(err, syscall.EPIPE)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}
