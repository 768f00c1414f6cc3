package diskq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/queuetest"
)

// The disk-full tests fill the disk for real: RLIMIT_FSIZE makes every
// write at or beyond the limit fail with EFBIG (a write across it is cut
// short), exactly where a full file system would say ENOSPC. The limit is
// per process, so each scenario runs in a child process (this test binary
// again, as TestDiskFullChild), which reports on stdout, one line each:
//
//	P <id> <n>  Put returned nil
//	F <id>      Put failed (as it should, the disk being full)
//	A <id>      the item was acknowledged and Sync returned after it
//
// The parent then reopens the queue and checks that exactly the P items
// that were not acknowledged are there, each once, and that replay finds
// no damage.
const (
	fullDirEnv      = "FERRY_DISKQ_FULL_DIR"
	fullScenarioEnv = "FERRY_DISKQ_FULL_SCENARIO"
)

func fullBody(n, size int) []byte {
	b := fmt.Appendf(nil, "item %d|", n)
	for len(b) < size {
		b = append(b, byte('a'+n%26))
	}
	return b
}

// fullChild is one scenario's state in the child process.
type fullChild struct {
	t    *testing.T
	dir  string
	logs logBuf
	mu   sync.Mutex
	n    int
}

func (c *fullChild) emit(format string, args ...any) {
	os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n") // one write per line
}

// put stores item n with a body of size bytes and reports the outcome.
func (c *fullChild) put(q *Queue, size int) (*queue.Item, error) { return c.putKey(q, "", size) }

// putKey is put for an item of key.
func (c *fullChild) putKey(q *Queue, key string, size int) (*queue.Item, error) {
	c.mu.Lock()
	c.n++
	n := c.n
	c.mu.Unlock()
	it := &queue.Item{Key: key, Body: fullBody(n, size), Attrs: map[string]string{"n": strconv.Itoa(n), "size": strconv.Itoa(size)}}
	err := q.Put(context.Background(), it)
	if err != nil {
		c.emit("F %s", it.ID)
		return it, err
	}
	c.emit("P %s %d", it.ID, n)
	return it, nil
}

// mustFail checks that a Put fails as a full disk should make it fail,
// and that the queue goes on.
func (c *fullChild) mustFail(q *Queue, size int) {
	c.t.Helper()
	_, err := c.put(q, size)
	c.checkFull(q, err)
}

func (c *fullChild) checkFull(q *Queue, err error) {
	c.t.Helper()
	if err == nil {
		c.t.Fatal("Put on a full disk returned nil")
	}
	if !errors.Is(err, queue.ErrFull) || !errors.Is(err, syscall.EFBIG) {
		c.t.Fatalf("Put on a full disk: %v; want queue.ErrFull wrapping EFBIG", err)
	}
	if qerr := q.Err(); qerr != nil {
		c.t.Fatalf("the queue stopped on a full disk: %v", qerr)
	}
	select {
	case <-q.Stopped():
		c.t.Fatal("Stopped closed on a full disk")
	default:
	}
}

func setFsize(t *testing.T, n uint64) {
	t.Helper()
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: n, Max: unix.RLIM_INFINITY}); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// writerEnd is where the next batch will be written.
func writerEnd(q *Queue) int64 {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	return q.cur.wend
}

// TestDiskFullChild is the child process of the TestDiskFull tests; run
// alone it skips.
func TestDiskFullChild(t *testing.T) {
	dir := os.Getenv(fullDirEnv)
	if dir == "" {
		t.Skip("helper process for the TestDiskFull tests")
	}
	// Beyond the limit the kernel also sends SIGXFSZ, which would kill us.
	signal.Ignore(syscall.SIGXFSZ)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &lim); err != nil || lim.Max != unix.RLIM_INFINITY {
		c := &fullChild{t: t}
		c.emit("SKIP the hard RLIMIT_FSIZE is not unlimited (%v)", err)
		return
	}
	defer setFsize(t, unix.RLIM_INFINITY)
	c := &fullChild{t: t, dir: dir}
	switch os.Getenv(fullScenarioEnv) {
	case "prezeroed":
		c.prezeroed()
	case "rotation":
		c.rotation()
	case "shortzero":
		c.shortZero()
	case "heldcarry":
		c.heldCarry()
	case "reprobe":
		c.reprobe()
	default:
		t.Fatalf("unknown scenario %q", os.Getenv(fullScenarioEnv))
	}
}

// prezeroed: the disk fills while the newest segment still has written
// zeros ahead of the data.
func (c *fullChild) prezeroed() {
	t := c.t
	const body = 16 << 10
	q := open(t, c.dir, Options{Logger: c.logs.logger()})
	if _, err := c.put(q, body); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, c.dir)
	seg := segs[len(segs)-1]
	size := fileSize(t, seg)
	if size < 2*prezeroChunk {
		t.Fatalf("segment is %d bytes; want it pre-zeroed", size)
	}
	limit := size + 100
	setFsize(t, uint64(limit))

	// Puts that land in the zeros are stored although pre-zeroing, which
	// wants to go past the limit, fails; then Puts fail with ErrFull.
	stored := 0
	var err error
	for {
		if _, err = c.put(q, body); err != nil {
			break
		}
		stored++
	}
	c.checkFull(q, err)
	if stored*body < 2*prezeroChunk {
		t.Fatalf("only %d Puts stored before the limit; want the zeros filled", stored)
	}
	if n := strings.Count(c.logs.String(), "not pre-zeroed"); n != 1 {
		t.Fatalf("pre-zeroing failure logged %d times, want once:\n%s", n, c.logs.String())
	}
	// The file was cut back to the last whole record.
	end := writerEnd(q)
	if got := fileSize(t, seg); got != end || end > limit {
		t.Fatalf("segment is %d bytes after the failed write; want %d (its records), within the limit %d", got, end, limit)
	}

	// More failures, alone and concurrent (the pipelined writer): each
	// fails its batch only, and the episode is logged once.
	c.mustFail(q, body)
	c.mustFail(q, body)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 4 {
		wg.Go(func() {
			for range 4 {
				_, err := c.put(q, body)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		c.checkFull(q, err)
	}
	if n := strings.Count(c.logs.String(), "queue write failed"); n != 1 {
		t.Fatalf("write failure logged %d times, want once:\n%s", n, c.logs.String())
	}
	st := q.Stats()
	if st.WriteErrors < 3 || !strings.Contains(st.LastWriteError, "file too large") || st.LastWriteErrorAt.IsZero() || st.Stopped != "" {
		t.Fatalf("Stats after failed writes: %+v", st)
	}
	if got := fileSize(t, seg); got != writerEnd(q) {
		t.Fatalf("segment is %d bytes, want %d", got, writerEnd(q))
	}

	// Not one byte more: settlements made now cannot be written; they
	// wait for the next batch that can.
	setFsize(t, uint64(fileSize(t, seg)))
	var acked []string
	for range 5 {
		it, a := get(t, q)
		ack(t, a, nil)
		acked = append(acked, it.ID)
	}
	if err := q.Sync(context.Background()); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Sync with the ACK records not written: %v, want ErrFull", err)
	}

	// Room again: Puts work without reopening, and the ACK records go
	// with them.
	setFsize(t, unix.RLIM_INFINITY)
	wg = sync.WaitGroup{}
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if _, err := c.put(q, body); err != nil {
					t.Errorf("Put after the disk has room again: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := q.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	for _, id := range acked {
		c.emit("A %s", id)
	}
	if !strings.Contains(c.logs.String(), "queue writes work again") {
		t.Fatalf("recovery not logged:\n%s", c.logs.String())
	}
	// Pre-zeroing is tried again a moment later and works.
	deadline := time.Now().Add(20 * time.Second)
	for fileSize(t, seg) < writerEnd(q)+prezeroChunk {
		if time.Now().After(deadline) {
			t.Fatalf("the segment was not pre-zeroed again:\n%s", c.logs.String())
		}
		if _, err := c.put(q, 100); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(c.logs.String(), "pre-zeroing works again") {
		t.Fatalf("pre-zeroing recovery not logged:\n%s", c.logs.String())
	}
	closeQ(t, q)
}

// rotation: the disk fills just when the writer starts a new segment,
// first so that the new file cannot even take its header, then so that
// it can, but not the relocated straggler nor the batch.
func (c *fullChild) rotation() {
	t := c.t
	const body = 4 << 10
	opts := Options{SegmentBytes: 64 << 10, Logger: c.logs.logger()}
	q := open(t, c.dir, opts)
	// A straggler in the first segment: leased while the rest of it is
	// settled, then released, so that the third segment's rotation
	// copies it forward (relocateOldest).
	straggler, err := c.put(q, body)
	if err != nil {
		t.Fatal(err)
	}
	for len(segFiles(t, c.dir)) < 2 {
		if _, err := c.put(q, body); err != nil {
			t.Fatal(err)
		}
	}
	it, release := get(t, q)
	if it.ID != straggler.ID {
		t.Fatalf("got %s first, want the straggler", it.ID)
	}
	var acked []string
	for q.Len() > 1 {
		it, a := get(t, q)
		ack(t, a, nil)
		acked = append(acked, it.ID)
	}
	ack(t, release, errors.New("HTTP 503"))
	if err := q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		c.emit("A %s", id)
	}
	for writerEnd(q) < opts.SegmentBytes {
		if _, err := c.put(q, body); err != nil {
			t.Fatal(err)
		}
	}
	segs := segFiles(t, c.dir)

	// The next Put rotates, and the new file cannot take its header.
	setFsize(t, 10)
	c.mustFail(q, body)
	c.mustFail(q, body)
	if got := segFiles(t, c.dir); len(got) != len(segs) {
		t.Fatalf("segments after failed rotations: %v, want %v (the unfinished one removed)", got, segs)
	}

	// The header fits, the relocated straggler and the batch do not.
	setFsize(t, segHeaderLen+100)
	c.mustFail(q, body)
	got := segFiles(t, c.dir)
	if len(got) != len(segs)+1 {
		t.Fatalf("segments after the rotation: %v", got)
	}
	if n := fileSize(t, got[len(got)-1]); n != segHeaderLen {
		t.Fatalf("new segment is %d bytes after failed writes, want %d", n, segHeaderLen)
	}
	if !strings.Contains(c.logs.String(), "queue items not relocated") {
		t.Fatalf("relocation failure not logged:\n%s", c.logs.String())
	}
	c.mustFail(q, body)

	// Room again: Puts work, and the next rotation relocates the
	// straggler, so that the first segment goes.
	setFsize(t, unix.RLIM_INFINITY)
	for fileExists(segs[0]) {
		if _, err := c.put(q, body); err != nil {
			t.Fatalf("Put after the disk has room again: %v", err)
		}
		if c.n > 1000 {
			t.Fatalf("the first segment stays: %v", segFiles(t, c.dir))
		}
	}
	closeQ(t, q)
}

// heldCarry: the ACK record of a delivered item cannot be written (the
// disk is full when the writer must rotate), so the next item of its key
// waits; once there is room the writer writes the record on its own,
// without a Put or Sync to carry it, and the next item goes.
func (c *fullChild) heldCarry() {
	t := c.t
	const body = 4 << 10
	opts := Options{SegmentBytes: 64 << 10, Logger: c.logs.logger()}
	q := open(t, c.dir, opts)
	must := func(it *queue.Item, err error) *queue.Item {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	k1, k2 := must(c.putKey(q, "K", body)), must(c.putKey(q, "K", body))
	f1 := must(c.putKey(q, "F", body))
	for writerEnd(q) < opts.SegmentBytes {
		must(c.putKey(q, "F", body))
	}
	ackK1 := wantGet(t, q, k1, "K1")
	ackF1 := wantGet(t, q, f1, "F1") // F's other items wait behind it

	setFsize(t, 10) // the next write rotates, and the new segment cannot be created
	ack(t, ackK1, nil)
	if err := q.Sync(context.Background()); !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("Sync of K1's ACK record on a full disk: %v, want EFBIG", err)
	}
	c.mustFail(q, body)
	q.wmu.Lock()
	carried := len(q.carry)
	q.wmu.Unlock()
	if carried != 1 {
		t.Fatalf("%d records wait for room, want K1's ACK record", carried)
	}
	if it, _, err := q.Get(canceled()); err == nil {
		t.Fatalf("%s handed out while K1's ACK record could not be written", it.Attrs["n"])
	}

	setFsize(t, unix.RLIM_INFINITY)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
	defer cancel()
	it, ackK2, err := q.Get(ctx)
	if err != nil {
		t.Fatalf("K2 not handed out once the disk had room (K1's ACK record never retried): %v", err)
	}
	if it.ID != k2.ID {
		t.Fatalf("Get %s, want K2", it.Attrs["n"])
	}
	c.emit("A %s", k1.ID) // synced before K2 was handed out
	ack(t, ackK2, nil)
	ack(t, ackF1, nil)
	if err := q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.emit("A %s", k2.ID)
	c.emit("A %s", f1.ID)
	closeQ(t, q)
}

// reprobe: the write that met the full disk is the last one for a while
// (the sender waits for /readyz, or no message comes at night). Once
// there is room, WriteFailing clears without another Put; before, a probe
// on the still-full disk leaves it failing, and the queue its records.
func (c *fullChild) reprobe() {
	t := c.t
	const body = 16 << 10
	q := open(t, c.dir, Options{Logger: c.logs.logger()})
	if _, err := c.put(q, body); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, c.dir)
	seg := segs[len(segs)-1]
	setFsize(t, uint64(fileSize(t, seg)))
	var err error
	for err == nil {
		_, err = c.put(q, body) // into the pre-zeroed region, until it is used up
	}
	c.checkFull(q, err)
	if q.WriteFailing() == nil {
		t.Fatal("WriteFailing is nil after a write failed")
	}
	end, failedWrites := writerEnd(q), q.Stats().WriteErrors
	// A probe on the full disk (Sync's barrier runs it) fails: still
	// failing, and the log's end where it was (what zeros the probe got
	// in are the next records' room); no message was refused, and no
	// failed write is counted.
	if err := q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if q.WriteFailing() == nil {
		t.Fatal("WriteFailing cleared while the disk is still full")
	}
	if n := q.Stats().WriteErrors; n != failedWrites {
		t.Fatalf("%d failed writes counted after a probe, want %d", n, failedWrites)
	}
	if got := writerEnd(q); got != end {
		t.Fatalf("the log ends at %d after a failed probe, want %d", got, end)
	}

	setFsize(t, unix.RLIM_INFINITY)
	deadline := time.Now().Add(20 * time.Second)
	for q.WriteFailing() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("WriteFailing still set %s after the disk had room, no Put meanwhile:\n%s", 20*time.Second, c.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(c.logs.String(), "queue writes work again") {
		t.Fatalf("recovery not logged:\n%s", c.logs.String())
	}
	if _, err := c.put(q, body); err != nil {
		t.Fatalf("Put once the disk has room: %v", err)
	}
	closeQ(t, q)
}

// shortZero: the disk fills in the middle of a pre-zeroing chunk, so the
// kernel writes part of it; then there is room again and the segment
// fills up and rotates. The part-written zeros must be trimmed with the
// rest, or the reopen finds a damaged tail in a segment that is not the
// last.
func (c *fullChild) shortZero() {
	t := c.t
	const body = 8 << 10
	opts := Options{SegmentBytes: 256 << 10, Logger: c.logs.logger()}
	q := open(t, c.dir, opts)
	// The first Put's pre-zeroing (to SegmentBytes+prezeroChunk) is cut
	// 300 KiB into the file, past the record.
	setFsize(t, 300<<10)
	if _, err := c.put(q, body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.logs.String(), "not pre-zeroed") {
		t.Fatalf("cut pre-zeroing not logged:\n%s", c.logs.String())
	}
	first := segFiles(t, c.dir)[0]
	if n := fileSize(t, first); n != 300<<10 {
		t.Fatalf("segment is %d bytes, want the %d the limit let through", n, 300<<10)
	}
	setFsize(t, unix.RLIM_INFINITY)
	for len(segFiles(t, c.dir)) < 2 {
		if _, err := c.put(q, body); err != nil {
			t.Fatalf("Put after the disk has room again: %v", err)
		}
		if c.n > 1000 {
			t.Fatal("no rotation")
		}
	}
	if n := fileSize(t, first); n > opts.SegmentBytes+body {
		t.Fatalf("the rotated segment keeps %d bytes: its zero tail was not trimmed", n)
	}
	// Full again, in the new segment: a Put fails and is not kept.
	setFsize(t, 10)
	c.mustFail(q, body)
	setFsize(t, unix.RLIM_INFINITY)
	closeQ(t, q)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// runFullChild runs a scenario and returns the IDs it reported.
func runFullChild(t *testing.T, dir, scenario string) (stored map[string]int, failed, acked map[string]bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFullChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fullDirEnv+"="+dir, fullScenarioEnv+"="+scenario)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v\n%s%s", scenario, err, out, stderr.String())
	}
	stored, failed, acked = map[string]int{}, map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
		case f[0] == "SKIP":
			t.Skip(l)
		case f[0] == "P" && len(f) == 3:
			n, _ := strconv.Atoi(f[2])
			stored[f[1]] = n
		case f[0] == "F" && len(f) == 2:
			failed[f[1]] = true
		case f[0] == "A" && len(f) == 2:
			acked[f[1]] = true
		}
	}
	if len(stored) == 0 || len(failed) == 0 {
		t.Fatalf("child %s reported %d stored and %d failed Puts:\n%s", scenario, len(stored), len(failed), out)
	}
	return stored, failed, acked
}

// checkAfterFull reopens the queue and checks it holds exactly the items
// whose Put returned nil and that were not acknowledged, each once, with
// their bodies, and that replay found nothing damaged.
func checkAfterFull(t *testing.T, dir string, opts Options, stored map[string]int, failed, acked map[string]bool) {
	t.Helper()
	var logs logBuf
	opts.Logger = logs.logger()
	q := open(t, dir, opts)
	defer closeQ(t, q)
	if s := q.Stats(); s.Corrupt != 0 {
		t.Fatalf("%d corrupt records after the disk-full episode:\n%s", s.Corrupt, logs.String())
	}
	if l := logs.String(); l != "" {
		t.Fatalf("reopen after a clean Close logged:\n%s", l)
	}
	want := 0
	for id := range stored {
		if !acked[id] {
			want++
		}
	}
	if n := q.Len(); n != want {
		t.Fatalf("Len after reopen = %d, want %d (%d stored, %d acknowledged)", n, want, len(stored), len(acked))
	}
	seen := map[string]bool{}
	for range want {
		it, a := get(t, q)
		n, ok := stored[it.ID]
		switch {
		case failed[it.ID]:
			t.Fatalf("item %s is there although its Put failed", it.ID)
		case !ok:
			t.Fatalf("unknown item %s", it.ID)
		case acked[it.ID]:
			t.Fatalf("item %s came back after its ack was synced", it.ID)
		case seen[it.ID]:
			t.Fatalf("item %s stored twice", it.ID)
		}
		size, _ := strconv.Atoi(it.Attrs["size"])
		if !bytes.Equal(it.Body, fullBody(n, size)) {
			t.Fatalf("item %s: body differs", it.ID)
		}
		seen[it.ID] = true
		ack(t, a, nil)
	}
}

// TestDiskFullPrezeroed fills the disk under a pre-zeroed segment: Puts
// whose records fit in the zeros are stored (pre-zeroing's own failure
// costs nothing), later ones fail with queue.ErrFull without stopping the
// queue, settlements wait, and once there is room everything works again
// without a reopen.
func TestDiskFullPrezeroed(t *testing.T) {
	dir := t.TempDir()
	stored, failed, acked := runFullChild(t, dir, "prezeroed")
	if len(acked) != 5 {
		t.Fatalf("child acknowledged %d items, want 5", len(acked))
	}
	checkAfterFull(t, dir, Options{}, stored, failed, acked)
}

// TestDiskFullRotation fills the disk when the writer rotates: the new
// segment cannot be created, then cannot take the relocated straggler or
// the batch; each failure fails one batch, and the queue recovers.
func TestDiskFullRotation(t *testing.T) {
	dir := t.TempDir()
	stored, failed, acked := runFullChild(t, dir, "rotation")
	checkAfterFull(t, dir, Options{SegmentBytes: 64 << 10}, stored, failed, acked)
}

// TestFailedCutStopsQueue makes a write fail in a way the writer cannot
// undo either (the segment became immutable: the write and the truncate
// that would cut it off both fail with EPERM). That is the one write
// failure that stops the queue, as a failed fsync does: Stopped closes,
// Err and Stats say why, every later Put fails with it, Close returns it,
// and a reopen (the restart) recovers every item stored before.
// TestDiskFullHeldKey: an ACK record the full disk refused is written on
// the writer's own once there is room, so the key it holds (the next
// item of the patient waits for it) is not held until the next message.
func TestDiskFullHeldKey(t *testing.T) {
	dir := t.TempDir()
	stored, failed, acked := runFullChild(t, dir, "heldcarry")
	if len(acked) != 3 {
		t.Fatalf("child acknowledged %d items, want 3", len(acked))
	}
	checkAfterFull(t, dir, Options{SegmentBytes: 64 << 10}, stored, failed, acked)
}

// TestDiskFullShortZero: zeros a full disk let through part of a
// pre-zeroing chunk are trimmed at rotation like the rest; the reopen
// finds every item and no damage.
// TestDiskFullReprobed: a queue whose last write failed on a full disk
// said so (WriteFailing, and so /readyz 503) until another write worked,
// which needed another Put: an MLLP sender or a monitor that waits for
// /readyz, or a night without messages, kept it failing for ever after
// the disk had room again. The writer probes the disk while writes fail,
// and the failure clears once there is room.
func TestDiskFullReprobed(t *testing.T) {
	dir := t.TempDir()
	stored, failed, acked := runFullChild(t, dir, "reprobe")
	checkAfterFull(t, dir, Options{}, stored, failed, acked)
}

func TestDiskFullShortZero(t *testing.T) {
	dir := t.TempDir()
	stored, failed, acked := runFullChild(t, dir, "shortzero")
	checkAfterFull(t, dir, Options{SegmentBytes: 256 << 10}, stored, failed, acked)
}

func TestFailedCutStopsQueue(t *testing.T) {
	dir := t.TempDir()
	var logs logBuf
	q, err := Open(dir, Options{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, put(t, q, "", i).ID)
	}
	segs := segFiles(t, dir)
	healthy := queuetest.SetImmutable(t, segs[len(segs)-1])
	it := &queue.Item{Body: []byte("refused")}
	err = q.Put(context.Background(), it)
	if err == nil || errors.Is(err, queue.ErrFull) || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("Put into an immutable segment: %v; want EPERM, not ErrFull", err)
	}
	select {
	case <-q.Stopped():
	default:
		t.Fatal("Stopped not closed after a failed cut")
	}
	if q.Err() == nil || !strings.Contains(q.Stats().Stopped, "operation not permitted") {
		t.Fatalf("Err = %v, Stats.Stopped = %q", q.Err(), q.Stats().Stopped)
	}
	if err := q.Put(context.Background(), &queue.Item{Body: []byte("later")}); !errors.Is(err, q.Err()) {
		t.Fatalf("Put after the stop: %v, want %v", err, q.Err())
	}
	if n := strings.Count(logs.String(), "queue stopped"); n != 1 {
		t.Fatalf("stop logged %d times:\n%s", n, logs.String())
	}
	if err := q.Close(context.Background()); err == nil {
		t.Fatal("Close of a stopped queue returned nil")
	}

	// The restart: the immutable attribute is gone (the disk is
	// healthy again), and replay finds what was stored.
	healthy()
	q = open(t, dir, Options{})
	defer closeQ(t, q)
	if s := q.Stats(); s.Corrupt != 0 || s.Depth != len(ids) {
		t.Fatalf("after reopen: %+v; want %d items, none corrupt", s, len(ids))
	}
	for _, id := range ids {
		got, a := get(t, q)
		if got.ID != id {
			t.Fatalf("got %s, want %s", got.ID, id)
		}
		ack(t, a, nil)
	}
}

// TestOpenOnFullDiskSettlesDeadLetter: a crash between an item's dead
// letter and its ACK record leaves both, and Open settles the item with
// an ACK record of its own. On a full disk that append failed Open, so
// the gateway did not start (and could not deliver its backlog to free
// room); a start on a full disk must work. The ACK record is written once
// there is room, so that a retry of the dead letter (which removes it)
// does not bring the original back at the next start.
func TestOpenOnFullDiskSettlesDeadLetter(t *testing.T) {
	mnt, fill, free := queuetest.SmallDisk(t, 8<<20)
	dir := filepath.Join(mnt, "queue")
	q := open(t, dir, Options{})
	ctx := context.Background()
	a := &queue.Item{Key: "a", Body: make([]byte, 100)}
	if err := q.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	end, seqA := q.cur.wend, q.lowSeq
	q.mu.Unlock()
	// b ends the segment at a block's end: the next record needs a new
	// block, which a full disk does not have.
	b := &queue.Item{Key: "b", Body: make([]byte, 100+4096-int(end)-int(end-segHeaderLen))}
	if err := q.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, _ := get(t, q)
	if got.ID != a.ID {
		t.Fatalf("Get %s, want a", got.ID)
	}
	// The exchange refused a: its dead letter is written, and then the
	// process dies before the ACK record.
	if err := q.dead.write(&DeadLetter{ID: a.ID, Key: a.Key, Seq: seqA, Body: a.Body, Reason: "rejected"}); err != nil {
		t.Fatal(err)
	}
	closeQ(t, q)
	segs := segFiles(t, dir)
	if n := fileSize(t, segs[len(segs)-1]); n != 4096 {
		t.Fatalf("segment of %d bytes, want 4096", n)
	}

	fill()
	q, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open on a full disk: %v", err)
	}
	it, ab, err := q.Get(canceled())
	if err != nil || it.ID != b.ID {
		t.Fatalf("Get on a full disk: %v %v, want b", it, err)
	}
	ack(t, ab, nil)
	if it, _, err := q.Get(canceled()); err == nil {
		t.Fatalf("dead-lettered item %s delivered again", it.ID)
	}

	free()
	if err := q.Retry(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	it, ab = get(t, q)
	if it.ID != a.ID {
		t.Fatalf("Get %s, want the retried a", it.ID)
	}
	ack(t, ab, nil)
	closeQ(t, q)

	q = open(t, dir, Options{})
	defer closeQ(t, q)
	if it, _, err := q.Get(canceled()); err == nil {
		t.Fatalf("item %s (a is %s) back after it was retried and delivered", it.ID, a.ID)
	}
}

// TestDeadLetterRemovalRefused: a dead letter whose file cannot be
// removed (on Windows a virus scanner or backup agent holding it open,
// here the immutable attribute) stays a dead letter: Purge and Retry
// report the failure, and the dead letter is still listed, purged or
// retried once the file can go. It was forgotten in memory before its
// file was removed, so it vanished from `ferry queue list`, a second
// purge said "not found", and at the next start it came back, for a
// second retry to deliver it twice.
func TestDeadLetterRemovalRefused(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	defer closeQ(t, q)
	ctx := context.Background()
	for range 2 {
		put(t, q, "", 1)
		_, a := get(t, q)
		ack(t, a, queue.Permanent(errors.New("HTTP 422")))
	}
	list, err := q.DeadLetters()
	if err != nil || len(list) != 2 {
		t.Fatalf("DeadLetters: %v, %d", err, len(list))
	}
	purged, retried := list[0].ID, list[1].ID

	healthy := queuetest.SetImmutable(t, filepath.Join(dir, "dead"))
	if err := q.Purge(ctx, purged); err == nil {
		t.Fatal("Purge succeeded though the file stays")
	}
	if err := q.Retry(ctx, retried); err == nil {
		t.Fatal("Retry reported no error though the dead letter stays")
	}
	if list, err := q.DeadLetters(); err != nil || len(list) != 2 {
		t.Fatalf("after the refused removals, DeadLetters: %v, %d listed, want the 2 still on disk", err, len(list))
	}
	healthy()
	if err := q.Purge(ctx, purged); err != nil {
		t.Fatalf("Purge once the file can go: %v", err)
	}
	if err := q.Purge(ctx, retried); err != nil {
		t.Fatalf("Purge of the retried item's dead letter once the file can go: %v", err)
	}
	if list, err := q.DeadLetters(); err != nil || len(list) != 0 {
		t.Fatalf("DeadLetters: %v, %d left", err, len(list))
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "dead", "*.json")); len(ents) != 0 {
		t.Fatalf("dead letter files left: %v", ents)
	}
}
