package sftpdrop

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ferry-health/ferry/config/configssh/sshtest"
	"github.com/ferry-health/ferry/queue"
)

// TestPartOfItemDeliveredDuringScanRemoved: after a restart the first
// worker's Connect searches the directory for the .part files the killed
// process left, while the other workers, finding the session made, send
// at once, the item that was being written when it was killed among the
// first. Delivered before the listing came back, that item's old .part
// was noted after its delivery had looked for it, and stayed on the
// server for good, half a bundle under a hidden name. It is now removed
// once the listing shows it.
func TestPartOfItemDeliveredDuringScanRemoved(t *testing.T) {
	f := newFixture(t)
	const id = "01KB2Y8N6ZQ3J4W5X7V9R0T1SA"
	old := "." + id + ".json.2x9ug2nf17t05.part"
	if err := os.WriteFile(filepath.Join(f.dir, old), []byte(`{"resourceType":`), 0o644); err != nil {
		t.Fatal(err)
	}
	listed := make(chan struct{})
	requests := f.site.Server.Delay(func(body []byte) <-chan struct{} {
		if body[0] == sshtest.FxpReaddir {
			return listed // a long listing, still coming
		}
		return nil
	})
	s := f.sink(t)
	ctx := context.Background()
	connected := make(chan error, 1)
	go func() { connected <- s.Connect(ctx) }()
	for typ := range requests {
		if typ == sshtest.FxpReaddir {
			break // the search is under way, the session there to send on
		}
	}
	// Another worker's Send, as at a start after a crash.
	if err := s.Send(ctx, &queue.Item{ID: id, Body: []byte(bundle)}); err != nil {
		t.Fatal(err)
	}
	close(listed)
	if err := <-connected; err != nil {
		t.Fatal(err)
	}
	if got, want := f.files(t), []string{id + ".json"}; !slices.Equal(got, want) {
		t.Errorf("drop directory holds %q, want %q", got, want)
	}
}
