package diskq

import (
	"context"
	"slices"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestPendingShowsAfter: the operator's view of waiting items (Pending,
// and Inspect beside a running gateway) shows each item's After keys, so
// a merge that waits for the retired patient's backlog shows what it
// waits for, not only its own key.
func TestPendingShowsAfter(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := &queue.Item{Key: "retired", Body: []byte(`{"n":1}`)}
	merge := &queue.Item{Key: "survivor", After: []string{"retired"}, Body: []byte(`{"n":2}`)}
	for _, it := range []*queue.Item{old, merge} {
		if err := q.Put(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	check := func(where string, p []Pending) {
		t.Helper()
		if len(p) != 2 || p[1].ID != merge.ID || p[1].Key != "survivor" || !slices.Equal(p[1].After, []string{"retired"}) || p[0].After != nil {
			t.Errorf("%s: %+v, want the merge after key retired", where, p)
		}
	}
	check("Pending", q.Pending(0))
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := Inspect(dir, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	check("Inspect", snap.Pending)
	p := q.Pending(0)
	p[1].After[0] = "changed"
	check("Pending after a caller changed its copy", q.Pending(0))
	q.Close(ctx)
}
