package outbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

func TestSendWritesAtomicallyAndIdempotently(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	s := New(dir)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	it := &queue.Item{ID: "01JABCDEF0123456789XYZABCD", Body: []byte(`{"resourceType":"Bundle"}`)}
	for range 3 { // redelivery rewrites the same file
		if err := s.Send(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, it.ID+".json"))
	if err != nil || string(got) != string(it.Body) {
		t.Fatalf("read back %q, %v", got, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("%d entries in outbox (temporary files left?)", len(ents))
	}
	// Group-readable for the program that collects the bundles; nothing
	// for others.
	st, _ := os.Stat(filepath.Join(dir, it.ID+".json"))
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if st, _ := os.Stat(dir); runtime.GOOS != "windows" && st.Mode().Perm() != 0o750 {
		t.Errorf("outbox folder mode %v", st.Mode().Perm())
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUnsafeIDsArePermanent(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	s.Connect(context.Background())
	for _, id := range []string{"", "..", "../escape", "a/b", `a\b`, ".hidden"} {
		err := s.Send(context.Background(), &queue.Item{ID: id, Body: []byte("{}")})
		if !queue.IsPermanent(err) {
			t.Errorf("id %q: %v, want permanent", id, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written for unsafe ids")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.json")); err == nil {
		t.Error("path traversal wrote outside the outbox")
	}
}

func TestWriteFailureIsRetryable(t *testing.T) {
	// A missing directory stands in for any I/O failure (root ignores
	// permission bits, so a read-only directory would not fail here).
	s := New(filepath.Join(t.TempDir(), "never-created"))
	it := &queue.Item{ID: "01A", Body: []byte("{}")}
	err := s.Send(context.Background(), it)
	if queue.IsPermanent(err) || !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("send into a missing directory: %v, want ErrNotConnected", err)
	}
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), it); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(t.TempDir()).Send(ctx, &queue.Item{ID: "01A"}); err == nil {
		t.Fatal("send with a cancelled context succeeded")
	}
}
