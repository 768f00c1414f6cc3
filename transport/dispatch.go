package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport/neterr"
)

// Defaults for DispatcherOptions fields left zero.
const (
	DefaultWorkers         = 4
	DefaultInitialInterval = time.Second
	DefaultMaxInterval     = 5 * time.Minute
	// MaxRetryAfter caps a receiver's Retry-After so that a misconfigured
	// header cannot stall delivery of clinical data for days.
	MaxRetryAfter = time.Hour
	// ackTimeout bounds settling a lease (a local fsync) at shutdown.
	ackTimeout = 30 * time.Second
	// DefaultShutdownGrace is how long Shutdown lets deliveries in
	// flight finish before it cuts them off (see
	// DispatcherOptions.ShutdownGrace).
	DefaultShutdownGrace = 10 * time.Second
	// DefaultUnknownOutcomeDelay is the least wait before re-sending an
	// item whose last attempt ended without an answer (a timeout, a
	// connection reset): the HTTP sink's default request timeout, so the
	// exchange gets as long again to finish the first attempt.
	DefaultUnknownOutcomeDelay = 30 * time.Second
	// DefaultRejectLimit is how many items in a row, with no delivery in
	// between, the exchange may reject permanently before the dispatcher
	// stops dead-lettering and holds the rest (see Stats.Paused).
	DefaultRejectLimit = 5
	// DefaultConflictRetries is how many times an item the receiver
	// refused with a conflict (IsConflict) is retried before it is
	// dead-lettered: with the default backoff the last attempt of a new
	// item comes 8 to 15 seconds after the first, long enough for a
	// racing transaction to have committed.
	DefaultConflictRetries = 4
)

// errHeld settles a lease whose rejection the dispatcher did not accept
// as the item's fault (the exchange rejects everything): the item is
// returned for a later attempt, not dead-lettered.
var errHeld = errors.New("delivery paused: the exchange rejects everything; item held")

// errShutdown settles a lease whose delivery shutdown cut off. It is an
// ordinary (not permanent) error, so the queue keeps the item and
// redelivers it; it is never deleted (OTel issue #15677 is the
// counter-example).
var errShutdown = errors.New("dispatcher shutting down; item will be redelivered")

// DispatcherOptions tunes a Dispatcher. Zero fields take the defaults.
type DispatcherOptions struct {
	// Workers is the number of items in flight at once. Items with the same
	// queue key are still delivered one at a time, in order, because the
	// queue leases only one of them at a time.
	Workers int
	// InitialInterval and MaxInterval bound the exponential backoff between
	// attempts (full jitter: each wait is uniform in [0, min(Max, Initial·2ⁿ)]).
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// Logger receives the few events worth a line: delivery starting and
	// stopping to fail, dead-lettered items, TLS configuration problems.
	Logger *slog.Logger
	// LogPHI allows full error texts (which may quote patient data sent
	// back by the exchange) in logs and Stats. Off by default.
	LogPHI bool
	// OnDelivered, when set, is called once an item has been accepted by
	// the sink and its lease settled, e.g. to record an ATNA Export audit
	// event. It runs on the delivering worker, so it must not block; the
	// item's body may already be gone (use ID, Key, Source, Attrs).
	OnDelivered func(it *queue.Item)
	// OnRejected, when set, is called like OnDelivered for an item the
	// sink rejected permanently (dead-lettered), with the sink's error.
	// The error may quote PHI: summarise it with Summary unless LogPHI.
	OnRejected func(it *queue.Item, err error)
	// MaxAge dead-letters an item that has kept failing with retryable
	// errors for this long while the exchange accepted other items (so an
	// outage of the whole exchange never dead-letters anything, however
	// long it lasts). The clock starts at the item's first failure seen
	// while others were delivered, in this process, and stands still
	// through an outage seen after that (other items failing while
	// nothing is delivered). 0: retry forever.
	MaxAge time.Duration
	// UnknownOutcomeDelay is the least wait before re-sending an item
	// whose attempt ended with its outcome unknown (timeout, connection
	// reset or EOF after the request went out, or Shutdown cutting it
	// off): the exchange may still be committing it, and a quick re-send
	// would race it. The wait holds across a restart when the queue keeps
	// queue.NotBeforeDurable times (diskq does). Default
	// DefaultUnknownOutcomeDelay; set it to the sink's request timeout.
	UnknownOutcomeDelay time.Duration
	// RejectLimit is the breaker on permanent rejections: after this many
	// items in a row were rejected with no delivery in between, the
	// exchange is taken to reject everything (a wrong URL, an account
	// that lost its rights) and later rejections hold their items for a
	// retry instead of dead-lettering them, until one delivery succeeds.
	// Default DefaultRejectLimit.
	RejectLimit int
	// ConflictRetries is how many times an item whose Send failed with a
	// conflict (IsConflict: FHIR 409, two writes racing at the exchange)
	// is retried, with the normal backoff, before the next conflict
	// dead-letters it. The count is kept per item in this process.
	// Default DefaultConflictRetries; negative: dead-letter at the first.
	ConflictRetries int
	// ShutdownGrace is how long Shutdown lets the deliveries in flight
	// finish (the exchange's answer to a message it already has) before
	// it cuts them off, at most half the time left on Shutdown's
	// context. A delivery cut off is an unknown outcome: it is sent
	// again, at the next start too, after UnknownOutcomeDelay. Default
	// DefaultShutdownGrace; negative: cut them off at once.
	ShutdownGrace time.Duration
}

// Stats is a snapshot of the dispatcher's counters, for the status page and
// /metrics. No field holds PHI unless LogPHI is set.
type Stats struct {
	Delivered       uint64 // items acknowledged by the destination
	Skipped         uint64 // items settled with nothing to send (ErrNothingToSend)
	Retried         uint64 // retryable failures (each followed by a wait)
	DeadLettered    uint64 // items settled as permanent failures
	ConnectFailures uint64 // failed Connect attempts
	InFlight        int64  // items currently leased
	Connected       bool
	// Failing is true from a failure until the next successful delivery.
	Failing bool
	// LastDelivery and LastErrorAt are zero, and left out of the JSON,
	// until there was one.
	LastDelivery time.Time `json:",omitzero"`
	LastError    string    // PHI-free summary of the last failure
	LastErrorAt  time.Time `json:",omitzero"`
	// ConfigProblem is the plain-words TLS diagnosis when the last failure
	// was a certificate or handshake problem, or the queue's report of data
	// sealed with a key that is not configured: it needs an operator, and
	// retrying alone will not fix it. It also explains Paused.
	ConfigProblem string
	// Paused is true while the rejection breaker holds items: the exchange
	// rejected RejectLimit items in a row and nothing was delivered since,
	// so rejections are taken for an endpoint or account problem, not the
	// items' fault. It clears with the next delivery.
	Paused bool
}

// Dispatcher moves items from a queue to a sink. See the package
// documentation for how Send's errors are handled.
//
//	Get ──► Send ──ok──────────► ack(nil)        delete
//	         │ ├─permanent────► ack(err)        dead-letter (breaker: see RejectLimit)
//	         │ ├─ErrNotConnected► Connect (backoff) ─► Send again
//	         │ └─other─────────► ack(NotBefore(err, backoff)) ─► worker waits, Gets the next
//	         └─shutdown──────────► ack(NotBeforeDurable(errShutdown, UnknownOutcomeDelay)) redeliver after it, restart or not
//
// A retryable failure gives the lease back with a not-before time
// (queue.NotBefore) instead of holding it while waiting: the queue keeps
// the item's key blocked, so per-key order holds, while the worker backs
// off (its own backoff, reset by its next delivery, and Retry-After) and
// then takes whatever is ready. An item the exchange always fails thus
// costs one attempt per backoff interval, not a worker; an exchange that
// is down sees each worker retry at the backoff pace, as before.
type Dispatcher struct {
	q    queue.Queue
	sink Sink
	opts DispatcherOptions
	log  *slog.Logger

	// sleep waits d or until ctx is done; tests replace it to observe the
	// requested delays without waiting.
	sleep func(ctx context.Context, d time.Duration) error
	// rand returns a uniform value in [0, n); tests may fix it.
	rand func(n int64) int64
	// now is the clock for MaxAge; tests move it.
	now func() time.Time
	// until turns a retry wait into the not-before time handed to the
	// queue; tests record the waits and make them due at once.
	until func(wait time.Duration) time.Time

	lifeMu  sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc // stops taking items
	// sendCtx bounds the sink's work; Shutdown cancels it (cutSends)
	// after ShutdownGrace, so that deliveries in flight may finish.
	sendCtx  context.Context
	cutSends context.CancelFunc
	wg       sync.WaitGroup

	connMu sync.Mutex // serialises Connect across workers
	// conn is the sink's connection state: the number of successful
	// Connects so far, shifted left by one, with the low bit set while
	// connected. A Send's ErrNotConnected marks the sink disconnected only
	// if no worker has connected again since that Send began: a stale one
	// would show the exchange disconnected while deliveries go through and
	// make a needless second Connect (a second dial).
	conn atomic.Uint64

	delivered, skipped, retried, deadLettered, connectFailures atomic.Uint64
	inFlight                                                   atomic.Int64

	statMu        sync.Mutex
	failing       bool
	lastDelivery  time.Time
	lastError     string
	lastErrorAt   time.Time
	configProblem string
	rejectStreak  int         // permanent rejections since the last delivery
	paused        bool        // the breaker holds rejected items
	pausedNow     atomic.Bool // paused, read without statMu before each attempt
	// failingSince is, for MaxAge, how long each item has failed
	// (retryably) while other items were delivered; only items failing
	// alone are here.
	failingSince map[string]*failClock
	// outageAt is when an item last failed for the first time while
	// nothing was delivered: the exchange failed a bundle that no clock
	// runs for, so it was down then (see expired).
	outageAt time.Time
	// conflicts counts the conflicts of each item not yet settled, for
	// ConflictRetries.
	conflicts map[string]int
}

// NewDispatcher returns a dispatcher from q to s. It does nothing until
// Start.
func NewDispatcher(q queue.Queue, s Sink, opts DispatcherOptions) *Dispatcher {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.InitialInterval <= 0 {
		opts.InitialInterval = DefaultInitialInterval
	}
	if opts.MaxInterval <= 0 {
		opts.MaxInterval = DefaultMaxInterval
	}
	if opts.MaxInterval < opts.InitialInterval {
		opts.MaxInterval = opts.InitialInterval
	}
	if opts.UnknownOutcomeDelay <= 0 {
		opts.UnknownOutcomeDelay = DefaultUnknownOutcomeDelay
	}
	if opts.RejectLimit <= 0 {
		opts.RejectLimit = DefaultRejectLimit
	}
	if opts.ConflictRetries == 0 {
		opts.ConflictRetries = DefaultConflictRetries
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{
		q: q, sink: s, opts: opts, log: log,
		sleep: sleepCtx,
		rand:  rand.Int64N,
		now:   time.Now,
		until: func(wait time.Duration) time.Time { return time.Now().Add(wait) },

		failingSince: map[string]*failClock{},
		conflicts:    map[string]int{},
	}
}

// Start launches the workers and returns at once. The workers run on their
// own context (not ctx), cancelled by Shutdown.
func (d *Dispatcher) Start(_ context.Context) error {
	d.lifeMu.Lock()
	defer d.lifeMu.Unlock()
	if d.stopped {
		return errors.New("start dispatcher: already shut down")
	}
	if d.started {
		return errors.New("start dispatcher: already started")
	}
	d.started = true
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.sendCtx, d.cutSends = context.WithCancel(context.Background())
	for range d.opts.Workers {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.work(ctx)
		}()
	}
	return nil
}

// Shutdown stops the workers, waits for them (or for ctx), and closes the
// sink. The workers take no new item; a delivery in flight may finish for
// ShutdownGrace (at most half of ctx's time left) and is settled as it
// ends, since cut off after the exchange got the item it would be sent
// again at the next start, a duplicate at the exchange. Deliveries still
// running then are cut off and settled with a non-permanent error, so the
// queue redelivers them. It is idempotent and safe without Start. Shut
// the dispatcher down before closing the queue, so that those
// settlements land.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.lifeMu.Lock()
	if d.stopped {
		d.lifeMu.Unlock()
		return nil
	}
	d.stopped = true
	started := d.started
	if d.cancel != nil {
		d.cancel()
	}
	d.lifeMu.Unlock()
	if !started {
		return nil
	}
	defer d.cutSends()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	grace := d.opts.ShutdownGrace
	if dl, ok := ctx.Deadline(); ok {
		grace = min(grace, time.Until(dl)/2)
	}
	if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	d.cutSends()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("shutdown dispatcher: %w", ctx.Err())
	}
	d.conn.Store(d.conn.Load() &^ 1)
	if err := d.sink.Close(ctx); err != nil {
		return fmt.Errorf("shutdown dispatcher: close sink: %w", err)
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (d *Dispatcher) Stats() Stats {
	d.statMu.Lock()
	defer d.statMu.Unlock()
	return Stats{
		Delivered:       d.delivered.Load(),
		Skipped:         d.skipped.Load(),
		Retried:         d.retried.Load(),
		DeadLettered:    d.deadLettered.Load(),
		ConnectFailures: d.connectFailures.Load(),
		InFlight:        d.inFlight.Load(),
		Connected:       d.connected(),
		Failing:         d.failing,
		LastDelivery:    d.lastDelivery,
		LastError:       d.lastError,
		LastErrorAt:     d.lastErrorAt,
		ConfigProblem:   d.configProblem,
		Paused:          d.paused,
	}
}

func (d *Dispatcher) work(ctx context.Context) {
	bo := d.newBackoff()   // queue Get failures
	pace := d.newBackoff() // this worker's failed deliveries in a row
	for ctx.Err() == nil {
		if err := d.ensureConnected(ctx); err != nil {
			return // only ctx ends ensureConnected
		}
		it, ack, err := d.q.Get(ctx)
		if err == nil && ctx.Err() != nil {
			// A queue may hand out a ready item even with ctx done;
			// give it straight back rather than start a delivery.
			d.settle(ctx, it, ack, errShutdown)
			return
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, queue.ErrClosed) {
				return
			}
			if first := d.recordError(err); first {
				d.log.Warn("queue get failed; retrying with backoff", "error", err)
			}
			if d.sleep(ctx, bo.next()) != nil {
				return
			}
			continue
		}
		bo.reset()
		d.inFlight.Add(1)
		res, retryAfter := d.deliver(ctx, it, ack)
		d.inFlight.Add(-1)
		switch res {
		case stopped:
			return
		case released:
			// The item waits in the queue; this worker waits too, so
			// that an exchange that fails everything is not stormed.
			if d.sleep(ctx, max(pace.next(), retryAfter)) != nil {
				return
			}
		default:
			pace.reset()
		}
	}
}

// result is how one delivery ended for the worker.
type result int

const (
	settled  result = iota // delivered or dead-lettered
	released               // given back for a later attempt: back off
	stopped                // the dispatcher is shutting down
)

// deliver makes one attempt (reconnecting first if the sink asks) and
// settles the lease: delivered, dead-lettered, or given back with a
// not-before time. For a released item it also returns the receiver's
// Retry-After, which the worker honours before its next Get. ctx stops
// the worker; the attempt itself runs until Shutdown cuts it off
// (sendCtx), so that one in flight at shutdown can finish.
func (d *Dispatcher) deliver(ctx context.Context, it *queue.Item, ack queue.AckFunc) (result, time.Duration) {
	sctx := d.sendCtx
	if sctx == nil { // not started through Start (tests)
		sctx = ctx
	}
	for {
		// A rejection of an attempt that started while delivery was
		// paused is held even if another item got through meanwhile: it
		// may have met the endpoint before it was fixed.
		pausedAtStart := d.pausedNow.Load()
		conn := d.conn.Load()
		err := d.sink.Send(sctx, it)
		if errors.Is(err, ErrNothingToSend) {
			// Nothing went to the exchange: no delivery to count or audit,
			// and no news about the exchange's health.
			d.settle(ctx, it, ack, nil)
			d.skipped.Add(1)
			return settled, 0
		}
		if sctx.Err() != nil {
			// Whatever Send returned, it was cut short by shutdown (or
			// succeeded just before it); success is settled as success.
			if err == nil {
				d.settle(ctx, it, ack, nil)
				d.succeeded(it)
				d.notifyDelivered(it)
				return settled, 0
			}
			// The request may have reached the exchange, which may still
			// be committing it: not re-sent, at the next start either,
			// before UnknownOutcomeDelay (the queue keeps the time).
			d.settle(ctx, it, ack, queue.NotBeforeDurable(errShutdown, d.until(d.opts.UnknownOutcomeDelay)))
			return stopped, 0
		}
		if err != nil && !queue.IsPermanent(err) && IsConflict(err) {
			if n := d.conflicted(it.ID); n > d.opts.ConflictRetries {
				err = queue.Permanent(&conflictsError{attempts: n, err: err})
			}
		}
		switch {
		case err == nil:
			d.settle(ctx, it, ack, nil)
			d.succeeded(it)
			d.notifyDelivered(it)
			return settled, 0
		case queue.IsPermanent(err):
			if hold, tripped := d.holdRejection(pausedAtStart); hold {
				d.retried.Add(1)
				d.recordError(err)
				if tripped {
					d.log.Error("delivery paused: the exchange rejected every item in a row; holding the rest instead of dead-lettering them until it accepts one",
						"in_a_row", d.opts.RejectLimit, "last_reason", d.describe(err))
				}
				d.settle(ctx, it, ack, queue.NotBefore(errHeld, d.until(d.retryDelay(it.Attempts))))
				return released, 0
			}
			d.reject(ctx, it, ack, err)
			return settled, 0
		case errors.Is(err, ErrNotConnected):
			// The connection this Send used, unless another worker has
			// connected again meanwhile.
			d.conn.CompareAndSwap(conn|1, conn&^1)
			if ctx.Err() != nil || d.ensureConnected(ctx) != nil {
				d.settle(ctx, it, ack, errShutdown)
				return stopped, 0
			}
			continue
		}
		d.retried.Add(1)
		if first := d.recordError(err); first {
			if hs := configtls.Diagnose(err); hs != nil {
				d.log.Error("exchange TLS problem; delivery paused until fixed, nothing is dropped", "problem", string(hs.Problem), "hint", hs.Hint)
			} else {
				d.log.Warn("delivery failing; retrying with backoff", "item", it.ID, "error", d.describe(err))
			}
		}
		now := d.now()
		if age, expired := d.expired(it, now); expired {
			d.reject(ctx, it, ack, queue.Permanent(&expiredError{age: age, err: err}))
			return settled, 0
		}
		wait := d.retryDelay(it.Attempts)
		ra, hasRA := RetryAfterOf(err)
		if hasRA {
			ra = min(ra, MaxRetryAfter)
			wait = max(wait, ra)
		}
		if outcomeUnknown(sctx, err) {
			// The exchange may still be committing the first attempt;
			// the wait holds across a restart.
			wait = max(wait, d.opts.UnknownOutcomeDelay)
			d.settle(ctx, it, ack, queue.NotBeforeDurable(err, d.until(wait)))
			return released, ra
		}
		d.settle(ctx, it, ack, queue.NotBefore(err, d.until(wait)))
		return released, ra
	}
}

// conflicted counts a conflict of the item id and returns how many it
// has had.
func (d *Dispatcher) conflicted(id string) int {
	d.statMu.Lock()
	defer d.statMu.Unlock()
	d.conflicts[id]++
	return d.conflicts[id]
}

// conflictsError is the reason an item is dead-lettered with after the
// receiver answered every one of its attempts' last ConflictRetries+1
// with a conflict. It wraps the last answer (a 409's OperationOutcome
// reaches the dead letter through queue.Outcomer).
type conflictsError struct {
	attempts int
	err      error
}

func (e *conflictsError) Error() string { return e.prefix() + e.err.Error() }

// Summary is Error without the receiver's free text.
func (e *conflictsError) Summary() string { return e.prefix() + Summary(e.err) }

func (e *conflictsError) Unwrap() error { return e.err }

func (e *conflictsError) prefix() string {
	if e.attempts <= 1 {
		return "conflict (not retried), answer: "
	}
	return fmt.Sprintf("conflict on %d attempts (retried %d times with backoff in case another write to the same resource raced it), last answer: ",
		e.attempts, e.attempts-1)
}

// expiredError is the reason an item is dead-lettered with after it
// failed for MaxAge while other items were delivered. It wraps the last
// answer, whose Summary alone (a 503, a timeout) would not say why a
// retryable failure was dead-lettered.
type expiredError struct {
	age time.Duration
	err error
}

func (e *expiredError) Error() string { return e.prefix() + e.err.Error() }

// Summary is Error without the receiver's free text.
func (e *expiredError) Summary() string { return e.prefix() + Summary(e.err) }

func (e *expiredError) Unwrap() error { return e.err }

func (e *expiredError) prefix() string {
	return fmt.Sprintf("retried for %s, last error: ", e.age.Round(time.Second))
}

// reject dead-letters it with err, a permanent error.
func (d *Dispatcher) reject(ctx context.Context, it *queue.Item, ack queue.AckFunc, err error) {
	d.deadLettered.Add(1)
	d.recordError(err)
	d.statMu.Lock()
	delete(d.failingSince, it.ID)
	delete(d.conflicts, it.ID)
	d.statMu.Unlock()
	d.log.Warn("delivery rejected; item dead-lettered", "item", it.ID, "source", it.Source, "reason", d.describe(err))
	d.settle(ctx, it, ack, err)
	if d.opts.OnRejected != nil {
		d.opts.OnRejected(it, err)
	}
}

// holdRejection is the breaker on permanent rejections: it counts one and
// reports whether the item is to be held rather than dead-lettered, and
// whether this rejection tripped the breaker. pausedAtStart is whether
// delivery was paused when the rejected attempt began.
func (d *Dispatcher) holdRejection(pausedAtStart bool) (hold, tripped bool) {
	d.statMu.Lock()
	defer d.statMu.Unlock()
	if d.paused || pausedAtStart {
		return true, false
	}
	d.rejectStreak++
	if d.rejectStreak <= d.opts.RejectLimit {
		return false, false
	}
	d.paused = true
	d.pausedNow.Store(true)
	return true, true
}

// failClock is an item's MaxAge clock: the time it has failed while
// other items were delivered, up to its failure at last.
type failClock struct {
	age  time.Duration
	last time.Time
}

// expired reports whether it has failed for MaxAge while other items were
// delivered, and for how long. It starts the item's clock at its first
// failure seen while deliveries flow, and at each such failure adds the
// time since the one before, unless the exchange was seen down between
// them (outageAt: another item failed while nothing was delivered), so
// that no outage of the whole exchange counts, neither one before the
// clock started nor one after: an item that failed for an hour on Friday
// and then through a weekend the exchange was down is not dead-lettered
// at its first retry on Monday.
func (d *Dispatcher) expired(it *queue.Item, now time.Time) (time.Duration, bool) {
	if d.opts.MaxAge <= 0 {
		return 0, false
	}
	d.statMu.Lock()
	defer d.statMu.Unlock()
	// Other items count as flowing when one was delivered within the
	// longest backoff (plus the first): a failing item is retried at
	// least that often, so this sees the exchange working around it.
	flowing := !d.lastDelivery.IsZero() && now.Sub(d.lastDelivery) <= d.opts.MaxInterval+d.opts.InitialInterval
	c, ok := d.failingSince[it.ID]
	if !ok {
		if flowing {
			d.failingSince[it.ID] = &failClock{last: now}
		} else {
			d.outageAt = now
		}
		return 0, false
	}
	if !flowing {
		// A quiet spell (nothing to deliver) counts once deliveries
		// are seen again, unless an outage is seen meanwhile.
		return c.age, false
	}
	if !d.outageAt.After(c.last) {
		c.age += now.Sub(c.last)
	}
	c.last = now
	return c.age, c.age >= d.opts.MaxAge
}

// retryDelay is how long an item that failed after attempts earlier
// attempts waits before the next: exponential in its attempts (the
// queue's persisted count, so the backoff survives restarts), with equal
// jitter, uniform in [c/2, c]: unlike the workers' full jitter it never
// makes an item due again at once, since an item that always fails sorts
// first in the queue and would otherwise keep taking the workers.
func (d *Dispatcher) retryDelay(attempts int) time.Duration {
	b := d.newBackoff()
	b.n = min(max(attempts, 0), 64)
	c := b.ceiling()
	half := c / 2
	return c - half + time.Duration(d.rand(int64(half)+1))
}

// outcomeUnknown reports whether err leaves open whether the exchange got
// and applied the request: a timeout, or the connection reset, closed
// (EOF), or given up by this machine (aborted or timed out, as Windows
// reports it) where an answer was due, or an answer that says so
// (OutcomeUnknowner: a gateway's 504). A refused connection or an HTTP status
// is an answer. ctx is the dispatcher's: a cancellation it did not cause
// came from the sink's own watchdog, a timeout too.
func outcomeUnknown(ctx context.Context, err error) bool {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), neterr.ConnReset(err),
		neterr.ConnAborted(err), neterr.TimedOut(err):
		return true
	case errors.Is(err, context.Canceled) && ctx.Err() == nil:
		return true
	}
	var ou OutcomeUnknowner
	if errors.As(err, &ou) && ou.OutcomeUnknown() {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ensureConnected returns nil once the sink is connected, retrying Connect
// with backoff; only ctx ending stops it. Workers share one connection
// attempt at a time.
func (d *Dispatcher) ensureConnected(ctx context.Context) error {
	if d.connected() {
		return nil
	}
	d.connMu.Lock()
	defer d.connMu.Unlock()
	bo := d.newBackoff()
	for !d.connected() {
		err := d.sink.Connect(ctx)
		if err == nil {
			d.conn.Store((d.conn.Load()>>1+1)<<1 | 1)
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.connectFailures.Add(1)
		if first := d.recordError(fmt.Errorf("connect: %w", err)); first {
			if hs := configtls.Diagnose(err); hs != nil {
				d.log.Error("exchange TLS problem; delivery paused until fixed, nothing is dropped", "problem", string(hs.Problem), "hint", hs.Hint)
			} else {
				d.log.Warn("connect failing; retrying with backoff", "error", d.describe(err))
			}
		}
		if err := d.sleep(ctx, bo.next()); err != nil {
			return err
		}
	}
	return nil
}

// connected reports whether the sink is connected (see conn).
func (d *Dispatcher) connected() bool { return d.conn.Load()&1 == 1 }

func (d *Dispatcher) settle(ctx context.Context, it *queue.Item, ack queue.AckFunc, err error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	if aerr := ack(actx, err); aerr != nil {
		// The queue keeps the item: a lease it could not settle is
		// redelivered at the next start, and one whose dead letter could
		// not be written (a full disk) after a delay.
		d.log.Error("settle queue item failed; it will be redelivered", "item", it.ID, "error", aerr)
	}
}

func (d *Dispatcher) notifyDelivered(it *queue.Item) {
	if d.opts.OnDelivered != nil {
		d.opts.OnDelivered(it)
	}
}

func (d *Dispatcher) succeeded(it *queue.Item) {
	d.delivered.Add(1)
	d.statMu.Lock()
	d.lastDelivery = d.now()
	wasFailing, wasPaused := d.failing, d.paused
	d.failing = false
	d.configProblem = ""
	d.rejectStreak = 0
	if wasPaused {
		d.paused = false
		d.pausedNow.Store(false)
	}
	if len(d.failingSince) > 0 {
		delete(d.failingSince, it.ID)
	}
	if len(d.conflicts) > 0 {
		delete(d.conflicts, it.ID)
	}
	d.statMu.Unlock()
	if wasPaused {
		d.log.Info("delivery resumed: the exchange accepted an item; rejections are dead-lettered again")
	} else if wasFailing {
		d.log.Info("delivery recovered", "attempts", it.Attempts+1)
	}
}

// recordError stores err for Stats and reports whether it starts a failing
// streak (so only the first failure of an outage is logged).
func (d *Dispatcher) recordError(err error) (first bool) {
	d.statMu.Lock()
	defer d.statMu.Unlock()
	first = !d.failing
	d.failing = true
	d.lastError = d.describe(err)
	d.lastErrorAt = time.Now()
	d.configProblem = ""
	var op operatorProblem
	switch hs := configtls.Diagnose(err); {
	case hs != nil:
		d.configProblem = fmt.Sprintf("%s: %s", hs.Problem, hs.Hint)
	case errors.As(err, &op) && op.ConfigProblem() != "":
		d.configProblem = op.ConfigProblem()
	case d.paused:
		d.configProblem = fmt.Sprintf("delivery paused: the exchange rejected %d items in a row and accepted none since; "+
			"this looks like an endpoint or account problem (exchange.url, the client certificate's rights), not bad data. "+
			"Items are held, not dead-lettered, and retried; delivery resumes by itself once the exchange accepts one", d.opts.RejectLimit)
	}
	return first
}

// operatorProblem is implemented by errors that retrying alone will not
// fix, such as queued data sealed with a key that is not configured
// (seal.KeyMismatchError, diskq.ErrNoKey). Their text names no PHI; an
// empty one says this error of the type is not such a problem.
type operatorProblem interface {
	error
	ConfigProblem() string
}

func (d *Dispatcher) describe(err error) string {
	if d.opts.LogPHI {
		return err.Error()
	}
	return Summary(err)
}

func sleepCtx(ctx context.Context, dur time.Duration) error {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff is exponential with full jitter (AWS Architecture Blog,
// "Exponential Backoff And Jitter"): spreading retries uniformly avoids a
// thundering herd of clinics when an exchange comes back.
type backoff struct {
	initial, max time.Duration
	n            int
	rand         func(int64) int64
}

func (d *Dispatcher) newBackoff() *backoff {
	return &backoff{initial: d.opts.InitialInterval, max: d.opts.MaxInterval, rand: d.rand}
}

func (b *backoff) reset() { b.n = 0 }

func (b *backoff) next() time.Duration {
	ceiling := b.ceiling()
	if b.n < 64 {
		b.n++
	}
	return time.Duration(b.rand(int64(ceiling))) + 1
}

// ceiling is min(max, initial·2ⁿ), without overflow.
func (b *backoff) ceiling() time.Duration {
	ceiling := b.initial
	for i := 0; i < b.n && ceiling < b.max; i++ {
		if ceiling > b.max/2 {
			ceiling = b.max
			break
		}
		ceiling *= 2
	}
	return min(ceiling, b.max)
}
