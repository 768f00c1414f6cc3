package diskq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/latency"
	"github.com/ferry-health/ferry/queue/seal"
)

// This file is the operations API behind `ferry status` and
// `ferry queue list|show|retry|purge`.

// Pending describes an unsettled item without its body.
type Pending struct {
	ID  string
	Key string
	// After is the item's queue.Item.After: the other keys (patient keys
	// or their pseudonyms, like Key) whose earlier items it waits for, an
	// HL7 v2 merge the retired patient's backlog. A copy.
	After    []string
	Attempts int
	Enqueued time.Time
	Size     int64 // stored size: the record, plus the body file of a spilled item
	Leased   bool
}

// Stats reports counts for the status page; it never touches the disk.
func (q *Queue) Stats() queue.Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := queue.Stats{
		Depth:        len(q.items),
		Leased:       q.leased,
		Bytes:        q.liveBytes,
		DeadLetters:  q.dead.count(),
		Corrupt:      q.corrupt,
		WriteErrors:  q.writeErrors.Load(),
		FullRefusals: q.fullRefusals,
	}
	// Full while the Put refused would still be: deliveries that have
	// made room for it end it, not only the next Put admitted (the queue
	// emptied overnight was shown full, and alerted, until input came).
	if q.fullReason != "" && (q.opts.MaxBytes > 0 && q.liveBytes+q.reserved+q.fullBytes > q.opts.MaxBytes ||
		q.opts.MaxItems > 0 && len(q.items)+q.reservedN+q.fullN > q.opts.MaxItems) {
		s.Full = q.fullReason
	}
	if q.lastWrite != nil {
		s.LastWriteError, s.LastWriteErrorAt = q.lastWrite.Error(), q.lastWAt
	}
	if q.failed != nil {
		s.Stopped = q.failed.Error()
	}
	// The log's segments and the spilled items' body files.
	s.DiskBytes = q.spillBytes
	for _, seg := range q.segs {
		s.DiskBytes += seg.size
	}
	if m := q.items[q.lowSeq]; m != nil {
		s.Oldest = time.Unix(0, m.enqueued)
	}
	return s
}

// WriteFailing returns the error of the last write to the log when it
// failed and none has worked since (see full.go: a full disk, which
// errors.Is matches to queue.ErrFull), or nil. Until one works again every
// Put that reaches the disk fails. It neither touches the disk nor waits
// for the writer, so a readiness probe answers while a write hangs.
func (q *Queue) WriteFailing() error {
	if !q.writeFailing.Load() {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lastWrite
}

// FlushLatency returns how long the commits took to reach the disk since
// open (each one's write and fdatasync): the disk's share of every
// acknowledgement (a sync covers every item written while the one before
// it ran).
func (q *Queue) FlushLatency() latency.Snapshot { return q.flushes.Snapshot() }

// Pending lists up to limit unsettled items (all when limit <= 0), oldest
// first.
func (q *Queue) Pending(limit int) []Pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	return pendingList(q.items, limit)
}

func pendingList(items map[uint64]*meta, limit int) []Pending {
	all := sortedBySeq(items)
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	out := make([]Pending, len(all))
	for i, m := range all {
		out[i] = Pending{ID: m.id, Key: m.key, After: slices.Clone(m.after()), Attempts: m.attempts, Enqueued: time.Unix(0, m.enqueued), Size: m.bytes(), Leased: m.leased}
	}
	return out
}

// DeadLetters lists the dead letters, oldest first, without bodies or
// outcomes (DeadLetter has both).
func (q *Queue) DeadLetters() ([]DeadLetter, error) { return q.dead.list() }

// DeadLetter returns one dead letter with its body (read into memory from
// its body file when it has one: this is for operators looking at it);
// ErrNotFound when none has this ID.
func (q *Queue) DeadLetter(id string) (*DeadLetter, error) {
	dl, err := q.dead.get(id)
	if err != nil || dl.BodyFile == "" {
		return dl, err
	}
	rc, err := q.dead.openBody(dl)
	if err == nil {
		dl.Body, err = io.ReadAll(rc)
		rc.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dead letter %s body: %w", id, err)
	}
	return dl, nil
}

// DeadLetterStream returns one dead letter without its body, and the body
// to stream (from its body file when it has one, so a large one is never
// read into memory); ErrNotFound when none has this ID.
func (q *Queue) DeadLetterStream(id string) (*DeadLetter, io.ReadCloser, error) {
	dl, err := q.dead.get(id)
	if err != nil {
		return nil, nil, err
	}
	if dl.BodyFile == "" {
		body := dl.Body
		dl.Body = nil
		return dl, io.NopCloser(bytes.NewReader(body)), nil
	}
	rc, err := q.dead.openBody(dl)
	if err != nil {
		return nil, nil, fmt.Errorf("dead letter %s body: %w", id, err)
	}
	return dl, rc, nil
}

// OpenDeadLetterBody streams the body of the dead letter with this ID,
// without reading a large one into memory.
func (q *Queue) OpenDeadLetterBody(id string) (io.ReadCloser, int64, error) {
	dl, err := q.dead.get(id)
	if err != nil {
		return nil, 0, err
	}
	if dl.BodyFile == "" {
		return io.NopCloser(bytes.NewReader(dl.Body)), int64(len(dl.Body)), nil
	}
	rc, err := q.dead.openBody(dl)
	if err != nil {
		return nil, 0, fmt.Errorf("dead letter %s body: %w", id, err)
	}
	return rc, int64(dl.Size), nil
}

// Retry puts a dead letter back into the queue (same ID, Attempts reset)
// and then removes it from the dead-letter store. A crash in between
// leaves both, which only means one more delivery.
func (q *Queue) Retry(ctx context.Context, id string) error {
	dl, err := q.dead.get(id)
	if err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	if dl.Corrupt {
		return fmt.Errorf("retry %s: dead letter has no body (its record was corrupt)", id)
	}
	it := &queue.Item{ID: dl.ID, Key: dl.Key, After: dl.After, Source: dl.Source, Body: dl.Body, Attrs: dl.Attrs}
	if dl.BodyFile != "" {
		it.Open = func() (io.ReadCloser, error) { return q.dead.openBody(dl) }
		it.Size = int64(dl.Size)
	}
	if edit := q.retryEdit.Load(); edit != nil {
		if err := (*edit)(it); err != nil {
			return fmt.Errorf("retry %s: %w", id, err)
		}
	}
	it.Open, it.Size = nil, 0
	if dl.BodyFile != "" && it.BodyFile == "" {
		// The dead letter keeps its own body file until it is removed:
		// the item gets a link (or copy) of it.
		f, err := q.createBodyFile()
		if err != nil {
			return fmt.Errorf("retry %s: %w", id, err)
		}
		f.Close()
		if err := keepSealed(q.opts.Key, q.dead.bodyPath(dl), f.Name(), dl.ID); err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("retry %s: body: %w", id, err)
		}
		it.BodyFile = f.Name()
	}
	// Put back with the seq it had, so that it counts as no newer item
	// of its patient to the dead letters and held bundles after it (an
	// A08 dead-lettered with its A01 is retried after it without --force).
	if err := q.putAll(ctx, []*queue.Item{it}, dl.Seq); err != nil {
		if it.BodyFile != "" {
			// Put takes the file over only once it is stored.
			os.Remove(it.BodyFile)
		}
		return fmt.Errorf("retry %s: %w", id, err)
	}
	// Only the dead letter put back: should the item have been delivered
	// and refused again already, its new dead letter stays.
	n, had := q.dead.name(id)
	if err := q.dead.removeSeq(id, dl.Seq); err != nil {
		return fmt.Errorf("retry %s: queued again, but the dead letter stays: %w", id, err)
	}
	if had && n.seq == dl.Seq {
		q.forgetDead(n)
	}
	return nil
}

// SetRetryEdit makes Retry (and RetrySafe) pass the item of each dead
// letter it puts back to edit, which may change its Body and Attrs
// (replacing the map, not writing into it) before it is queued again; an
// error leaves the dead letter where it is. It is how the gateway makes
// an old document version retried after its replacement superseded
// (pipeline.SupersedeReplaced): what is right to send can have changed
// since the item was converted. An item whose body is a file comes with
// Open and Size set and Body nil; to change that body, edit writes the
// new one into a file from CreateBody and names it by BodyFile (which
// Put then takes over, or Retry removes when Put fails).
func (q *Queue) SetRetryEdit(edit func(it *queue.Item) error) {
	if edit == nil {
		q.retryEdit.Store(nil)
		return
	}
	q.retryEdit.Store(&edit)
}

// Purge deletes the dead letter with this ID; when there is none, it
// drops the unsettled, unleased item with this ID from the queue. The
// item is gone for good: Purge is for operators, never for the pipeline.
func (q *Queue) Purge(ctx context.Context, id string) error {
	n, had := q.dead.name(id)
	err := q.dead.remove(id)
	if err == nil && had {
		q.forgetDead(n)
	}
	if err == nil || !errors.Is(err, ErrNotFound) {
		return err
	}
	q.mu.Lock()
	var found *meta
	for _, m := range q.items {
		if m.id == id {
			found = m
			break
		}
	}
	if found == nil {
		q.mu.Unlock()
		return fmt.Errorf("purge %q: %w", id, ErrNotFound)
	}
	if found.leased {
		q.mu.Unlock()
		return fmt.Errorf("purge %q: item is being delivered", id)
	}
	q.mu.Unlock()
	// Checked again where the item is removed: a Get may have leased it
	// (or an ack settled it) since.
	err = q.settleIf(found, func() error {
		switch {
		case q.items[found.seq] != found:
			return ErrNotFound
		case found.leased:
			return errors.New("item is being delivered")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("purge %q: %w", id, err)
	}
	return q.Sync(ctx)
}

// Snapshot is a read-only view of a queue directory.
type Snapshot struct {
	Stats   queue.Stats
	Pending []Pending // oldest first, at most the limit given to Inspect
}

// Inspect reads the queue in dir (with its dead letters in deadLetterDir,
// "" for the default) without taking its lock or changing any file, so
// `ferry status` can run beside a gateway that has it open. Items the
// owner is writing or settling at that moment may be counted either way;
// leases are not visible from outside.
func Inspect(dir, deadLetterDir string, limit int) (*Snapshot, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("inspect queue: %w", err)
	}
	st, err := replay(dir, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return nil, fmt.Errorf("inspect queue %s: %w", dir, err)
	}
	defer st.close()
	dead, err := openDeadStore(deadDir(dir, deadLetterDir), false, nil)
	if err != nil {
		return nil, fmt.Errorf("inspect queue %s: %w", dir, err)
	}
	for seq, m := range st.items {
		if dead.has(m.id, seq) {
			delete(st.items, seq)
		}
	}
	snap := &Snapshot{Stats: queue.Stats{Depth: len(st.items), DeadLetters: dead.count(), Corrupt: st.corrupt}}
	for _, m := range st.items {
		snap.Stats.Bytes += m.bytes()
		snap.Stats.DiskBytes += m.spillSize()
	}
	for _, s := range st.segs {
		snap.Stats.DiskBytes += s.size
	}
	snap.Pending = pendingList(st.items, limit)
	if len(st.items) > 0 {
		all := pendingList(st.items, 1)
		snap.Stats.Oldest = all[0].Enqueued
	}
	return snap, nil
}

// InspectDeadLetters lists the dead letters of the queue in dir (in
// deadLetterDir, "" for the default) without opening the queue. Sealed
// ones are listed by name only (DeadLetter.Sealed); see
// InspectDeadLettersKey.
func InspectDeadLetters(dir, deadLetterDir string) ([]DeadLetter, error) {
	return InspectDeadLettersKey(dir, deadLetterDir, nil)
}

// InspectDeadLetter reads one dead letter of the queue in dir (in
// deadLetterDir, "" for the default) without opening the queue, so
// `ferry queue show` can run beside a gateway: everything but the body,
// the receiver's Outcome included. key opens a sealed one (nil: none);
// ErrNotFound when none has this ID.
func InspectDeadLetter(dir, deadLetterDir string, key *seal.Key, id string) (*DeadLetter, error) {
	dead, err := openDeadStore(deadDir(dir, deadLetterDir), false, key)
	if err != nil {
		return nil, err
	}
	dl, err := dead.get(id)
	if err != nil {
		return nil, err
	}
	dl.Body = nil
	return dl, nil
}

// InspectDeadLettersKey is InspectDeadLetters for a queue with a key:
// dead letters sealed with it are read in full.
func InspectDeadLettersKey(dir, deadLetterDir string, key *seal.Key) ([]DeadLetter, error) {
	dead, err := openDeadStore(deadDir(dir, deadLetterDir), false, key)
	if err != nil {
		return nil, err
	}
	return dead.list()
}
