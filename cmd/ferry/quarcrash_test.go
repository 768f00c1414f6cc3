package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestQuarantineReplayKilledHalfWay: `ferry quarantine replay` killed
// (SIGKILL, a power cut) after the input's bundle was committed to the
// queue and before its entry left the quarantine must not queue it a
// second time when the replay is run again, nor after the gateway started
// and delivered it meanwhile: the duplicate filter's key of the input was
// not on disk yet (it is written a moment after the commit), and a second
// copy reaches the exchange, where a fax's Binary POST files the document
// twice. The replay runs in a child process (this test binary again),
// which ends without closing anything once the queue's commit returned.
func TestQuarantineReplayKilledHalfWay(t *testing.T) {
	if dir := os.Getenv("FERRY_TEST_QUAR_REPLAY"); dir != "" {
		replayStored = func(string) { os.Exit(3) } // killed here
		args := []string{"replay", "--config", filepath.Join(dir, "ferry.yaml"), os.Getenv("FERRY_TEST_QUAR_ID")}
		if os.Getenv("FERRY_TEST_QUAR_FORCE") != "" {
			args = append(args, "--force")
		}
		cmdQuarantine(context.Background(), args, io.Discard, io.Discard)
		os.Exit(4)
	}
	if testing.Short() {
		t.Skip("runs the replay in a child process")
	}
	// killed quarantines one message, fixes the cause, and leaves the
	// data_dir as a replay killed after the queue's commit leaves it;
	// with newer, a newer message of the patient waits in the queue, and
	// the replay was forced past it.
	killed := func(t *testing.T, newer bool) (cfgFile, id string, depth func() int) {
		dir := t.TempDir()
		_, cfg := quarCfg(t, dir, tooSmall)
		if errs := ingest(t, cfg, mllpInput(fmt.Sprintf(testADT, 1, 1), 1)); !queue.IsPermanent(errs[0]) {
			t.Fatalf("%v, want quarantined", errs[0])
		}
		cfgFile, cfg = quarCfg(t, dir, "")
		id = quarantineIDs(t, cfg)[0]
		env := []string{"FERRY_TEST_QUAR_REPLAY=" + dir, "FERRY_TEST_QUAR_ID=" + id}
		want := 1
		if newer {
			a08 := strings.Replace(fmt.Sprintf(testADT, 2, 1), "A01", "A08", 2)
			if errs := ingest(t, cfg, mllpInput(a08, 2)); errs[0] != nil {
				t.Fatal(errs[0])
			}
			env, want = append(env, "FERRY_TEST_QUAR_FORCE=1"), 2
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestQuarantineReplayKilledHalfWay$")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("the replay ended (%v) before it was killed:\n%s", err, out)
		}
		if n := queueDepth(t, cfg); n != want {
			t.Fatalf("the killed replay left %d item(s) in the queue, want %d", n, want)
		}
		if ids := quarantineIDs(t, cfg); len(ids) != 1 {
			t.Fatalf("the killed replay left the quarantine holding %v, want its entry", ids)
		}
		return cfgFile, id, func() int { return queueDepth(t, cfg) }
	}

	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("replayed again, force %v", force), func(t *testing.T) {
			cfgFile, id, depth := killed(t, false)
			args := []string{"replay", id, "--config", cfgFile}
			if force {
				args = append(args, "--force")
			}
			out, err := runQuarantine(t, args...)
			t.Logf("second replay: %v\n%s", err, out)
			if err != nil {
				t.Errorf("second replay: %v", err)
			}
			if n := depth(); n != 1 {
				t.Errorf("the queue holds %d copies of the bundle, want 1", n)
			}
			if out, _ := runQuarantine(t, "list", "--config", cfgFile); !strings.Contains(out, "nothing is quarantined") {
				t.Errorf("the entry is still listed:\n%s", out)
			}
		})
	}
	t.Run("forced past newer data, replayed again", func(t *testing.T) {
		cfgFile, id, depth := killed(t, true)
		// Queued already (the operator forced it past the newer
		// message), it is not refused for it again: nothing of it is
		// queued now.
		out, err := runQuarantine(t, "replay", id, "--config", cfgFile)
		if err != nil || !strings.Contains(out, "1 already queued before") {
			t.Errorf("second replay: %v\n%s", err, out)
		}
		if n := depth(); n != 2 {
			t.Errorf("the queue holds %d item(s), want the newer message and one copy of the replayed one", n)
		}
	})
	t.Run("gateway started and delivered, then replayed again", func(t *testing.T) {
		cfgFile, id, depth := killed(t, false)
		cfg, err := config.Load(cfgFile)
		if err != nil {
			t.Fatal(err)
		}
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ingestPipeline(cfg, q, seen, nil, converters(cfg), nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		// The exchange takes it.
		_, ack, err := q.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := ack(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		seen.Close()
		q.Close(context.Background())
		out, err := runQuarantine(t, "replay", id, "--config", cfgFile)
		t.Logf("second replay: %v\n%s", err, out)
		if err != nil {
			t.Errorf("second replay: %v", err)
		}
		if n := depth(); n != 0 {
			t.Errorf("the replay queued the delivered bundle again: %d item(s)", n)
		}
		if out, _ := runQuarantine(t, "list", "--config", cfgFile); !strings.Contains(out, "nothing is quarantined") {
			t.Errorf("the entry is still listed:\n%s", out)
		}
	})
}

// TestQuarantineReplayHeldKilledHalfWay: a replay killed after the
// input's bundle was held by exchange.hold and before its entry left the
// quarantine must not hold it a second time when the replay is run again:
// two held entries are two releases, and the exchange gets it twice.
func TestQuarantineReplayHeldKilledHalfWay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the replay in a child process")
	}
	dir := t.TempDir()
	restricted := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|HOLD-1|P|2.5.1\r" +
		"EVN|A01|20261125083000\rPID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\rPV1|1|I|PSY\r" +
		"PV2||||||||||||||||||||||Y\r"
	_, cfg := quarCfg(t, dir, tooSmall)
	if errs := ingest(t, cfg, mllpInput(restricted, 1)); !queue.IsPermanent(errs[0]) {
		t.Fatalf("%v, want quarantined", errs[0])
	}
	cfgFile, cfg := quarCfg(t, dir, "exchange:\n  hold: [R]\n")
	id := quarantineIDs(t, cfg)[0]
	cmd := exec.Command(os.Args[0], "-test.run=^TestQuarantineReplayKilledHalfWay$")
	cmd.Env = append(os.Environ(), "FERRY_TEST_QUAR_REPLAY="+dir, "FERRY_TEST_QUAR_ID="+id)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("the replay ended (%v) before it was killed:\n%s", err, out)
	}
	heldIDs := func() []string {
		held, err := pipeline.OpenHeld(cfg.Path("held"))
		if err != nil {
			t.Fatal(err)
		}
		ids, err := held.List()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if ids := heldIDs(); len(ids) != 1 {
		t.Fatalf("the killed replay left %v held, want its bundle", ids)
	}
	outs, err := runQuarantine(t, "replay", id, "--config", cfgFile)
	t.Logf("second replay: %v\n%s", err, outs)
	if ids := heldIDs(); len(ids) != 1 {
		t.Errorf("held: %v, want the bundle once", ids)
	}
	if left := quarantineIDs(t, cfg); len(left) != 0 {
		t.Errorf("the entry is still listed: %v", left)
	}
	if n := queueDepth(t, cfg); n != 0 {
		t.Errorf("the queue holds %d item(s)", n)
	}
}
