package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// Defaults for Options fields left zero.
const (
	DefaultQueueSize      = 4096
	DefaultMaxSpoolBytes  = 64 << 20
	DefaultRedialInterval = 10 * time.Second
	DefaultTimeout        = 10 * time.Second
	// DefaultDTLSMaxAge is how long one DTLS association is used. A
	// repository that restarted without close_notify silently discards
	// what is written into the association it forgot, so this bounds that
	// loss to one minute of events; one handshake a minute costs next to
	// nothing.
	DefaultDTLSMaxAge = time.Minute
	// DefaultDTLSMaxIdle is how long a DTLS association may go unwritten
	// before the next event opens a new one: the first event after a quiet
	// spell is the likeliest to meet a restarted repository, and 30
	// seconds is the shortest UDP binding timeout common NAT devices and
	// firewalls keep (RFC 4787 asks for 2 minutes; many keep 30 seconds).
	DefaultDTLSMaxIdle = 30 * time.Second
	// batch is how many messages are spooled with one fsync or sent from
	// the spool between cursor writes.
	batch = 256
)

// Options configures a Sink.
type Options struct {
	// URL is tls://host:6514, dtls://host:6514, udp://host:514, or an
	// https:// FHIR base that takes AuditEvent resources (the FHIR Feed
	// option of ITI-20).
	URL string
	// TLS holds the CA and client certificate for tls and dtls (the same
	// files configtls reads for the exchange).
	TLS configtls.ClientConfig
	// Proxy is the proxy section, used by an https:// FHIR repository
	// only (the zero value: the environment's proxy); syslog over TLS,
	// DTLS and UDP connect directly.
	Proxy configproxy.Config
	// SourceID is AuditSourceID: which gateway wrote the event.
	SourceID string
	// Site is AuditEnterpriseSiteID (optional).
	Site string
	// SpoolDir holds messages while the repository is unreachable,
	// normally <data_dir>/audit/spool.
	SpoolDir string
	// MaxSpoolBytes bounds the spool; the oldest messages are dropped
	// (and counted) beyond it.
	MaxSpoolBytes int64
	// QueueSize bounds the in-memory channel between Record and the
	// sender; Record drops (and counts) when it is full rather than block.
	// A sender that finds it half full (a repository slower than the
	// events come) spools them and sends from the spool.
	QueueSize int
	// RedialInterval is the least time between connection attempts.
	RedialInterval time.Duration
	// Timeout bounds a dial (with handshake) and a write.
	Timeout time.Duration
	// DTLSMaxAge and DTLSMaxIdle retire a dtls:// association after that
	// long in use or unwritten (defaults DefaultDTLSMaxAge and
	// DefaultDTLSMaxIdle): a repository that restarted without close_notify
	// would otherwise drop every event ferry writes into the association
	// it forgot, without either side noticing.
	DTLSMaxAge, DTLSMaxIdle time.Duration
	// DTLSBare sends each dtls:// message alone in its record, without
	// the MSG-LEN SP that RFC 6012 puts before it, for a repository that
	// takes every record as one whole message (rsyslog's imdtls).
	DTLSBare bool
	// HandoffDir is where short-lived processes (Emitter) leave the events
	// they could not send, normally <data_dir>/audit/handoff. A Sink with
	// it set moves those into its spool at start and every
	// HandoffInterval (default DefaultHandoffInterval) and sends them.
	HandoffDir      string
	HandoffInterval time.Duration
	// Hostname is the syslog HOSTNAME; empty means os.Hostname.
	Hostname string
	// Logger gets connection state changes, never event contents.
	Logger *slog.Logger
	// Key, when set (data at rest is sealed: encryption.key_file), seals
	// every record the Sink puts in its spool (sealRecord): events name
	// patients by their identifiers, which must not sit on disk in clear
	// when nothing else of ferry's does. A short-lived process's hand-off
	// files are sealed when the Sink takes them into its spool.
	Key *seal.Key
}

// Stats is a snapshot of a Sink's counters. It holds no PHI.
type Stats struct {
	Sent        uint64 // messages written to the repository
	Spooled     uint64 // messages written to the spool
	Dropped     uint64 // messages lost: spool bound, full channel, encode error, a spooled record the repository cannot take, after shutdown
	Truncated   uint64 // datagrams cut to fit (udp, dtls)
	Pending     int    // messages in the spool now
	Connected   bool
	LastError   string
	LastErrorAt time.Time `json:",omitzero"`
}

// Sink sends audit events to an ATNA audit repository. See the package
// documentation.
type Sink struct {
	opts   Options
	log    *slog.Logger
	dialer *dialer
	header Header
	ch     chan Event
	kick   chan struct{}
	spool  *spool

	// dial is replaceable by tests; it defaults to dialer.dial.
	dial func(ctx context.Context) (conn, error)

	recMu  sync.RWMutex // Record holds it shared; Shutdown exclusively to close
	closed bool

	lifeMu  sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
	// stopCtx is Shutdown's context, set before the sender is cancelled:
	// it bounds the sender's last sends. stopEvs are the events Shutdown
	// took from the channel and could not hand off (handOver); the
	// sender spools them.
	stopCtx context.Context
	stopEvs []Event
	// inflight are the live events the sender is writing (writeLive);
	// inflightFile the hand-off file Shutdown wrote of them (handOver).
	inflight     []Event
	inflightFile string

	// handoffWarned names the hand-off files that could not be opened
	// and were logged (takeHandoff; the sender goroutine's).
	handoffWarned map[string]bool

	sent, spooled, dropped, truncated atomic.Uint64
	// unreported counts the events dropped since the last loss report
	// (lossReport).
	unreported               atomic.Uint64
	connected, warnedRefusal atomic.Bool
	// warnedSpoolFull and warnedChannelFull are set once the spool's or
	// the channel's overflow is logged, and cleared by lossReport: each
	// gap in the trail is logged as it opens, not only the process's
	// first.
	warnedSpoolFull, warnedChannelFull atomic.Bool
	// warnedSpoolWrite is set once a spool append the disk refused is
	// logged (spoolRefused), and cleared by lossReport too.
	warnedSpoolWrite atomic.Bool
	pending          atomic.Int64

	errMu       sync.Mutex
	lastError   string
	lastErrorAt time.Time
	failing     bool
}

// New checks the options, loads the TLS files and opens the spool. It
// does not connect.
func New(opts Options) (*Sink, error) {
	ep, err := parseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	ep.bare = opts.DTLSBare
	if opts.SourceID == "" {
		return nil, errors.New("audit: source id is empty")
	}
	if opts.SpoolDir == "" {
		return nil, errors.New("audit: spool directory is empty")
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.MaxSpoolBytes <= 0 {
		opts.MaxSpoolBytes = DefaultMaxSpoolBytes
	}
	if opts.RedialInterval <= 0 {
		opts.RedialInterval = DefaultRedialInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.HandoffInterval <= 0 {
		opts.HandoffInterval = DefaultHandoffInterval
	}
	if opts.DTLSMaxAge <= 0 {
		opts.DTLSMaxAge = DefaultDTLSMaxAge
	}
	if opts.DTLSMaxIdle <= 0 {
		opts.DTLSMaxIdle = DefaultDTLSMaxIdle
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sink{
		opts:   opts,
		log:    log,
		header: Header{Hostname: opts.Hostname, ProcID: strconv.Itoa(os.Getpid())},
		ch:     make(chan Event, opts.QueueSize),
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),

		handoffWarned: map[string]bool{},
	}
	var warnTrunc sync.Once
	s.dialer, err = newDialer(ep, opts.TLS, opts.Proxy, opts.Timeout, func(n int) {
		s.truncated.Add(1)
		warnTrunc.Do(func() {
			log.Warn("audit message longer than one datagram was truncated; the repository may reject it", "bytes", n, "transport", ep.scheme)
		})
	})
	if err != nil {
		return nil, err
	}
	s.dialer.maxAge, s.dialer.maxIdle = opts.DTLSMaxAge, opts.DTLSMaxIdle
	s.dial = s.dialer.dial
	if ep.scheme == "udp" {
		log.Warn("audit over plain UDP (RFC 5426): messages may be lost or truncated and are not encrypted; prefer tls://")
	}
	s.spool, err = openSpool(opts.SpoolDir, opts.MaxSpoolBytes)
	if err != nil {
		return nil, err
	}
	s.pending.Store(int64(s.spool.Len()))
	return s, nil
}

// Record queues ev for sending; the sender goroutine encodes it, so the
// caller pays only for a channel send. It never blocks: when the channel
// is full the event is dropped and counted. Events recorded before Start
// wait in the channel. The caller must not modify ev's slices afterwards.
func (s *Sink) Record(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	s.recMu.RLock()
	defer s.recMu.RUnlock()
	if s.closed {
		s.lose(1)
		return
	}
	select {
	case s.ch <- ev:
	default:
		s.lose(1)
		if !s.warnedChannelFull.Swap(true) {
			s.log.Warn("audit channel full; event dropped", "capacity", s.opts.QueueSize)
		}
	}
}

// Start launches the sender and returns at once: an unreachable
// repository does not hold up start-up (Caddy's SoftStart, #5520).
func (s *Sink) Start(_ context.Context) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.stopped {
		return errors.New("start audit sink: already shut down")
	}
	if s.started {
		return errors.New("start audit sink: already started")
	}
	s.started = true
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(ctx)
	return nil
}

// Shutdown stops accepting events, puts what is queued on disk (handOver)
// before anything slow, sends what it can while ctx lasts, closes the
// connection and the spool, and waits (or until ctx ends). It is
// idempotent and safe without Start.
func (s *Sink) Shutdown(ctx context.Context) error {
	s.lifeMu.Lock()
	if s.stopped {
		s.lifeMu.Unlock()
		return nil
	}
	s.stopped = true
	started := s.started
	s.lifeMu.Unlock()

	s.recMu.Lock()
	s.closed = true
	s.recMu.Unlock()
	if !started {
		// Nothing ran: keep what was recorded, and what was not.
		evs := s.drainChannel(nil)
		if ev, ok := s.lossReport(); ok {
			evs = append(evs, ev)
		}
		s.spoolAll(evs)
		return s.spool.Close()
	}
	s.handOver()
	s.lifeMu.Lock()
	s.stopCtx = ctx
	s.lifeMu.Unlock()
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown audit sink: %w", ctx.Err())
	}
}

// handOver writes what is being written (writeLive) and what is still
// queued (the gateway's stop event, the last imports) and the loss report
// to a hand-off file, fsynced, at once:
// the sender may be waiting on a slow repository (a POST, a write to a
// peer that stopped reading, each up to Timeout) for longer than the
// shutdown deadline, and the process exits when that ends. The sender
// takes the file into its spool as it stops, or the next start does.
// Without a hand-off directory, or when the file cannot be written, the
// events are left to the sender.
func (s *Sink) handOver() {
	dir := s.opts.HandoffDir
	if dir != "" {
		if err := durable.MkdirAll(dir, 0o700); err != nil {
			s.recordError(err)
			dir = ""
		}
	}
	if dir != "" {
		// The events being written go first (they are older), in a
		// file of their own, which the sender removes once it has sent
		// or spooled them (inflightDone): only a stop that outlasts the
		// write leaves it, to be sent at the next start.
		s.lifeMu.Lock()
		if len(s.inflight) > 0 && s.inflightFile == "" {
			path, err := writeHandoffFile(dir, s.records(s.inflight))
			if err != nil {
				s.recordError(err)
			}
			s.inflightFile = path
		}
		s.lifeMu.Unlock()
	}
	evs := s.drainChannel(nil)
	if ev, ok := s.lossReport(); ok {
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return
	}
	if dir != "" {
		err := writeHandoff(dir, s.records(evs))
		if err == nil {
			return
		}
		s.recordError(err)
	}
	s.lifeMu.Lock()
	s.stopEvs = evs
	s.lifeMu.Unlock()
}

// inflightDone ends a writeLive whose unsent events the sender has
// spooled: the hand-off file Shutdown may have written of them meanwhile
// (handOver) would only send them twice.
func (s *Sink) inflightDone() {
	s.lifeMu.Lock()
	f := s.inflightFile
	s.inflight, s.inflightFile = nil, ""
	s.lifeMu.Unlock()
	if f != "" {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.recordError(err)
		}
	}
}

// Stats returns a snapshot of the counters.
func (s *Sink) Stats() Stats {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return Stats{
		Sent:        s.sent.Load(),
		Spooled:     s.spooled.Load(),
		Dropped:     s.dropped.Load(),
		Truncated:   s.truncated.Load(),
		Pending:     int(s.pending.Load()),
		Connected:   s.connected.Load(),
		LastError:   s.lastError,
		LastErrorAt: s.lastErrorAt,
	}
}

// run is the sender. It owns the connection and the spool.
//
//	Record ─► ch ─► spool empty and connected? ─yes─► write ─fail─┐
//	                     │ no                                        ▼
//	                     └──────────────────────────────────────► spool (fsync)
//	redial (≤ every RedialInterval) ─► drain spool in order ─► live again
//
// A write can take up to Timeout (a slow https repository, a syslog peer
// that stopped reading), longer than a shutdown may wait: Shutdown puts
// the events being written and those queued on disk first (handOver), so
// a graceful stop never takes them with it, and a live event costs no
// fsync while the repository keeps up.
func (s *Sink) run(ctx context.Context) {
	defer close(s.done)
	var c conn
	var lastDial time.Time
	// renewing is set while the last connection was let go for no
	// failure (retire) and no dial has connected or failed since.
	var renewing bool
	disconnect := func(err error) {
		renewing = false
		if c != nil {
			c.Close()
			c = nil
		}
		s.connected.Store(false)
		s.recordError(err)
		if s.dialer != nil {
			s.dialer.failed(err) // a TLS failure: read the TLS files again
		}
	}
	// retire closes a connection that should not be written to any more:
	// one past its age or that its peer closed cleanly (not a failure),
	// or one its peer or the network broke off (a failure). What would
	// have been written goes to a new connection or, failing that, to the
	// spool.
	retire := func() {
		r, ok := c.(renewable)
		if !ok {
			return
		}
		if err := r.lostErr(); err != nil {
			disconnect(err)
		} else if r.expired(s.dialer.now()) {
			c.Close()
			c = nil
			renewing = true
			s.connected.Store(false)
			// Not a failure: dial again now, not after RedialInterval.
			lastDial = time.Time{}
		}
	}
	// A dial runs on a goroutine of its own: a repository that holds
	// the handshake (a hung server, a blackholed port) keeps it for up
	// to Timeout, at every redial, and the sender must go on spooling
	// meanwhile, or the channel from Record fills and events are
	// dropped while the spool has room. dialing is non-nil while a dial
	// runs; its result is taken by dialed.
	var dialing chan dialResult
	connect := func() bool {
		retire()
		if c != nil {
			return true
		}
		if dialing != nil {
			return false
		}
		if !lastDial.IsZero() && time.Since(lastDial) < s.opts.RedialInterval {
			return false
		}
		lastDial = time.Now()
		dialing = make(chan dialResult, 1)
		go func(done chan<- dialResult) {
			dialBegins(ctx)
			if ctx.Err() != nil {
				// The stop came before this dial began: no repository
				// was asked (a start that failed at once, the sender
				// not yet run on a loaded machine).
				done <- dialResult{err: ctx.Err(), unasked: true}
				return
			}
			nc, err := s.dial(ctx)
			done <- dialResult{c: nc, err: err}
		}(dialing)
		return false
	}
	// unasked is set when a dial ended before it began, by the stop.
	var unasked bool
	dialed := func(r dialResult) {
		dialing = nil
		if r.err != nil {
			unasked = r.unasked
			if ctx.Err() == nil {
				disconnect(r.err)
			}
			return
		}
		c, renewing = r.c, false
		switch c.(type) {
		case *fhirConn, confirmer:
			// An https repository has no session to open: it counts
			// as reached when it answers a POST (write). A UDP "dial"
			// sends nothing: the repository counts as reached when
			// what was written is confirmed.
		default:
			s.reached()
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var handoff <-chan time.Time
	if s.opts.HandoffDir != "" {
		s.takeHandoff()
		t := time.NewTicker(s.opts.HandoffInterval)
		defer t.Stop()
		handoff = t.C
	}
	connect()
	for {
		for s.spool.Len() > 0 && ctx.Err() == nil && connect() {
			if err := s.drainSpool(ctx, c); err != nil {
				disconnect(err)
			}
			// Live events go behind the spooled ones: to the spool while
			// it holds any, straight out once it is empty. Spooled,
			// they would keep the spool from emptying under a steady
			// load, and each would cost its share of an fsync.
			// connect, not c != nil: the association may have passed
			// its age or idle time while the spool was written (or the
			// sender waited for the CPU), and what goes live must not
			// go into one a restarted repository no longer knows.
			evs := s.drainChannel(nil)
			if len(evs) > 0 && s.spool.Len() == 0 && connect() {
				evs = s.writeLive(c, evs, disconnect)
			}
			s.spoolAll(evs)
			s.inflightDone()
		}
		if c != nil && s.spool.Len() == 0 && ctx.Err() == nil {
			// The repository has everything that was kept: now tell it
			// what was not.
			if ev, ok := s.lossReport(); ok {
				// Spooled like any event, and sent at the top of
				// the loop (unless the disk refused it: then it is
				// counted, for the next report).
				if s.spoolAll([]Event{ev}); s.spool.Len() > 0 {
					continue
				}
			}
		}
		var wake <-chan time.Time
		if s.spool.Len() > 0 && c == nil && dialing == nil {
			timer.Reset(max(time.Until(lastDial.Add(s.opts.RedialInterval)), time.Millisecond))
			wake = timer.C
		}
		var lost <-chan struct{}
		if r, ok := c.(renewable); ok {
			lost = r.lost()
		}
		select {
		case <-ctx.Done():
			// First to disk, then, time allowing, to the repository:
			// what is left (and what Shutdown handed off) is spooled
			// before anything slow is tried.
			s.lifeMu.Lock()
			stop, evs := s.stopCtx, s.stopEvs
			s.stopEvs = nil
			s.lifeMu.Unlock()
			evs = append(s.drainChannel(nil), evs...)
			if ev, ok := s.lossReport(); ok {
				evs = append(evs, ev)
			}
			s.spoolAll(evs)
			s.takeHandoff()
			if dialing != nil {
				// The dial ends with ctx; a connection it made in
				// time takes what is left.
				dialed(<-dialing)
			}
			retire()
			if c == nil && (renewing || unasked) && s.spool.Len() > 0 && s.spool.Len() <= batch {
				// The connection was let go for no failure (past its
				// age or idle time, ended idle by the repository) and
				// the dial that renews it was cut short by the stop,
				// or not begun; or the run's first dial had not begun
				// when the stop came (unasked): the last events would
				// otherwise wait for the next start, as the next event
				// would not have. One dial, bounded by Shutdown's
				// context; a repository that failed, or never
				// answered, is not waited for.
				nc, err := s.dial(stop)
				dialed(dialResult{c: nc, err: err})
			}
			if c != nil && s.spool.Len() > 0 && s.spool.Len() <= batch {
				// A few events spooled in the last moments (the
				// gateway's stop, events recorded while a dial ran):
				// send them now, in one batch bounded by Shutdown's
				// context, so that they do not wait for the next start.
				if err := s.drainSpool(stop, c); err != nil {
					disconnect(err)
				}
			}
			if c != nil {
				c.Close()
				s.connected.Store(false)
			}
			if err := s.spool.Close(); err != nil {
				s.recordError(err)
			}
			return
		case <-wake:
		case r := <-dialing:
			dialed(r)
		case <-lost:
			// Say so now (status, log) rather than at the next event.
			retire()
		case <-handoff:
			s.takeHandoff()
		case ev := <-s.ch:
			evs := s.drainChannel(s.prepare(nil, ev))
			if s.spool.Len() == 0 && connect() {
				evs = s.writeLive(c, evs, disconnect)
			}
			s.spoolAll(evs)
			s.inflightDone()
		}
		if wake != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// dialResult is the outcome of a dial on its own goroutine (run);
// unasked, that the stop came before it began.
type dialResult struct {
	c       conn
	err     error
	unasked bool
}

// dialBegins is called as a dial's goroutine begins; a test holds it
// there until the stop, as a loaded machine can.
var dialBegins = func(context.Context) {}

// writeLive sends live events over c while nothing waits in the spool;
// it returns those not sent: from the first failure on, after calling
// fail with the error, or from where the sender fell behind (behind).
// An event that cannot be encoded is dropped and counted. While it writes, the events not yet sent are s.inflight,
// which Shutdown puts on disk (handOver), since it may not be able to
// wait for a slow repository: a graceful stop then loses none, and a live
// event costs no fsync. The caller spools what is returned, then calls
// inflightDone.
//
// Over UDP (a confirmer) a failed write reports what an earlier one
// brought back, so the events of the batch already written are returned
// too; and the first batch on a new connection is confirmed before the
// repository counts as reached, since a UDP dial proves nothing.
func (s *Sink) writeLive(c conn, evs []Event, fail func(error)) []Event {
	s.lifeMu.Lock()
	s.inflight = evs
	s.lifeMu.Unlock()
	cf, unconfirmed := c.(confirmer)
	written := 0
	var rest []Event
	for i := range evs {
		if written > 0 && s.behind() {
			// Not a failure: the rest go to the spool, and those
			// recorded meanwhile behind them.
			rest = evs[i:]
			break
		}
		ms, err := s.dialer.ep.encodeAll(s.header, &evs[i])
		if err != nil {
			s.lose(1)
			s.recordError(err)
			continue
		}
		for _, m := range ms {
			if err := s.write(c, m); err != nil {
				fail(err)
				if unconfirmed {
					s.unsent(written)
					return evs
				}
				// The event is sent again whole: the repository may
				// get its first parts twice (the trail is
				// at-least-once).
				return evs[i:]
			}
			written++
		}
		if !unconfirmed {
			s.lifeMu.Lock()
			s.inflight = evs[i+1:]
			s.lifeMu.Unlock()
		}
	}
	if unconfirmed && !s.connected.Load() {
		if err := cf.confirm(udpConfirmWait); err != nil {
			fail(err)
			s.unsent(written)
			return evs
		}
		s.reached()
	}
	return rest
}

// behind reports a sender that falls behind the events recorded (the
// repository is slower than they come: an https base that takes each
// POST in a while, a syslog peer that reads slowly): the channel from
// Record is half full. The sender then spools them, one fsync for all,
// and sends from the spool, rather than write on while the channel fills
// and Record drops what the spool had room for.
func (s *Sink) behind() bool {
	return len(s.ch) >= max(cap(s.ch)/2, 1)
}

// unsent takes back the count of n messages written to a UDP repository
// that the network then said were not taken: they are sent again.
func (s *Sink) unsent(n int) {
	if n > 0 {
		s.sent.Add(^uint64(n - 1))
	}
}

// write sends one message and counts it: sent, or dropped when the
// repository refused it as invalid (which is not an error of the
// connection: the next message goes on).
func (s *Sink) write(c conn, m []byte) error {
	err := c.WriteMessage(m)
	var re *refusedError
	switch {
	case err == nil:
		s.sent.Add(1)
		if _, unconfirmed := c.(confirmer); !unconfirmed {
			s.reached()
		}
	case errors.As(err, &re):
		s.reached()
		// Not a gap to report: the repository saw the event and
		// refused it itself.
		s.dropped.Add(1)
		if !s.warnedRefusal.Swap(true) {
			s.log.Warn("the audit repository refused an audit event as invalid; it is not sent again (counted as dropped)", "status", re.Status)
		}
		return nil
	}
	return err
}

// drainSpool sends one batch from the spool and consumes what was sent.
// Each record is encoded for the repository configured now (record.go);
// one that can never be sent to it is consumed too, dropped and counted,
// so that it cannot hold up the records behind it. It stops early, with
// what it sent consumed, once ctx ends.
func (s *Sink) drainSpool(ctx context.Context, c conn) error {
	msgs, err := s.spool.Peek(batch)
	var damaged *damagedError
	if err != nil && !errors.As(err, &damaged) {
		return err
	}
	var werr error
	n := 0
	// Over UDP, the records written are consumed only once confirmed:
	// from the first of them on, the batch is sent again otherwise.
	cf, unconfirmed := c.(confirmer)
	firstWritten, written := -1, 0
	for _, rec := range msgs {
		if ctx.Err() != nil || written > 0 && s.behind() {
			// The caller spools what came meanwhile, and goes on.
			break
		}
		rec, err := openRecord(s.opts.Key, rec)
		if err != nil {
			s.lose(1)
			s.log.Warn("audit spool record dropped: it cannot be opened", "reason", describe(err))
			n++
			continue
		}
		ms, err := s.dialer.ep.sendAll(s.header, rec)
		if err != nil {
			s.lose(1)
			s.log.Warn("audit spool record dropped: it cannot be sent to this repository", "url", s.opts.URL, "reason", describe(err))
			n++
			continue
		}
		for _, m := range ms {
			if werr = s.write(c, m); werr != nil {
				break
			}
			if firstWritten < 0 {
				firstWritten = n
			}
			written++
		}
		if werr != nil {
			// Not consumed: sent again whole, its first parts perhaps
			// twice.
			break
		}
		n++
	}
	if unconfirmed && written > 0 {
		if werr == nil {
			werr = cf.confirm(udpConfirmWait)
		}
		if werr != nil {
			s.unsent(written)
			n = firstWritten
		} else {
			s.reached()
		}
	}
	if err := s.spool.Consume(msgs[:n]); err != nil {
		return errors.Join(werr, err)
	}
	if damaged != nil && werr == nil && n == len(msgs) && ctx.Err() == nil {
		// The local disk's fault, not the repository's: the
		// connection is kept, the damaged record skipped and counted
		// (the repository is told), and the records behind it go on.
		lost, err := s.spool.SkipDamaged()
		s.lose(uint64(lost))
		s.log.Warn("damaged audit spool record dropped", "error", damaged.Error(), "lost", lost)
		if err != nil {
			s.recordError(err)
		}
	}
	s.pending.Store(int64(s.spool.Len()))
	return werr
}

// drainChannel appends every event waiting in the channel to evs (at
// most QueueSize of them).
func (s *Sink) drainChannel(evs []Event) []Event {
	for {
		select {
		case ev := <-s.ch:
			evs = s.prepare(evs, ev)
		default:
			return evs
		}
	}
}

// prepare completes ev with what the Sink knows at record time (source
// id, site), so that encoding it later, from the spool, gives the same
// message, and appends it to evs; an event that no encoding can take is
// dropped and counted here rather than kept.
func (s *Sink) prepare(evs []Event, ev Event) []Event {
	if ev.AuditSourceID == "" {
		ev.AuditSourceID = s.opts.SourceID
	}
	if ev.AuditSite == "" {
		ev.AuditSite = s.opts.Site
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if _, err := ev.recorded(); err != nil {
		s.lose(1)
		s.recordError(err)
		return evs
	}
	return append(evs, ev)
}

// spoolAll appends evs to the spool, as records (record.go), with one
// fsync.
func (s *Sink) spoolAll(evs []Event) {
	msgs := s.records(evs)
	if len(msgs) == 0 {
		return
	}
	before := s.spool.Len()
	dropped, err := s.spool.Append(msgs)
	if err != nil {
		// The disk refuses: the events not written are lost; say so
		// once per streak. Those written before the failure are in
		// the spool and will be sent (Len counts them; dropped counts
		// any the bound then removed).
		written := min(max(s.spool.Len()-before+dropped, 0), len(msgs))
		s.spooled.Add(uint64(written))
		lost := len(msgs) - written
		s.lose(uint64(lost))
		s.spoolRefused(err, lost)
	} else {
		s.spooled.Add(uint64(len(msgs)))
	}
	if dropped > 0 {
		s.lose(uint64(dropped))
		s.warnSpoolFull()
	}
	s.pending.Store(int64(s.spool.Len()))
}

// warnSpoolFull logs the spool overflowing, once for each gap in the
// trail: until the repository is told of the events lost (lossReport),
// then again at the next overflow (a later outage).
func (s *Sink) warnSpoolFull() {
	if !s.warnedSpoolFull.Swap(true) {
		s.log.Warn("audit spool full; oldest events dropped", "max_bytes", s.opts.MaxSpoolBytes)
	}
}

// spoolRefused notes an append the disk refused, which lost lost events:
// the last error (ferry status), and, when it lost any, a WARN once for
// each gap in the trail, as warnSpoolFull. It is not the repository's failure, which
// recordError would log it as ("events are spooled"), or not at all
// while the repository is down.
func (s *Sink) spoolRefused(err error, lost int) {
	s.errMu.Lock()
	s.lastError = describe(err)
	s.lastErrorAt = time.Now()
	s.errMu.Unlock()
	if lost > 0 && !s.warnedSpoolWrite.Swap(true) {
		s.log.Warn("audit spool could not be written; audit events lost", "lost", lost, "error", describe(err))
	}
}

// records makes evs spool records (record.go), sealed when a key is set;
// an event that cannot be made one is dropped and counted.
func (s *Sink) records(evs []Event) [][]byte {
	msgs := make([][]byte, 0, len(evs))
	for i := range evs {
		m, err := marshalRecord(s.header.ProcID, &evs[i])
		if err != nil {
			s.lose(1)
			s.recordError(err)
			continue
		}
		msgs = append(msgs, sealRecord(s.opts.Key, m))
	}
	return msgs
}

// lose counts n events lost, for Stats and for the next loss report, and
// returns the total lost.
func (s *Sink) lose(n uint64) uint64 {
	s.unreported.Add(n)
	return s.dropped.Add(n)
}

// lossReport returns the event that tells the repository of the events
// lost since the last report, if any: a DICOM Security Alert (PS3.15
// A.5.3.11) of type Audit Recording Stopped, outcome serious failure, the
// gateway as the reporting application. A gap that only ferry status
// showed would be invisible where the trail is reviewed, and forgotten at
// the next restart; this event is sent once the repository holds the
// events that were kept, or spooled at shutdown.
func (s *Sink) lossReport() (Event, bool) {
	n := s.unreported.Swap(0)
	if n == 0 {
		return Event{}, false
	}
	s.warnedSpoolFull.Store(false)
	s.warnedChannelFull.Store(false)
	s.warnedSpoolWrite.Store(false)
	s.log.Warn("audit events were lost; the audit repository is told how many", "lost", n)
	return Event{
		ID: EventSecurityAlert, Type: TypeAuditRecordingStopped, Action: ActionExecute, Outcome: OutcomeSeriousFail,
		OutcomeDesc: fmt.Sprintf("%d audit events lost before they could be sent (audit spool or buffer full, or the local disk refused them); the audit trail has a gap", n),
		Time:        time.Now(), AuditSourceID: s.opts.SourceID, AuditSite: s.opts.Site,
		Participants: []Participant{{UserID: s.opts.SourceID, Requestor: true, Address: s.opts.Hostname, Role: RoleApplication}},
	}, true
}

func (s *Sink) recordError(err error) {
	s.errMu.Lock()
	first := !s.failing
	s.failing = true
	s.lastError = describe(err)
	s.lastErrorAt = time.Now()
	s.errMu.Unlock()
	if first {
		s.log.Warn("audit repository unreachable; events are spooled and sent when it is back", "url", s.opts.URL, "error", describe(err))
	}
}

// reached notes a repository that took a connection or answered a
// message: connected, and, after failures, reachable again.
func (s *Sink) reached() {
	if !s.connected.Swap(true) {
		s.recovered()
	}
}

func (s *Sink) recovered() {
	s.errMu.Lock()
	was := s.failing
	s.failing = false
	s.errMu.Unlock()
	if was {
		s.log.Info("audit repository reachable again", "url", s.opts.URL, "spooled", s.spool.Len())
	}
}

// describe reduces an error to a PHI-free summary. Audit errors come from
// dialing, TLS and the local disk and never quote event contents, so the
// text is kept, but only the outermost network operation for net errors.
func describe(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Op + ": " + oe.Err.Error()
	}
	if errors.Is(err, io.EOF) {
		return "connection closed by the repository"
	}
	return err.Error()
}
