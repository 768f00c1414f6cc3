package folder

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// TestResumedInOrderTaken: files waiting in processing/ (the queue was
// full, then ferry restarted, or a crash) were consumed again in the
// order the directory listing gave, not the order they were taken in,
// so an export series (an ADT feed's files, oldest first) reached the
// exchange shuffled: a patient's update before the registration it
// updates. They are now consumed oldest first, as they were taken (a
// rename keeps the time), a ranked set (WithRank) in its order.
func TestResumedInOrderTaken(t *testing.T) {
	for _, c := range []struct {
		names []string // oldest first
		opts  []Option
		want  string
	}{
		{[]string{"m.hl7", "c.hl7", "x.hl7", "a.hl7", "q.hl7", "b.hl7"}, nil, "m.hl7,c.hl7,x.hl7,a.hl7,q.hl7,b.hl7"},
		{[]string{"r.hl7", "k.hl7", "f.hl7", "z.hl7", "d.hl7", "h.hl7", "n.hl7", "e.hl7"}, nil, "r.hl7,k.hl7,f.hl7,z.hl7,d.hl7,h.hl7,n.hl7,e.hl7"},
	} {
		dir := t.TempDir()
		placeFiles(t, dir, c.names, time.Now().Add(-time.Hour))
		cfg := testConfig(dir)
		cfg.RetryInitial, cfg.RetryMax = time.Hour, time.Hour
		full := &recorder{fn: func(context.Context, int, adapters.Raw) error { return errors.New("queue is full") }}
		set := adapters.Settings{ID: "folder/test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		first, err := New(set, cfg, full, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Start(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "every file taken and waiting", func() bool { first.Rescan(); return first.Stats().Retrying == len(c.names) })
		if err := first.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}

		rec := &recorder{}
		startEngine(t, cfg, rec, c.opts...)
		waitFor(t, "all consumed after the restart", func() bool { return rec.count() == len(c.names) })
		if got := namesOf(rec.all()); got != c.want {
			t.Errorf("consumed after the restart %s, want %s", got, c.want)
		}
	}
}
