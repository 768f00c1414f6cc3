package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestFaxOnFullDiskRetried checks that a large fax whose bundle cannot be
// spilled into the queue because the disk is full is tried again later
// (a retryable error matching queue.ErrFull: the folder source keeps the
// file, MLLP answers AR), not quarantined as unconvertible, and that it
// goes through once there is room. The disk fills for real: RLIMIT_FSIZE,
// which is per process, in a child process.
func TestFaxOnFullDiskRetried(t *testing.T) {
	dir := t.TempDir()
	writeTestPDF(t, filepath.Join(dir, "fax.pdf"), 3<<20)
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaxOnFullDiskChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "FERRY_PIPELINE_FULL_DIR="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("--- PASS: TestFaxOnFullDiskChild")) {
		t.Fatalf("child did not pass:\n%s", out.String())
	}
}

func TestFaxOnFullDiskChild(t *testing.T) {
	dir := os.Getenv("FERRY_PIPELINE_FULL_DIR")
	if dir == "" {
		t.Skip("helper process for TestFaxOnFullDiskRetried")
	}
	signal.Ignore(syscall.SIGXFSZ) // beyond the limit: EFBIG, not death
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	p := New(q, memSeen{}, quar, map[string]Converter{"fax": faxConverter(t)}, nil)
	raw := fileRaw(t, filepath.Join(dir, "fax.pdf"))

	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 1 << 20, Max: unix.RLIM_INFINITY}); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	err = p.Consume(context.Background(), raw)
	if err == nil || queue.IsPermanent(err) || !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Consume on a full disk: %v; want a retryable error matching queue.ErrFull", err)
	}
	if ids, _ := quar.List(); len(ids) != 0 || p.Stats().Quarantined.Load() != 0 {
		t.Fatalf("the fax was quarantined (%d entries) for a full disk", len(ids))
	}
	if f := bodyFiles(t, filepath.Join(dir, "queue")); len(f) != 0 {
		t.Fatalf("spill files left: %v", f)
	}

	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}); err != nil {
		t.Fatal(err)
	}
	if err := p.Consume(context.Background(), raw); err != nil {
		t.Fatalf("Consume once there is room: %v", err)
	}
	if q.Len() != 1 {
		t.Fatalf("queue holds %d items, want the fax", q.Len())
	}
}
