package diskq_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestFreezeSnapshot: copies of the queue's directory taken under Freeze
// while producers put (small items, spilled bodies) and a consumer acks,
// fails and dead-letters, each open as a whole queue that holds every item
// whose Put had returned before the Freeze began, unless it was settled by
// the time the Freeze ended: what a crash at that moment would leave. The
// segments are copied only as far as their extents, so the newest one's
// pre-zeroed space stays out.
func TestFreezeSnapshot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q")
	q, err := diskq.Open(dir, diskq.Options{SegmentBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	put := map[string]bool{}     // Put returned nil
	settled := map[string]bool{} // acked, or dead-lettered
	var wg sync.WaitGroup
	for p := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				id := fmt.Sprintf("p%d-%d", p, n)
				it := &queue.Item{ID: id, Key: fmt.Sprintf("k%d", n%5)}
				if n%6 == 1 {
					bw, err := q.CreateBody()
					if err != nil {
						t.Error(err)
						return
					}
					bw.Write([]byte(strings.Repeat("s", diskq.SpillBytes+n)))
					if err := bw.Close(); err != nil {
						t.Error(err)
						return
					}
					it.BodyFile = bw.Name()
				} else {
					it.Body = fmt.Appendf(nil, `{"id":%q,"pad":%q}`, id, strings.Repeat("x", 200+n%900))
				}
				if err := q.Put(ctx, it); err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				put[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			it, ack, err := q.Get(ctx)
			if err != nil {
				return
			}
			time.Sleep(200 * time.Microsecond) // slower than the producers: a backlog builds
			bg := context.Background()
			if n%11 == 3 {
				ack(bg, errors.New("exchange down")) // released, delivered again
				continue
			}
			// Marked before the ack: its record may be written at once.
			mu.Lock()
			settled[it.ID] = true
			mu.Unlock()
			if n%29 == 5 {
				ack(bg, queue.Permanent(errors.New("refused")))
			} else {
				ack(bg, nil)
			}
		}
	}()

	type snap struct {
		dir      string
		want     []string // put before the Freeze, not settled by its end
		extents  []diskq.Extent
		segFiles int
	}
	var snaps []snap
	for i := range 10 {
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		var before []string
		for id := range put {
			before = append(before, id)
		}
		mu.Unlock()
		s := snap{dir: filepath.Join(t.TempDir(), fmt.Sprintf("snap%d", i))}
		err := q.Freeze(func(extents []diskq.Extent) error {
			s.extents = extents
			return copyTree(dir, s.dir, extents)
		})
		if err != nil {
			cancel()
			wg.Wait()
			q.Close(context.Background())
			t.Fatalf("snapshot %d: %v", i, err)
		}
		mu.Lock()
		for _, id := range before {
			if !settled[id] {
				s.want = append(s.want, id)
			}
		}
		mu.Unlock()
		snaps = append(snaps, s)
	}
	cancel()
	wg.Wait()
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	waiting := 0
	for i, s := range snaps {
		if len(s.extents) == 0 {
			t.Fatalf("snapshot %d: no extents", i)
		}
		newest := s.extents[len(s.extents)-1]
		fi, err := os.Stat(filepath.Join(s.dir, filepath.Base(newest.Path)))
		if err != nil || fi.Size() != newest.Size {
			t.Errorf("snapshot %d: newest segment copied as %v (%v), extent %d", i, fi.Size(), err, newest.Size)
		}
		sq, err := diskq.Open(s.dir, diskq.Options{SegmentBytes: 256 << 10})
		if err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		if st := sq.Stats(); st.Corrupt != 0 {
			t.Errorf("snapshot %d: %d corrupt records", i, st.Corrupt)
		}
		have := map[string]bool{}
		dead, err := sq.DeadLetters()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dead {
			have[d.ID] = true
		}
		for sq.Len() > 0 {
			gctx, gcancel := context.WithTimeout(context.Background(), 5*time.Second)
			it, ack, err := sq.Get(gctx)
			gcancel()
			if err != nil {
				t.Fatalf("snapshot %d: get with %d left: %v", i, sq.Len(), err)
			}
			rc, err := it.OpenBody()
			if err != nil {
				t.Fatalf("snapshot %d: item %s: %v", i, it.ID, err)
			}
			if n, err := io.Copy(io.Discard, rc); err != nil || n != it.BodySize() {
				t.Errorf("snapshot %d: item %s: body read %d of %d bytes: %v", i, it.ID, n, it.BodySize(), err)
			}
			rc.Close()
			have[it.ID] = true
			ack(context.Background(), nil)
		}
		if st := sq.Stats(); st.Corrupt != 0 {
			t.Errorf("snapshot %d: %d corrupt records or body files", i, st.Corrupt)
		}
		if dead, err = sq.DeadLetters(); err != nil {
			t.Fatal(err)
		}
		for _, d := range dead {
			if d.Corrupt || strings.Contains(d.Reason, "corrupt") || strings.Contains(d.Reason, "missing") {
				t.Errorf("snapshot %d: item %s is a corrupt dead letter: %s", i, d.ID, d.Reason)
			}
		}
		missing := 0
		for _, id := range s.want {
			if !have[id] {
				missing++
				if missing < 5 {
					t.Errorf("snapshot %d: item %s was put before the freeze and not settled, and is not in it", i, id)
				}
			}
		}
		if missing > 0 {
			t.Errorf("snapshot %d: %d of %d items missing", i, missing, len(s.want))
		}
		waiting += len(s.want)
		sq.Close(context.Background())
	}
	if waiting == 0 {
		t.Error("no snapshot held an item waiting: the test proves nothing")
	}
}

// copyTree copies the queue directory src to dst, the segments as far as
// their extents (as a live backup's snapshot cuts them).
func copyTree(src, dst string, extents []diskq.Extent) error {
	cut := map[string]int64{}
	for _, e := range extents {
		cut[filepath.Base(e.Path)] = e.Size
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		if d.Name() == "LOCK" {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		var r io.Reader = in
		if n, ok := cut[d.Name()]; ok && filepath.Dir(p) == src {
			r = io.LimitReader(in, n)
		}
		_, err = io.Copy(out, r)
		return errors.Join(err, out.Close())
	})
}
