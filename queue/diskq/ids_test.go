package diskq

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// TestIDsKeepOrderWhenClockSetBack: with the wall clock set back an hour
// (an NTP step), and across a restart, every new item's id, and a spilled
// body's, sorts after the ids already queued, so the outbox's file names
// (the ids) keep the order items were queued in. ulid.Make stamped them
// an hour earlier, before the items already queued.
func TestIDsKeepOrderWhenClockSetBack(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	var ids []string
	for i := range 3 {
		ids = append(ids, put(t, q, "patient-1", i).ID)
	}
	back := func() time.Time { return time.Now().Add(-time.Hour) }
	q.ids.now = back
	for i := 3; i < 6; i++ {
		ids = append(ids, put(t, q, "patient-1", i).ID)
	}
	closeQ(t, q)

	// A restart with the clock still behind: the ids found in the log
	// keep the new ones after them.
	q = open(t, dir, Options{})
	defer closeQ(t, q)
	q.ids.now = back
	ids = append(ids, put(t, q, "patient-1", 6).ID)
	bw, err := q.CreateBody()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bw.Write([]byte(phi)); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	it := &queue.Item{Key: "patient-1", Source: "folder/fax", BodyFile: bw.Name()}
	if err := q.Put(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, it.ID)

	for i := 1; i < len(ids); i++ {
		if strings.Compare(ids[i-1], ids[i]) >= 0 {
			t.Fatalf("id %d (%s) does not sort after id %d (%s): %v", i, ids[i], i-1, ids[i-1], ids)
		}
	}
}

// TestIDSourceManyInOneMillisecond: with the clock stopped, ids still
// come out strictly increasing and distinct.
func TestIDSourceManyInOneMillisecond(t *testing.T) {
	s := newIDSource()
	at := time.Now()
	s.now = func() time.Time { return at }
	prev := s.next()
	for range 100000 {
		id := s.next()
		if id <= prev {
			t.Fatalf("%s after %s", id, prev)
		}
		prev = id
	}
}
