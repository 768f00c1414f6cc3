// Package queue defines ferry's durable buffer between the adapters, which
// put converted FHIR bundles in, and the transport, which takes them out and
// delivers them. Put returns only after the item is on disk (fsynced), so a
// source may acknowledge its input as soon as Put returns nil.
package queue

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// ErrFull is returned by Put when the queue is at its configured capacity,
// or (matched by errors.Is, the OS error wrapped) when the disk has no room
// for the item. Either way the item was not stored and may be put again
// later.
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
	// After names more keys the item is ordered under, besides Key: it
	// is handed out only once every item stored before it under any of
	// them is settled, and the items stored after it under any of them
	// wait for it. An HL7 v2 merge (ADT^A40) is keyed to the surviving
	// patient and comes after the retired patient's backlog: delivered
	// after the merge, that backlog would write the retired record back
	// (active again, its replaced-by link gone). Usually empty.
	// A key made by Behind only waits, without joining that key's order.
	// (At most MaxAfter of them.)
	After []string
	// Source names the source that produced the item.
	Source string
	// Body is the FHIR Bundle as JSON. It is nil when the body lives in a
	// file (Open on Get, BodyFile on Put); use OpenBody and BodySize to
	// read either kind.
	Body []byte
	// Open streams a body too large to hold in memory (a 200 MB fax); Get
	// sets it instead of Body for items stored as files. Each call starts
	// from the beginning, so a sink may retry; it is valid while the item
	// is leased.
	Open func() (io.ReadCloser, error)
	// Size is the length of the body Open streams.
	Size int64
	// BodyFile, on Put, names a file holding the body instead of Body. It
	// must come from the queue's own spill area (diskq.Queue.CreateBody);
	// Put takes it over whatever it returns: it fsyncs it before the item
	// counts as stored and deletes it once the item is settled.
	BodyFile string
	// Attrs holds PHI-free facts (message type, control id, file name).
	// AttrMissingOK is one the sink reads.
	Attrs map[string]string
	// Attempts counts earlier delivery attempts.
	Attempts int
	// Enqueued is when Put stored the item.
	Enqueued time.Time
}

// Behind marks an After key that the item only waits behind: it is handed
// out once every item stored before it under key is settled, but it does
// not join key's order, so the items stored after it under key do not wait
// for it, nor do the items behind one key wait for each other. An EHR
// export's directory resources (Organization, Practitioner) go under one
// key and the patients' resources behind it: nothing reaches the exchange
// before what it refers to (an exchange that checks references refuses
// it), and the patients still go in parallel. Behind("") is "".
func Behind(key string) string {
	if key == "" {
		return ""
	}
	return behindMark + key
}

// BehindKey returns the key an After key made by Behind waits behind,
// and whether it is one.
func BehindKey(k string) (string, bool) { return strings.CutPrefix(k, behindMark) }

// behindMark starts an After key made by Behind; no key a producer makes
// starts with a NUL. (A release that predates Behind reads such a key as
// an ordinary one: the item then waits in that key's order, later
// but not wrong.)
const behindMark = "\x00behind:"

// MaxAfter is the most keys an Item's After may name (a queue refuses
// more): a producer that could name more (an HL7 v2 merge retiring many
// records) refuses its input as content instead of failing every Put.
const MaxAfter = 64

// AttrMissingOK, set to "true" on an item that holds a batch, says that an
// entry the receiver answers 404 Not Found or 410 Gone has nothing left to
// do, so it counts as delivered: the PATCH that marks superseded the
// DocumentReference of a document a C-CDA or an HL7 v2 MDM message
// replaces, which the exchange never received (sent before ferry, or to
// another exchange). Every other failure counts as usual.
const AttrMissingOK = "missing_ok"

// AttrCreate, when set, says that the item's body is not a Bundle but one
// resource of the type it names, which the sink creates with a POST to
// [base]/<type> (IHE MHD Simplified Publish, ITI-105: a DocumentReference
// carrying its document inline). AttrIfNoneExist then holds the search
// that makes the create conditional (the If-None-Exist header), so that a
// redelivery after a lost answer finds the resource instead of filing it
// twice; both are content-derived and free of PHI.
const (
	AttrCreate      = "create"
	AttrIfNoneExist = "if_none_exist"
)

// BodyWriter is a body file being written for Item.BodyFile (from a
// queue's CreateBody): the queue may encrypt what is written, so the
// bytes reach the file only through Write, and Close must be called
// (it finishes the file) before the file is passed to Put by its Name.
// An *os.File satisfies it.
type BodyWriter interface {
	io.Writer
	Close() error
	Name() string
}

// BodySize is the length of the body, wherever it is held.
func (it *Item) BodySize() int64 {
	if it.Open != nil {
		return it.Size
	}
	return int64(len(it.Body))
}

// OpenBody streams the body from Body or Open, so that sinks need not care
// which one an item has.
func (it *Item) OpenBody() (io.ReadCloser, error) {
	if it.Open != nil {
		return it.Open()
	}
	return io.NopCloser(bytes.NewReader(it.Body)), nil
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
