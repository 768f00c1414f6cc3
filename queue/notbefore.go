package queue

import (
	"errors"
	"time"
)

// NotBefore wraps err, the reason an item could not be delivered yet, so
// that the AckFunc returns the item for redelivery (with Attempts+1, like
// any ordinary error) but keeps it, and the later items of its Key, from
// Get until at. A consumer backing off from a failing item hands its
// lease back this way instead of holding it while it waits, so the other
// keys keep moving with the same consumers; the item's key stays blocked
// meanwhile, so per-key order holds.
//
// The time is a hint kept in memory only: a queue reopened after a
// restart may deliver the item at once (a restart to apply a fixed
// setting retries at once). NotBeforeDurable asks for a wait that holds
// across a restart too. A queue that does not know
// NotBefore treats it as the ordinary error it wraps (redelivery at
// once), so the meaning of AckFunc is unchanged. Wrapping a Permanent
// error leaves it permanent.
func NotBefore(err error, at time.Time) error {
	if err == nil {
		err = errors.New("redelivery deferred")
	}
	return &notBeforeError{err: err, at: at}
}

// NotBeforeDurable is NotBefore for a wait that must hold across a
// restart too: after an attempt whose outcome is unknown, the exchange
// may still be committing it, and a re-send at the next start would race
// it. A durable queue keeps the time with the item (diskq writes it in
// the item's NACK record, without a sync of its own: a crash before that
// record is synced loses it, as it loses the attempt count).
func NotBeforeDurable(err error, at time.Time) error {
	if err == nil {
		err = errors.New("redelivery deferred")
	}
	return &notBeforeError{err: err, at: at, durable: true}
}

// NotBeforeDurableOf reports whether the NotBefore time in err's chain
// was asked for by NotBeforeDurable.
func NotBeforeDurableOf(err error) bool {
	var nb *notBeforeError
	return errors.As(err, &nb) && nb.durable
}

// NotBeforeOf returns the time asked for by NotBefore anywhere in err's
// chain.
func NotBeforeOf(err error) (time.Time, bool) {
	var nb *notBeforeError
	if errors.As(err, &nb) {
		return nb.at, true
	}
	return time.Time{}, false
}

type notBeforeError struct {
	err     error
	at      time.Time
	durable bool
}

func (e *notBeforeError) Error() string { return e.err.Error() }
func (e *notBeforeError) Unwrap() error { return e.err }
