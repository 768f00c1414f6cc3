// Package transport delivers queued FHIR bundles to their destination. A
// Sink knows one destination (the exchange over HTTPS, a local outbox
// folder); the Dispatcher drives it from the queue: Get → Send → ack, with
// reconnects, exponential backoff with full jitter, Retry-After and
// dead-lettering of permanent failures, after the OpenTelemetry Collector's
// exporterhelper and Benthos' output lifecycle.
//
// Error contract for Send (ARCHITECTURE.md invariant 2):
//   - nil: delivered; the item is deleted from the queue.
//   - ErrNothingToSend: the item holds nothing this destination takes
//     (a later part of an HL7 v2 message another item forwards whole); it
//     is deleted like a delivered one, counted as skipped, and no Export
//     is audited for it.
//   - queue.Permanent(err): retrying cannot help (the exchange rejected the
//     content); the item goes to the dead-letter store with err as reason.
//   - ErrNotConnected: the dispatcher calls Connect (with backoff) and
//     sends the item again.
//   - anything else: retried with backoff. The lease is given back with a
//     not-before time (queue.NotBefore), and the queue keeps later items
//     with the same key waiting behind it (invariant 4) while other keys
//     move on. An error implementing RetryAfter() time.Duration sets the
//     minimum wait; a timeout or reset connection, or a gateway's answer
//     that it gave up waiting (OutcomeUnknowner), waits at least
//     DispatcherOptions.UnknownOutcomeDelay, so that a retry never races
//     an attempt the exchange may still be committing.
//   - a run of permanent rejections with no delivery in between trips a
//     breaker (DispatcherOptions.RejectLimit): later rejected items are
//     held and retried, not dead-lettered, until a delivery succeeds.
//   - an error that is a conflict (Conflicter, FHIR's 409) and not
//     permanent: retried with backoff like any other, but only
//     DispatcherOptions.ConflictRetries times; the next conflict
//     dead-letters the item, with a reason saying it was retried.
package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// Sink delivers items to one destination.
type Sink interface {
	// Connect prepares the sink; it is retried with backoff and ctx bounds
	// only this attempt.
	Connect(ctx context.Context) error
	// Send delivers it. See the package documentation for the meaning of
	// the returned error.
	Send(ctx context.Context, it *queue.Item) error
	// Close releases the sink's resources.
	Close(ctx context.Context) error
}

// ErrNothingToSend is returned by Send for an item it settles without
// sending anything (see the package documentation).
var ErrNothingToSend = errors.New("nothing to send to this destination")

// ErrNotConnected is returned by Send when the sink must (re)connect first.
var ErrNotConnected = errors.New("not connected")

// Conflicter is implemented by an error that may say the receiver
// refused the item because of a concurrent change to the same data rather
// than its content: FHIR servers answer 409 Conflict when two
// transactions race on one shared resource (a conditional update of the
// same Practitioner from two workers, a version conflict). Another
// attempt usually succeeds, so the dispatcher retries an item whose
// Send error has Conflict() true a bounded number of times
// (DispatcherOptions.ConflictRetries) before dead-lettering it.
type Conflicter interface {
	Conflict() bool
}

// IsConflict reports whether err, or an error it wraps, is a Conflicter
// whose Conflict is true.
func IsConflict(err error) bool {
	var c Conflicter
	return errors.As(err, &c) && c.Conflict()
}

// OutcomeUnknowner is implemented by an error that is an answer, yet one
// that leaves open whether the destination got and applied the item: a
// 504 Gateway Timeout from a proxy or load balancer in front of the
// exchange, which stopped waiting for it (RFC 9110 §15.6.5) while it may
// still be committing the transaction. The dispatcher waits at least
// DispatcherOptions.UnknownOutcomeDelay before the next attempt, as after
// a timeout of its own.
type OutcomeUnknowner interface {
	OutcomeUnknown() bool
}

// RetryAfterError is a retryable error for which the receiver asked for a
// minimum delay (HTTP Retry-After). The dispatcher waits at least After
// before the next attempt.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the requested delay.
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// RetryAfterOf returns the delay requested by err or any error it wraps
// that has a RetryAfter() time.Duration method.
func RetryAfterOf(err error) (time.Duration, bool) {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return ra.RetryAfter(), true
	}
	return 0, false
}

// Summary returns a PHI-free one-line description of err for logs, status
// pages and metrics: the Summary() of the first error in the chain that has
// one (sinks implement it on errors that carry receiver text, which may
// quote patient data), otherwise err.Error().
func Summary(err error) string {
	if err == nil {
		return ""
	}
	var s interface{ Summary() string }
	if errors.As(err, &s) {
		return s.Summary()
	}
	return err.Error()
}
