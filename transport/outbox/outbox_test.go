package outbox

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/durable"
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

// TestConnectRemovesCrashLeftovers: temporary files a crashed run left
// (.<ID>.json.tmp-*, older than this process) are removed when the sink
// connects; one being written now, and every other file, stays.
func TestConnectRemovesCrashLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	old := processStart.Add(-time.Hour)
	write := func(name string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(`{"resourceType":"Bundle"`), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(".01JOLDCRASH0000000000000A.json.tmp-123456789", old)
	write(".01JOLDCRASH0000000000000B.json.tmp-987654321", old)
	keep := []string{
		"01JDELIVERED000000000000A.json",        // a delivered bundle not yet taken
		".reader-cursor.tmp-1",                  // the reading program's own file
		"notes.json.tmp-1",                      // not a dot-name: not ours
		".01JNEWWRITE0000000000000A.json.tmp-5", // younger than the process
	}
	write(keep[0], old)
	write(keep[1], old)
	write(keep[2], old)
	write(keep[3], time.Now())
	if err := os.Mkdir(filepath.Join(dir, ".01JDIR.json.tmp-1"), 0o750); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, ".01JDIR.json.tmp-1")
	// A write in progress in this process (a Send interrupted here).
	pending, err := durable.Create(filepath.Join(dir, "01JINFLIGHT00000000000000A.json"), 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Abort()
	keep = append(keep, filepath.Base(pending.Name()))

	s := New(dir)
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	slices.Sort(keep)
	if !slices.Equal(names, keep) {
		t.Errorf("outbox holds %q, want %q", names, keep)
	}
}

// TestConnectSparesSendsInProgress: the clean-up Connect runs, run while
// a Send is streaming its body, leaves that Send's temporary file alone,
// whatever its age. (It calls the clean-up itself: a second Connect also
// replaces the sync group, which fails a Send committing at that moment,
// retryably.)
func TestConnectSparesSendsInProgress(t *testing.T) {
	defer func(p time.Time) { processStart = p }(processStart)
	processStart = time.Now().Add(time.Hour) // every file counts as old
	dir := filepath.Join(t.TempDir(), "outbox")
	s := New(dir)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	pr, pw := io.Pipe()
	body := []byte(`{"resourceType":"Bundle","type":"transaction"}`)
	it := &queue.Item{ID: "01JSLOW0000000000000000000", Size: int64(len(body)), Open: func() (io.ReadCloser, error) { return pr, nil }}
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, it) }()
	pw.Write(body[:10]) // returns once the Send has taken it: the temporary file exists
	s.mu.Lock()
	removeLeftovers(dir, processStart, s.writing)
	s.mu.Unlock()
	pw.Write(body[10:])
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("send interrupted by Connect: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, it.ID+".json")); err != nil || string(got) != string(body) {
		t.Fatalf("read back %q, %v", got, err)
	}
}
