// Package queue defines ferry's durable buffer between the adapters, which
// put converted FHIR bundles in, and the transport, which takes them out and
// delivers them. Put returns only after the item is on disk (fsynced), so a
// source may acknowledge its input as soon as Put returns nil.
package queue

import (
	"context"
	"errors"
	"time"
)

// ErrFull is returned by Put when the queue is at its configured capacity.
var ErrFull = errors.New("queue is full")

// ErrClosed is returned by Put and Get after Close.
var ErrClosed = errors.New("queue is closed")

// Item is one unit of delivery: one FHIR Bundle.
type Item struct {
	// ID is a ULID assigned by Put when empty; it is reused as the Bundle
	// identifier so that a retried delivery is idempotent.
	ID string
	// Key orders delivery: items with the same Key (a patient key) are
	// delivered in Put order, one at a time. Empty keys are unordered.
	Key string
	// Source names the source that produced the item.
	Source string
	// Body is the FHIR Bundle as JSON.
	Body []byte
	// Attrs holds PHI-free facts (message type, control id, file name).
	Attrs map[string]string
	// Attempts counts earlier delivery attempts.
	Attempts int
	// Enqueued is when Put stored the item.
	Enqueued time.Time
}

// AckFunc settles a lease: nil deletes the item; an error for which
// IsPermanent is true moves it to the dead-letter store with the reason;
// any other error (shutdown included) returns it for redelivery with
// Attempts+1. An item is never deleted on an ordinary error.
type AckFunc func(ctx context.Context, err error) error

// Queue is a durable, at-least-once FIFO with per-key order.
type Queue interface {
	// Put stores it durably and returns only after fsync; ErrFull at capacity.
	Put(ctx context.Context, it *Item) error
	// Get leases the next deliverable item, blocking until one is ready or
	// ctx is done.
	Get(ctx context.Context) (*Item, AckFunc, error)
	// Len is the number of items stored and not yet settled.
	Len() int
	// Close releases the queue; leased items are redelivered on next open.
	Close(ctx context.Context) error
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that IsPermanent reports true for it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether err (or an error it wraps) was made by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
