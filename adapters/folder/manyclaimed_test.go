package folder

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// TestManyClaimedFilesListedOncePerPass: with the queue full, every
// ready file is claimed and waits in processing/, thousands of them
// after an export of a whole practice. Each file of a pass then listed
// processing/ again (is an input of its stem there? which sidecars lie
// there? does a file of an earlier rank wait there?), so a pass read the
// folder once per file and took time growing with the square of the
// files: 2,000 took 15 s, 5,000 over two minutes, while MLLP and the
// status page shared the machine. A pass now lists processing/ once.
func TestManyClaimedFilesListedOncePerPass(t *testing.T) {
	const n = 300
	dir := t.TempDir()
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("fax%04d.pdf", i)), []byte(fmt.Sprintf("%%PDF-1.4 %d", i)))
	}
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	cfg.RetryInitial, cfg.RetryMax = time.Hour, time.Hour
	full := &recorder{fn: func(context.Context, int, adapters.Raw) error { return errors.New("queue is full") }}

	var listings atomic.Int64
	proc := filepath.Join(".ferry", "processing")
	hook := func(p place) {
		if p.dir == "processing" || p.dir == proc {
			listings.Add(1)
		}
	}
	testHookReadDir.Store(&hook)
	t.Cleanup(func() { testHookReadDir.Store(nil) })

	e := startEngine(t, cfg, full, WithRank(func(name string) int {
		if name == "fax0001.pdf" {
			return 2 // one ranked file, as in an EHR drop
		}
		return 0
	}))
	waitFor(t, "every file taken and waiting", func() bool { return e.Stats().Retrying == n })
	waitPasses(t, e, 3)
	passes, lists := e.passes.Load(), listings.Load()
	if lists > 2*passes {
		t.Errorf("processing/ listed %d times in %d passes, want at most one listing a pass (and one at start)", lists, passes)
	}
}
