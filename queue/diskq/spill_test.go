package diskq_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// spill writes body into a new spill file of q and returns its path.
func spill(t *testing.T, q *diskq.Queue, body []byte) string {
	t.Helper()
	f, err := q.CreateBody()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func randomBody(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readAll(t *testing.T, it *queue.Item) []byte {
	t.Helper()
	r, err := it.OpenBody()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestSpilledBody puts a body as a file, gets it back streamable across a
// reopen, and checks that the file is gone once the item is acknowledged.
func TestSpilledBody(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q, err := diskq.Open(dir, diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := randomBody(1, 3<<20+17)
	it := &queue.Item{Key: "k", Source: "fax/in", BodyFile: spill(t, q, body), Attrs: map[string]string{"format": "fax"}}
	if err := q.Put(ctx, it); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.Bytes < int64(len(body)) || s.DiskBytes < s.Bytes {
		t.Errorf("Stats.Bytes = %d, DiskBytes = %d, want at least the body's %d, and DiskBytes at least Bytes", s.Bytes, s.DiskBytes, len(body))
	}
	if p := q.Pending(0); len(p) != 1 || p[0].Size < int64(len(body)) {
		t.Errorf("Pending = %+v", p)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if snap, err := diskq.Inspect(dir, "", 10); err != nil || snap.Stats.Depth != 1 || snap.Stats.Bytes < int64(len(body)) || snap.Stats.DiskBytes < snap.Stats.Bytes {
		t.Fatalf("Inspect = %+v, %v", snap, err)
	}

	q, err = diskq.Open(dir, diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	got, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Body != nil || got.Open == nil || got.Size != int64(len(body)) || got.BodySize() != int64(len(body)) {
		t.Fatalf("got Body %d bytes, Open %v, Size %d", len(got.Body), got.Open != nil, got.Size)
	}
	if got.ID != it.ID || got.Key != "k" || got.Source != "fax/in" || got.Attrs["format"] != "fax" {
		t.Errorf("metadata changed: %+v", got)
	}
	for range 2 { // Open starts over each time
		if b := readAll(t, got); !bytes.Equal(b, body) {
			t.Fatalf("body differs (%d bytes, want %d)", len(b), len(body))
		}
	}
	if err := ack(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := dirNames(t, filepath.Join(dir, "bodies")); len(n) != 0 {
		t.Errorf("body files left after the ack: %v", n)
	}
	if s := q.Stats(); s.Bytes != 0 || s.Depth != 0 {
		t.Errorf("stats after ack: %+v", s)
	}
}

// TestSpilledBodyRules covers the edges: MaxBytes counts the file (one
// larger than MaxBytes is refused for good), a file
// from elsewhere is refused (and left alone), a refused spill file is
// removed, and a file that vanished from under the queue is reported as
// a corrupt item rather than delivered empty.
func TestSpilledBodyRules(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q, err := diskq.Open(dir, diskq.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)

	// An item the queue could not hold even empty is refused for good,
	// naming the setting, and the queue is not full: it said "full"
	// (and /readyz not ready) while empty, and the source retried the
	// item for ever.
	big := spill(t, q, randomBody(2, 2<<20))
	err = q.Put(ctx, &queue.Item{BodyFile: big})
	if !queue.IsPermanent(err) || errors.Is(err, queue.ErrFull) || !strings.Contains(err.Error(), "queue.max_bytes") {
		t.Fatalf("Put over MaxBytes = %v, want a permanent error naming queue.max_bytes", err)
	}
	if s := q.Stats(); s.Full != "" || s.FullRefusals != 0 {
		t.Fatalf("an empty queue after an item too large for it: full %q, %d refusals", s.Full, s.FullRefusals)
	}
	if _, err := os.Stat(big); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused spill file kept: %v", err)
	}

	foreign := filepath.Join(t.TempDir(), "b-01FOREIGN")
	os.WriteFile(foreign, []byte("{}"), 0o600)
	if err := q.Put(ctx, &queue.Item{BodyFile: foreign}); err == nil {
		t.Fatal("Put took a file that CreateBody did not make")
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("foreign file touched: %v", err)
	}

	gone := spill(t, q, []byte(`{"resourceType":"Bundle"}`))
	it := &queue.Item{BodyFile: gone}
	if err := q.Put(ctx, it); err != nil {
		t.Fatal(err)
	}
	os.Remove(gone)
	if err := q.Put(ctx, &queue.Item{Body: []byte("next")}); err != nil {
		t.Fatal(err)
	}
	got, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ack(ctx, nil)
	if string(got.Body) != "next" {
		t.Fatalf("got %q, want the item after the broken one", got.Body)
	}
	dl, err := q.DeadLetter(it.ID)
	if err != nil || !dl.Corrupt {
		t.Fatalf("item with a missing body file: dead letter %+v, %v", dl, err)
	}
}

// TestSpilledDeadLetter dead-letters a spilled item and checks that its
// body is kept beside the dead letter, shown by DeadLetter, streamed by
// OpenDeadLetterBody, put back by Retry and removed by Purge.
func TestSpilledDeadLetter(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q, err := diskq.Open(dir, diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := randomBody(3, 1<<20+5)
	it := &queue.Item{Key: "p1", BodyFile: spill(t, q, body)}
	if err := q.Put(ctx, it); err != nil {
		t.Fatal(err)
	}
	_, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("exchange answered 400"))); err != nil {
		t.Fatal(err)
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := dirNames(t, filepath.Join(dir, "bodies")); len(n) != 0 {
		t.Errorf("queue body files left: %v", n)
	}
	list, err := q.DeadLetters()
	if err != nil || len(list) != 1 || list[0].Size != len(body) || list[0].Body != nil {
		t.Fatalf("DeadLetters = %+v, %v", list, err)
	}
	if err := q.Close(ctx); err != nil { // the dead letter survives a reopen
		t.Fatal(err)
	}
	q, err = diskq.Open(dir, diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	dl, err := q.DeadLetter(it.ID)
	if err != nil || !bytes.Equal(dl.Body, body) {
		t.Fatalf("DeadLetter body: %d bytes, %v", len(dl.Body), err)
	}
	r, size, err := q.OpenDeadLetterBody(it.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if size != int64(len(body)) || !bytes.Equal(b, body) {
		t.Fatalf("OpenDeadLetterBody: %d/%d bytes", len(b), size)
	}

	if err := q.Retry(ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	if n := dirNames(t, filepath.Join(dir, "dead")); len(n) != 0 {
		t.Errorf("dead-letter files left after Retry: %v", n)
	}
	got, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != it.ID || !bytes.Equal(readAll(t, got), body) {
		t.Fatal("retried item differs")
	}
	ack(ctx, queue.Permanent(errors.New("400 again")))
	if err := q.Purge(ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	if n := dirNames(t, filepath.Join(dir, "dead")); len(n) != 0 {
		t.Errorf("dead-letter files left after Purge: %v", n)
	}
}

// The spill crash test runs this binary as a child that spills, puts,
// delivers and dead-letters large bodies, reporting each durable event:
//
//	S        a spill file was written (its Put has not started)
//	P <id>   Put returned nil
//	D <id>   Get handed the item out
//	A <id>   ack(nil) and Sync returned
//	X <id>   ack(Permanent) and Sync returned: dead-lettered
//	E <msg>  something went wrong
//
// With FERRY_SPILL_MODE=orphan it only spills one file, reports S and
// waits to be killed: a crash between spill and Put.
const (
	spillDirEnv  = "FERRY_SPILL_CRASH_DIR"
	spillModeEnv = "FERRY_SPILL_MODE"
	spillKeyEnv  = "FERRY_SPILL_SEALED"
)

// spillOpts are the spill crash test's queue options; sealed adds a key.
func spillOpts(sealed bool) diskq.Options {
	o := diskq.Options{SegmentBytes: 64 << 10}
	if sealed {
		o.Key = crashKey()
	}
	return o
}

func spillSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

func TestSpillCrashChild(t *testing.T) {
	dir := os.Getenv(spillDirEnv)
	if dir == "" {
		t.Skip("helper process for TestSpillCrashKill9")
	}
	var outMu sync.Mutex
	emit := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		outMu.Lock()
		os.Stdout.WriteString(line)
		outMu.Unlock()
	}
	q, err := diskq.Open(dir, spillOpts(os.Getenv(spillKeyEnv) != ""))
	if err != nil {
		emit("E open: %v", err)
		os.Exit(3)
	}
	ctx := context.Background()
	writeSpill := func(seed uint64) (string, string, error) {
		body := randomBody(seed, 64<<10+int(seed%(1<<20)))
		f, err := q.CreateBody()
		if err != nil {
			return "", "", err
		}
		_, err = f.Write(body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return f.Name(), spillSum(body), err
	}
	if os.Getenv(spillModeEnv) == "orphan" {
		if _, _, err := writeSpill(uint64(time.Now().UnixNano())); err != nil {
			emit("E spill: %v", err)
		}
		emit("S")
		time.Sleep(time.Minute)
		return
	}
	emit("R")
	for p := range 3 {
		go func() {
			for n := uint64(0); ; n++ {
				name, sum, err := writeSpill(uint64(time.Now().UnixNano()) + uint64(p))
				if err != nil {
					emit("E spill: %v", err)
					return
				}
				emit("S")
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // widen the window
				it := &queue.Item{Key: fmt.Sprintf("p%d", p), BodyFile: name, Attrs: map[string]string{"sum": sum}}
				if err := q.Put(ctx, it); err != nil {
					emit("E put: %v", err)
					return
				}
				emit("P %s", it.ID)
			}
		}()
	}
	go func() {
		for {
			it, ack, err := q.Get(ctx)
			if err != nil {
				emit("E get: %v", err)
				return
			}
			r, err := it.OpenBody()
			if err != nil {
				emit("E open body: %v", err)
				return
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil || spillSum(b) != it.Attrs["sum"] {
				emit("E item %s: body differs (%v)", it.ID, err)
				return
			}
			emit("D %s", it.ID)
			kind := "A"
			var aerr error
			if rand.IntN(3) == 0 {
				kind, aerr = "X", queue.Permanent(errors.New("exchange answered 400"))
			}
			if err := ack(ctx, aerr); err != nil {
				emit("E ack: %v", err)
				return
			}
			if err := q.Sync(ctx); err != nil {
				emit("E sync: %v", err)
				return
			}
			emit("%s %s", kind, it.ID)
		}
	}()
	time.Sleep(time.Minute)
	emit("E child was not killed")
}

// runSpillChild starts the child, waits for want lines of kind, kills it
// after a random delay and returns its lines.
func runSpillChild(t *testing.T, dir, mode string, sealed bool, kind string, want int, delay time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpillCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), spillDirEnv+"="+dir, spillModeEnv+"="+mode)
	if sealed {
		cmd.Env = append(cmd.Env, spillKeyEnv+"=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	lines := make(chan []string, 1)
	go func() {
		var got []string
		n := 0
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			got = append(got, sc.Text())
			if strings.HasPrefix(sc.Text(), kind) {
				if n++; n == want {
					close(ready)
				}
			}
		}
		if n < want {
			close(ready)
		}
		lines <- got
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("child made no progress")
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Drain the child's output before Wait, which closes the pipe.
	got := <-lines
	cmd.Wait()
	return got
}

// TestSpillCrashKill9 kills the child between spill and Put, and at random
// moments while it spills, puts, delivers and dead-letters, then checks:
// no body file is left that no item refers to, every item whose Put
// returned is still there with its body intact (or was delivered), and
// every dead letter keeps its body. It runs without and with a key.
func TestSpillCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs SIGKILL")
	}
	t.Run("plain", func(t *testing.T) { spillCrash(t, false) })
	t.Run("sealed", func(t *testing.T) { spillCrash(t, true) })
}

func spillCrash(t *testing.T, sealed bool) {
	dir := t.TempDir()
	ctx := context.Background()

	// A crash between spill and Put: the file is written, no record
	// refers to it. The next Open must delete it and find nothing queued.
	for _, l := range runSpillChild(t, dir, "orphan", sealed, "S", 1, 0) {
		if strings.HasPrefix(l, "E ") {
			t.Fatal(l)
		}
	}
	if n := dirNames(t, filepath.Join(dir, "bodies")); len(n) != 1 {
		t.Fatalf("after the kill bodies/ holds %v, want the one spill file", n)
	}
	q, err := diskq.Open(dir, spillOpts(sealed))
	if err != nil {
		t.Fatal(err)
	}
	if n := dirNames(t, filepath.Join(dir, "bodies")); len(n) != 0 || q.Len() != 0 {
		t.Fatalf("after Open: bodies/ %v, %d items; want an empty queue", n, q.Len())
	}
	q.Close(ctx)

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d", seed)
	put := map[string]bool{}
	delivered := map[string]bool{}
	acked := map[string]bool{}
	dead := map[string]bool{}
	// At least 10 cycles, and more (up to 40) while a busy machine has
	// not yet let the children put and dead-letter enough to judge.
	const cycles = 10
	for cycle := 0; cycle < cycles || cycle < 4*cycles && (len(put) < 20 || len(dead) < 3); cycle++ {
		lines := runSpillChild(t, dir, "", sealed, "P", 3, time.Duration(rng.IntN(150))*time.Millisecond)
		for _, l := range lines {
			kind, id, _ := strings.Cut(l, " ")
			switch kind {
			case "P":
				put[id] = true
			case "D":
				delivered[id] = true
			case "A":
				acked[id] = true
			case "X":
				dead[id] = true
			case "E":
				t.Fatalf("cycle %d: child: %s", cycle, id)
			}
		}
	}
	if len(put) < 20 || len(dead) < 3 {
		t.Fatalf("only %d puts and %d dead letters; the test did not exercise the queue", len(put), len(dead))
	}

	q, err = diskq.Open(dir, spillOpts(sealed))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	if s := q.Stats(); s.Corrupt != 0 {
		t.Fatalf("%d corrupt items after kill -9 crashes", s.Corrupt)
	}
	// No orphans: one body file per pending item, nothing else.
	if files, n := dirNames(t, filepath.Join(dir, "bodies")), q.Len(); len(files) != n {
		t.Errorf("bodies/ holds %d files for %d pending items", len(files), n)
	}
	pending := map[string]bool{}
	for q.Len() > 0 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if spillSum(readAll(t, it)) != it.Attrs["sum"] {
			t.Fatalf("item %s: body differs after crashes", it.ID)
		}
		if acked[it.ID] || dead[it.ID] {
			t.Fatalf("item %s came back after it was settled", it.ID)
		}
		pending[it.ID] = true
		if err := ack(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if files := dirNames(t, filepath.Join(dir, "bodies")); len(files) != 0 {
		t.Errorf("body files left after every item was acknowledged: %v", files)
	}
	for id := range put {
		if !pending[id] && !delivered[id] {
			t.Errorf("item %s: Put returned nil, but it is neither pending nor was it delivered", id)
		}
	}
	for id := range dead {
		dl, err := q.DeadLetter(id)
		if err != nil {
			t.Fatalf("dead letter %s: %v", id, err)
		}
		if len(dl.Body) == 0 || len(dl.Body) != dl.Size || spillSum(dl.Body) != dl.Attrs["sum"] {
			t.Errorf("dead letter %s: body of %d bytes (size %d) does not match what was put", id, len(dl.Body), dl.Size)
		}
	}
	for _, name := range dirNames(t, filepath.Join(dir, "dead")) {
		if base, ok := strings.CutSuffix(name, ".body"); ok {
			if _, err := os.Stat(filepath.Join(dir, "dead", base+".json")); err != nil {
				t.Errorf("dead/%s has no dead letter", name)
			}
		}
	}
	t.Logf("%d items put, %d delivered, %d acks and %d dead letters confirmed, %d pending at the end",
		len(put), len(delivered), len(acked), len(dead), len(pending))
}
