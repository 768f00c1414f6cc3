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

// TestQuarantineReplayKilledFinishedAtStartAudited: a `ferry quarantine
// replay` killed after the input's bundle was committed to the queue, and
// before the replay recorded its event, is finished by the gateway's
// next start, which then delivers the bundle. The trail must show that a
// quarantined input was converted again and sent on, as the replay would
// have (the quarantine-replay event, the entry, its patient and the queue
// item), through the gateway's own audit sink, saying it was finished at
// start; before, nothing was recorded (a release finished at start was).
// Both ends of the window: the entry still listed (killed before its
// removal), and the entry gone (killed after it, before the event).
func TestQuarantineReplayKilledFinishedAtStartAudited(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the replay in a child process")
	}
	// killed quarantines a message, fixes the cause, replays it in a
	// child killed after the queue's commit, and returns the data_dir's
	// folder, the entry and the item queued; with removed, the entry is
	// removed as the replay removes it next.
	killed := func(t *testing.T, removed bool) (dir, id string, pend diskq.Pending) {
		dir = t.TempDir()
		_, cfg := quarCfg(t, dir, tooSmall)
		if errs := ingest(t, cfg, mllpInput(fmt.Sprintf(testADT, 1, 1), 1)); !queue.IsPermanent(errs[0]) {
			t.Fatalf("%v, want quarantined", errs[0])
		}
		_, cfg = quarCfg(t, dir, "")
		id = quarantineIDs(t, cfg)[0]
		cmd := exec.Command(os.Args[0], "-test.run=^TestQuarantineReplayKilledHalfWay$")
		cmd.Env = append(os.Environ(), "FERRY_TEST_QUAR_REPLAY="+dir, "FERRY_TEST_QUAR_ID="+id)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("the replay ended (%v) before it was killed:\n%s", err, out)
		}
		if removed {
			if err := os.Remove(cfg.Path("quarantine", id+".json")); err != nil {
				t.Fatal(err)
			}
		}
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p := q.Pending(0)
		q.Close(context.Background())
		if len(p) != 1 || p[0].Key == "" {
			t.Fatalf("queued by the killed replay: %+v", p)
		}
		return dir, id, p[0]
	}
	for _, removed := range []bool{false, true} {
		t.Run(fmt.Sprintf("entry removed %v", removed), func(t *testing.T) {
			dir, id, pend := killed(t, removed)
			repo := newUDPRepo(t)
			_, cfg := quarCfg(t, dir, fmt.Sprintf("audit: {url: %q, source_id: clinic-7-ferry}\n", repo.URL()))
			gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
			if err != nil {
				t.Fatal(err)
			}
			if err := gw.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Read while the sink runs, up to the start, then up to the
			// stop (see TestHeldReleaseKilledHalfWay).
			var replays []string
			upTo := func(code string) {
				for {
					ev := repo.next()
					if strings.Contains(ev, `csd-code="`+code+`"`) {
						return
					}
					if strings.Contains(ev, "quarantine-replay") {
						replays = append(replays, ev)
					}
				}
			}
			upTo("110120")
			if err := gw.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			upTo("110121")
			if len(replays) != 1 {
				t.Fatalf("%d quarantine-replay events at the gateway's start, want 1", len(replays))
			}
			wantIn(t, "the finished replay's event", replays[0], `ParticipantObjectID="`+id+`"`, `ParticipantObjectID="`+pend.Key+`"`,
				`ParticipantObjectID="`+pend.ID+`"`, `EventOutcomeIndicator="0"`, "finished at the gateway&#39;s start", `UserID="`+me(t)+`"`, `AuditSourceID="clinic-7-ferry"`)
		})
	}
	// A command that holds the queue finishes it first too (here a
	// purge of the entry, as an operator cleaning up would run): its
	// trail must have the replay before the purge.
	t.Run("finished by a purge", func(t *testing.T) {
		dir, id, pend := killed(t, false)
		repo := newUDPRepo(t)
		cfgFile, _ := quarCfg(t, dir, fmt.Sprintf("audit: {url: %q, source_id: clinic-7-ferry}\n", repo.URL()))
		if out, err := runQuarantine(t, "purge", id, "--config", cfgFile); err != nil {
			t.Fatalf("purge: %v\n%s", err, out)
		}
		ev := repo.next()
		wantIn(t, "the finished replay's event", ev, "quarantine-replay", `ParticipantObjectID="`+id+`"`, `ParticipantObjectID="`+pend.Key+`"`,
			`ParticipantObjectID="`+pend.ID+`"`, "finished by a later command", `UserID="`+me(t)+`"`)
		wantIn(t, "the purge's event", repo.next(), "quarantine-purge", `ParticipantObjectID="`+id+`"`)
	})
}
