package diskq

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestRetryEdit: the edit SetRetryEdit installs changes the body and the
// attributes of the item a retry puts back, sealed at rest like any
// other body; an edit that fails leaves the dead letter where it is.
func TestRetryEdit(t *testing.T) {
	key, err := seal.GenerateKeyFile(filepath.Join(t.TempDir(), "ferry.key"))
	if err != nil {
		t.Fatal(err)
	}
	q := open(t, t.TempDir(), Options{Key: key})
	defer closeQ(t, q)
	it := put(t, q, "k", 1)
	_, a := get(t, q)
	ack(t, a, queue.Permanent(errors.New("HTTP 422")))

	q.SetRetryEdit(func(*queue.Item) error { return errors.New("registry unreadable") })
	if err := q.Retry(context.Background(), it.ID); err == nil {
		t.Fatal("retry went on past a failed edit")
	}
	if dls, err := q.DeadLetters(); err != nil || len(dls) != 1 {
		t.Fatalf("dead letters after a failed edit: %d %v", len(dls), err)
	}
	q.SetRetryEdit(func(it *queue.Item) error {
		it.Body = []byte("edited")
		it.Attrs = maps.Clone(it.Attrs)
		it.Attrs["edited"] = "true"
		return nil
	})
	if err := q.Retry(context.Background(), it.ID); err != nil {
		t.Fatal(err)
	}
	got, a := get(t, q)
	if string(got.Body) != "edited" || got.Attrs["edited"] != "true" || got.Attrs["n"] != "1" {
		t.Errorf("retried item: body %q attrs %v", got.Body, got.Attrs)
	}
	ack(t, a, nil)
}
