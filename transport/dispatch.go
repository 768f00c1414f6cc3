package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/queue"
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
)

// errShutdown settles a lease that was in flight when the dispatcher
// stopped. It is an ordinary (not permanent) error, so the queue keeps the
// item and redelivers it; it is never deleted (OTel issue #15677 is the
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
}

// Stats is a snapshot of the dispatcher's counters, for the status page and
// /metrics. No field holds PHI unless LogPHI is set.
type Stats struct {
	Delivered       uint64 // items acknowledged by the destination
	Retried         uint64 // retryable failures (each followed by a wait)
	DeadLettered    uint64 // items settled as permanent failures
	ConnectFailures uint64 // failed Connect attempts
	InFlight        int64  // items currently leased
	Connected       bool
	// Failing is true from a failure until the next successful delivery.
	Failing      bool
	LastDelivery time.Time
	LastError    string // PHI-free summary of the last failure
	LastErrorAt  time.Time
	// ConfigProblem is the plain-words TLS diagnosis when the last failure
	// was a certificate or handshake problem, or the queue's report of data
	// sealed with a key that is not configured: it needs an operator, and
	// retrying alone will not fix it.
	ConfigProblem string
}

// Dispatcher moves items from a queue to a sink. See the package
// documentation for how Send's errors are handled.
//
//	Get ──► Send ──ok──────────► ack(nil)        delete
//	         │ ├─permanent────► ack(err)        dead-letter
//	         │ ├─ErrNotConnected► Connect (backoff) ─► Send again
//	         │ └─other─────────► wait (backoff, Retry-After) ─► Send again
//	         └─shutdown──────────► ack(errShutdown) redeliver after restart
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

	lifeMu  sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	connMu    sync.Mutex // serialises Connect across workers
	connected atomic.Bool

	delivered, retried, deadLettered, connectFailures atomic.Uint64
	inFlight                                          atomic.Int64

	statMu        sync.Mutex
	failing       bool
	lastDelivery  time.Time
	lastError     string
	lastErrorAt   time.Time
	configProblem string
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
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{
		q: q, sink: s, opts: opts, log: log,
		sleep: sleepCtx,
		rand:  rand.Int64N,
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
// sink. Items in flight are settled with a non-permanent error so the queue
// redelivers them. It is idempotent and safe without Start. Shut the
// dispatcher down before closing the queue, so that those settlements land.
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
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("shutdown dispatcher: %w", ctx.Err())
	}
	d.connected.Store(false)
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
		Retried:         d.retried.Load(),
		DeadLettered:    d.deadLettered.Load(),
		ConnectFailures: d.connectFailures.Load(),
		InFlight:        d.inFlight.Load(),
		Connected:       d.connected.Load(),
		Failing:         d.failing,
		LastDelivery:    d.lastDelivery,
		LastError:       d.lastError,
		LastErrorAt:     d.lastErrorAt,
		ConfigProblem:   d.configProblem,
	}
}

func (d *Dispatcher) work(ctx context.Context) {
	bo := d.newBackoff()
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
		d.deliver(ctx, it, ack)
		d.inFlight.Add(-1)
	}
}

// deliver holds the lease on it until the sink accepts it, rejects it
// permanently, or the dispatcher stops.
func (d *Dispatcher) deliver(ctx context.Context, it *queue.Item, ack queue.AckFunc) {
	bo := d.newBackoff()
	retries := 0
	for {
		err := d.sink.Send(ctx, it)
		if ctx.Err() != nil {
			// Whatever Send returned, it was cut short by shutdown (or
			// succeeded just before it); success is settled as success.
			if err == nil {
				d.settle(ctx, it, ack, nil)
				d.succeeded(retries)
				d.notifyDelivered(it)
				return
			}
			d.settle(ctx, it, ack, errShutdown)
			return
		}
		switch {
		case err == nil:
			d.settle(ctx, it, ack, nil)
			d.succeeded(retries)
			d.notifyDelivered(it)
			return
		case queue.IsPermanent(err):
			d.deadLettered.Add(1)
			d.recordError(err)
			d.log.Warn("delivery rejected; item dead-lettered", "item", it.ID, "source", it.Source, "reason", d.describe(err))
			d.settle(ctx, it, ack, err)
			if d.opts.OnRejected != nil {
				d.opts.OnRejected(it, err)
			}
			return
		case errors.Is(err, ErrNotConnected):
			d.connected.Store(false)
			if d.ensureConnected(ctx) != nil {
				d.settle(ctx, it, ack, errShutdown)
				return
			}
			continue
		}
		retries++
		d.retried.Add(1)
		if first := d.recordError(err); first {
			if hs := configtls.Diagnose(err); hs != nil {
				d.log.Error("exchange TLS problem; delivery paused until fixed, nothing is dropped", "problem", string(hs.Problem), "hint", hs.Hint)
			} else {
				d.log.Warn("delivery failing; retrying with backoff", "item", it.ID, "error", d.describe(err))
			}
		}
		wait := bo.next()
		if ra, ok := RetryAfterOf(err); ok && ra > wait {
			wait = min(ra, MaxRetryAfter)
		}
		if d.sleep(ctx, wait) != nil {
			d.settle(ctx, it, ack, errShutdown)
			return
		}
	}
}

// ensureConnected returns nil once the sink is connected, retrying Connect
// with backoff; only ctx ending stops it. Workers share one connection
// attempt at a time.
func (d *Dispatcher) ensureConnected(ctx context.Context) error {
	if d.connected.Load() {
		return nil
	}
	d.connMu.Lock()
	defer d.connMu.Unlock()
	bo := d.newBackoff()
	for !d.connected.Load() {
		err := d.sink.Connect(ctx)
		if err == nil {
			d.connected.Store(true)
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

func (d *Dispatcher) settle(ctx context.Context, it *queue.Item, ack queue.AckFunc, err error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	if aerr := ack(actx, err); aerr != nil {
		// The lease stays open; the queue redelivers it on restart.
		d.log.Error("settle queue item failed; it will be redelivered", "item", it.ID, "error", aerr)
	}
}

func (d *Dispatcher) notifyDelivered(it *queue.Item) {
	if d.opts.OnDelivered != nil {
		d.opts.OnDelivered(it)
	}
}

func (d *Dispatcher) succeeded(retries int) {
	d.delivered.Add(1)
	d.statMu.Lock()
	d.lastDelivery = time.Now()
	wasFailing := d.failing
	d.failing = false
	d.configProblem = ""
	d.statMu.Unlock()
	if wasFailing {
		d.log.Info("delivery recovered", "retries", retries)
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
	case errors.As(err, &op):
		d.configProblem = op.ConfigProblem()
	}
	return first
}

// operatorProblem is implemented by errors that retrying alone will not
// fix, such as queued data sealed with a key that is not configured
// (seal.KeyMismatchError, diskq.ErrNoKey). Their text names no PHI.
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
	ceiling := b.initial
	for i := 0; i < b.n && ceiling < b.max; i++ {
		if ceiling > b.max/2 {
			ceiling = b.max
			break
		}
		ceiling *= 2
	}
	ceiling = min(ceiling, b.max)
	if b.n < 64 {
		b.n++
	}
	return time.Duration(b.rand(int64(ceiling))) + 1
}
