package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
)

// TestHeldReleaseAfterKilledReplayHeldOnce: a `ferry quarantine replay`
// killed after exchange.hold held its input and before the entry left
// the quarantine leaves the input both quarantined and held, and the
// duplicate filter perhaps without the held unit's key (it was not on
// disk yet). `ferry held release` of that entry, run before the gateway
// starts again, must first finish the replay as the gateway's start does
// (Held.FinishReplays): it released the bundle without telling the
// duplicate filter its key, and the next replay of the entry held it
// again, a second entry a person releasing sent to the exchange twice.
// The killed replay's data_dir is made by a replay run to its end, with
// the quarantine entry and the duplicate filter put back as they were
// before it.
func TestHeldReleaseAfterKilledReplayHeldOnce(t *testing.T) {
	cfgFile, cfg, id, heldID := killedReplayHeld(t)
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"release", "--config", cfgFile, heldID}, &out, io.Discard); err != nil {
		t.Fatalf("release: %v\n%s", err, out.String())
	}
	if n := queueDepth(t, cfg); n != 1 {
		t.Fatalf("the queue holds %d item(s) after the release, want the bundle", n)
	}
	// Forced past the released bundle waiting in the queue, as the
	// operator told so would.
	rout, err := runQuarantine(t, "replay", id, "--force", "--config", cfgFile)
	t.Logf("replay again: %v\n%s", err, rout)
	if ids, _ := held.List(); len(ids) != 0 {
		t.Errorf("held again after a person released it: %v (released too, it reaches the exchange twice)", ids)
	}
	if n := queueDepth(t, cfg); n != 1 {
		t.Errorf("the queue holds %d item(s), want the released bundle once", n)
	}
	if !strings.Contains(rout, "1 already queued before") {
		t.Errorf("the replay did not find the released bundle queued before:\n%s", rout)
	}
}

// killedReplayHeld leaves a data_dir as a `ferry quarantine replay`
// killed after exchange.hold held its whole input and before the entry
// left the quarantine leaves it: the input both quarantined and held, the
// duplicate filter without the held unit's key (it was not on disk yet).
// It is made by a replay run to its end, with the quarantine entry and
// the duplicate filter put back as they were before it. It returns the
// configuration, the quarantine entry and the held entry.
func killedReplayHeld(t *testing.T) (cfgFile string, cfg *config.Config, id, heldID string) {
	t.Helper()
	dir := t.TempDir()
	restricted := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|HOLD-1|P|2.5.1\r" +
		"EVN|A01|20261125083000\rPID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\rPV1|1|I|PSY\r" +
		"PV2||||||||||||||||||||||Y\r"
	_, cfg = quarCfg(t, dir, tooSmall)
	if errs := ingest(t, cfg, mllpInput(restricted, 1)); !queue.IsPermanent(errs[0]) {
		t.Fatalf("%v, want quarantined", errs[0])
	}
	cfgFile, cfg = quarCfg(t, dir, "exchange:\n  hold: [R]\n")
	id = quarantineIDs(t, cfg)[0]
	entry := cfg.Path("quarantine", id+".json")
	before, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	seenBefore, seenErr := os.ReadFile(cfg.Path("dedup.log"))
	if out, err := runQuarantine(t, "replay", id, "--config", cfgFile); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	// Killed after the hold: the entry still listed, the key not on disk.
	if err := os.WriteFile(entry, before, 0o600); err != nil {
		t.Fatal(err)
	}
	if seenErr != nil {
		os.Remove(cfg.Path("dedup.log"))
	} else if err := os.WriteFile(cfg.Path("dedup.log"), seenBefore, 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := held.List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("held: %v %v, want the input", ids, err)
	}
	return cfgFile, cfg, id, ids[0]

}

// TestHeldDiscardAfterKilledReplayStaysDiscarded: `ferry held discard`
// of the bundle a killed replay held, run before the gateway starts
// again, must finish the replay first, as the gateway's start and a
// release do: discarded before its key was told to the duplicate filter,
// it was held again by the entry's next replay, a person's decision never
// to send it undone (and one release away from the exchange).
func TestHeldDiscardAfterKilledReplayStaysDiscarded(t *testing.T) {
	cfgFile, cfg, id, heldID := killedReplayHeld(t)
	var out bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"discard", "--yes", "--config", cfgFile, heldID}, &out, io.Discard); err != nil {
		t.Fatalf("discard: %v\n%s", err, out.String())
	}
	rout, err := runQuarantine(t, "replay", id, "--config", cfgFile)
	t.Logf("replay again: %v\n%s", err, rout)
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := held.List(); len(ids) != 0 {
		t.Errorf("held again after a person discarded it: %v", ids)
	}
	if n := queueDepth(t, cfg); n != 0 {
		t.Errorf("the queue holds %d item(s), want none: the bundle was discarded", n)
	}
}

// TestHeldDiscardWhenFinishingFails: discard is the way out for a held
// bundle that nothing else can handle, and it needs neither the queue nor
// the duplicate filter. Finishing a cut-short replay first must not take
// that away: when the queue, the quarantine or the filter cannot be
// opened (here the filter's log is a folder), the discard goes on, saying
// what it could not finish.
func TestHeldDiscardWhenFinishingFails(t *testing.T) {
	cfgFile, cfg, _, heldID := killedReplayHeld(t)
	if err := os.Remove(cfg.Path("dedup.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(cfg.Path("dedup.log"), 0o700); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"discard", "--yes", "--config", cfgFile, heldID}, &out, &errOut); err != nil {
		t.Fatalf("discard: %v\n%s", err, out.String())
	}
	if !strings.Contains(errOut.String(), "dedup") {
		t.Errorf("the discard did not say what it could not finish:\n%s", errOut.String())
	}
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := held.List(); len(ids) != 0 {
		t.Errorf("still held after the discard: %v", ids)
	}
}
