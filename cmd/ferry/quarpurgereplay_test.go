package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestQuarantinePurgeAfterKilledReplay: `ferry quarantine purge` of an
// entry whose replay was killed after the queue's commit, run before the
// gateway starts again, must first finish that replay, as the gateway's
// start, a release and a discard do: it deleted the entry's record of the
// replay (<id>.replay) with it, so the duplicate filter never learnt the
// keys of the bundle the replay queued (they were not on disk yet), and
// the sender's resend of the same message was queued again, a second
// delivery. The replay runs in a child process, killed once the queue's
// commit returned (TestQuarantineReplayKilledHalfWay's child). Purging
// is the way out for an entry nothing else can handle: when the replay
// cannot be finished (the filter's log a folder), the purge goes on and
// says so, and the record stays for the next start to finish.
func TestQuarantinePurgeAfterKilledReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the replay in a child process")
	}
	for _, broken := range []bool{false, true} {
		t.Run(fmt.Sprintf("filter broken %v", broken), func(t *testing.T) {
			dir := t.TempDir()
			msg := fmt.Sprintf(testADT, 1, 1)
			_, cfg := quarCfg(t, dir, tooSmall)
			if errs := ingest(t, cfg, mllpInput(msg, 1)); !queue.IsPermanent(errs[0]) {
				t.Fatalf("%v, want quarantined", errs[0])
			}
			cfgFile, cfg := quarCfg(t, dir, "")
			id := quarantineIDs(t, cfg)[0]
			cmd := exec.Command(os.Args[0], "-test.run=^TestQuarantineReplayKilledHalfWay$")
			cmd.Env = append(os.Environ(), "FERRY_TEST_QUAR_REPLAY="+dir, "FERRY_TEST_QUAR_ID="+id)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
				t.Fatalf("the replay ended (%v) before it was killed:\n%s", err, out)
			}
			if n := queueDepth(t, cfg); n != 1 {
				t.Fatalf("the killed replay left %d item(s) in the queue, want 1", n)
			}
			seenLog, err := os.ReadFile(cfg.Path("dedup.log"))
			if broken {
				os.Remove(cfg.Path("dedup.log"))
				if err := os.Mkdir(cfg.Path("dedup.log"), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			pout, perr := runQuarantine(t, "purge", id, "--config", cfgFile)
			if perr != nil {
				t.Fatalf("purge: %v\n%s", perr, pout)
			}
			if !strings.Contains(pout, "1 of 1 quarantined input(s) deleted") {
				t.Errorf("purge:\n%s", pout)
			}
			if broken {
				if !strings.Contains(pout, "could not be finished") {
					t.Errorf("the purge did not say what it could not finish:\n%s", pout)
				}
				// Mended before the gateway's next start.
				os.Remove(cfg.Path("dedup.log"))
				if err == nil {
					if err := os.WriteFile(cfg.Path("dedup.log"), seenLog, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The sender, told AE at the time, sends the same message again.
			if errs := ingest(t, cfg, mllpInput(msg, 2)); errs[0] != nil {
				t.Fatal(errs[0])
			}
			if n := queueDepth(t, cfg); n != 1 {
				t.Errorf("the queue holds %d copies of the message, want 1: the replay's bundle is queued already", n)
			}
		})
	}
}
