package diskq

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// crashImage copies the queue directory as a crash would leave it for the
// next start: what the files hold now (the page cache included, as after
// kill -9), nothing that is only in memory. The LOCK file is left out.
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	img := t.TempDir()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." || rel == "LOCK" {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(img, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(img, rel), b, 0o600)
	})
	if err != nil {
		t.Fatalf("crash image of %s: %v", dir, err)
	}
	return img
}

// pauseSettle makes the settlement of the item with seq stop where its
// ACK record is about to be handed to the writer (the item already gone
// from memory), until the returned resume is called.
func pauseSettle(q *Queue, seq uint64) (paused <-chan struct{}, resume func()) {
	p, r := make(chan struct{}), make(chan struct{})
	fn := func(s uint64) {
		if s == seq {
			close(p)
			<-r
		}
	}
	q.hookSettle.Store(&fn)
	return p, func() { close(r) }
}

// pauseSync makes the next commit that holds a settlement stop before its
// fdatasync (its records written, not yet durable) until resume.
func pauseSync(q *Queue) (paused <-chan struct{}, resume func()) {
	p, r := make(chan struct{}), make(chan struct{})
	fn := func() {
		close(p)
		<-r
	}
	q.hookSync.Store(&fn)
	return p, func() { q.hookSync.Store(nil); close(r) }
}

// canceled is a context that is done already: Get with it hands out an
// item only if one is ready at that moment, and never waits.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func seqOf(t *testing.T, q *Queue, id string) uint64 {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	for seq, m := range q.items {
		if m.id == id {
			return seq
		}
	}
	t.Fatalf("item %s not in the queue", id)
	return 0
}

// TestAckOrderAcrossCrash is the interleaving behind per-key order across
// a crash: items 1 and 2 share a key (a patient); item 1 is delivered and
// acked, and the ack's ACK record has not reached the log yet. Were item
// 2 handed out then (its key free in memory), delivered and acked, its
// ACK record could be durable while item 1's is not: a crash there brings
// item 1 back after item 2 reached the exchange, and the older version
// of the patient's resource overwrites the newer. The queue must hand
// out item 2 only once item 1's ACK record is synced, so every crash
// image that lacks item 1's ACK still holds item 2 (delivered again after
// item 1, in order).
//
// The same goes for the second key of an item ordered After another
// key's backlog (a merge), for an operator's Purge of a waiting item and
// for a dead letter (whose file, written and synced before the ACK
// record, settles it at the restart: the crash image then holds item 2
// alone).
func TestAckOrderAcrossCrash(t *testing.T) {
	cases := []struct {
		name string
		// store puts the earlier and the later item; settle settles
		// the earlier one (leased by a Get unless purge).
		store func(t *testing.T, q *Queue) (first, second *queue.Item)
		purge bool
		dead  bool // item 1 is refused for good (dead-lettered)
	}{
		{name: "same key", store: func(t *testing.T, q *Queue) (*queue.Item, *queue.Item) {
			return put(t, q, "P1", 1), put(t, q, "P1", 2)
		}},
		{name: "after key", store: func(t *testing.T, q *Queue) (*queue.Item, *queue.Item) {
			// A merge keyed to the surviving patient P2 comes after
			// the retired patient P1's backlog.
			return put(t, q, "P1", 1), putAfter(t, q, "P2", []string{"P1"}, 2)
		}},
		{name: "purge", purge: true, store: func(t *testing.T, q *Queue) (*queue.Item, *queue.Item) {
			return put(t, q, "P1", 1), put(t, q, "P1", 2)
		}},
		{name: "dead letter", dead: true, store: func(t *testing.T, q *Queue) (*queue.Item, *queue.Item) {
			return put(t, q, "P1", 1), put(t, q, "P1", 2)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			q := open(t, dir, Options{})
			defer func() { closeQ(t, q) }()
			first, second := tc.store(t, q)

			// Item 1 settles (delivered, or purged by an operator) and
			// stops just before its ACK record goes to the writer.
			paused, resume := pauseSettle(q, seqOf(t, q, first.ID))
			settled := make(chan error, 1)
			if tc.purge {
				go func() { settled <- q.Purge(ctx, first.ID) }()
			} else {
				a := wantGet(t, q, first, "item 1")
				var err error
				if tc.dead {
					err = queue.Permanent(errors.New("HTTP 422"))
				}
				go func() { settled <- a(ctx, err) }()
			}
			<-paused

			// Item 2 must not be handed out now. Should it be, deliver
			// and ack it, make that durable and crash: item 1 comes
			// back after item 2 reached the exchange.
			if it, ack2, err := q.Get(canceled()); err == nil {
				if it.ID != second.ID {
					t.Fatalf("Get handed out %s, want nothing (or item 2)", it.ID)
				}
				if err := ack2(ctx, nil); err != nil {
					t.Fatal(err)
				}
				if err := q.Sync(ctx); err != nil {
					t.Fatal(err)
				}
				img := crashImage(t, dir)
				resume()
				if err := <-settled; err != nil {
					t.Fatal(err)
				}
				r := open(t, img, Options{})
				defer closeQ(t, r)
				if again, _, err := r.Get(canceled()); err == nil {
					t.Fatalf("after a crash, item %s (n %s) is delivered again although item 2 of its key, stored after it, was delivered and its ACK record is durable: older data would overwrite newer at the exchange",
						again.ID, again.Attrs["n"])
				}
				t.Fatalf("item 2 was handed out while item 1's ACK record was not in the log")
			}
			// A crash now delivers both again, in order (item 2
			// alone when item 1 has its dead letter).
			if tc.dead {
				wantAfterCrash(t, crashImage(t, dir), second)
			} else {
				wantAfterCrash(t, crashImage(t, dir), first, second)
			}

			// Item 1's ACK record is written but not synced: item 2 is
			// still not handed out.
			syncPaused, syncResume := pauseSync(q)
			resume()
			<-syncPaused
			if it, _, err := q.Get(canceled()); err == nil {
				t.Fatalf("item %s (n %s) handed out while item 1's ACK record was not synced", it.ID, it.Attrs["n"])
			}
			syncResume()
			if err := <-settled; err != nil {
				t.Fatal(err)
			}

			// Once it is synced, item 2 goes, and a crash afterwards
			// brings back only what is not settled.
			a2 := wantGet(t, q, second, "item 2")
			wantAfterCrash(t, crashImage(t, dir), second)
			ack(t, a2, nil)
			if err := q.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			wantAfterCrash(t, crashImage(t, dir))
			q.mu.Lock()
			keys := len(q.keys)
			q.mu.Unlock()
			if keys != 0 {
				t.Fatalf("%d keys left once everything is settled", keys)
			}
		})
	}
}

// wantAfterCrash opens the crash image img and checks that exactly want
// is delivered, in this order, each only once the one before is settled.
func wantAfterCrash(t *testing.T, img string, want ...*queue.Item) {
	t.Helper()
	r := open(t, img, Options{})
	defer closeQ(t, r)
	for i, w := range want {
		it, a, err := r.Get(canceled())
		if err != nil {
			t.Fatalf("after a crash, item %d of %d not ready: %v", i+1, len(want), err)
		}
		if it.ID != w.ID {
			t.Fatalf("after a crash, Get %s (n %s), want %s (n %s)", it.ID, it.Attrs["n"], w.ID, w.Attrs["n"])
		}
		if i+1 < len(want) {
			if it2, _, err := r.Get(canceled()); err == nil {
				t.Fatalf("after a crash, %s (n %s) handed out while %s is leased", it2.ID, it2.Attrs["n"], it.ID)
			}
		}
		ack(t, a, nil)
		if err := r.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if it, _, err := r.Get(canceled()); !errors.Is(err, context.Canceled) {
		t.Fatalf("after a crash, %v %v left, want nothing", it, err)
	}
}
