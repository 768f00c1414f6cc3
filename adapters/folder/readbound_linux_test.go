package folder

import (
	"github.com/ferry-health/ferry/adapters"
	"os"
	"runtime"
	"testing"
)

// TestReadClaimedHoldsNoMoreThanTheLimit checks that a claimed file that
// turns out larger than its size said (a writer still appending after the
// claim) is not read into memory whole before the engine notices: only
// max_body_bytes and a byte are buffered, and the rest is hashed as a
// stream. /proc/kallsyms stands in for the growing file: it reports size 0
// and reads as megabytes.
func TestReadClaimedHoldsNoMoreThanTheLimit(t *testing.T) {
	const path = "/proc/kallsyms"
	if data, err := os.ReadFile(path); err != nil || len(data) < 2<<20 {
		t.Skipf("%s unreadable or small here", path)
	}
	e, err := New(adapters.Settings{}, Config{Name: "t", Path: t.TempDir(), MaxBodyBytes: 4 << 10}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := os.OpenRoot("/proc")
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	e.proc = place{proc, "."} // as if /proc/kallsyms were claimed
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sum, n, _, body, err := e.readClaimed("kallsyms")
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil || len(sum) != 32 || n < 2<<20 {
		t.Fatalf("body %d bytes, size %d, sum %d bytes; want a streamed file of megabytes", len(body), n, len(sum))
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("reading a %d-byte file with a %d-byte limit allocated %d bytes", n, e.cfg.MaxBodyBytes, grew)
	}
}
