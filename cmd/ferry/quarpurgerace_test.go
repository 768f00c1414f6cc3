package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestQuarantinePurgeDuringReplay: a `ferry quarantine purge` run in
// another terminal while a replay of the same entry is between its
// queue's commit and the entry's removal (the replay holds the queue, so
// the purge goes on without it, as it does while the gateway runs)
// removes the entry first. The replay said "replayed, but the old entry
// is still listed: ... no such file", an error for an entry that is gone
// and an input that is queued, and its audit event did not say the entry
// was purged meanwhile. It now says so, on the terminal and in the event,
// and is not a failure. The purge runs from the replay's own hook
// (replayStored), in this process.
func TestQuarantinePurgeDuringReplay(t *testing.T) {
	repo := newUDPRepo(t)
	dir := t.TempDir()
	_, cfg := quarCfg(t, dir, tooSmall)
	if errs := ingest(t, cfg, mllpInput(fmt.Sprintf(testADT, 1, 1), 1)); !queue.IsPermanent(errs[0]) {
		t.Fatalf("%v, want quarantined", errs[0])
	}
	cfgFile, cfg := quarCfg(t, dir, "audit:\n  url: \""+repo.URL()+"\"\n  source_id: clinic-7-ferry\n")
	id := quarantineIDs(t, cfg)[0]
	var pout string
	var perr error
	replayStored = func(string) { pout, perr = runQuarantine(t, "purge", id, "--config", cfgFile) }
	t.Cleanup(func() { replayStored = func(string) {} })
	out, err := runQuarantine(t, "replay", id, "--config", cfgFile)
	if perr != nil || !strings.Contains(pout, "1 of 1 quarantined input(s) deleted") {
		t.Fatalf("purge: %v\n%s", perr, pout)
	}
	if err != nil || strings.Contains(out, "still listed") || !strings.Contains(out, "purged") {
		t.Errorf("replay: %v\n%s", err, out)
	}
	if n := queueDepth(t, cfg); n != 1 {
		t.Errorf("the queue holds %d item(s), want the replayed bundle", n)
	}
	var ev string
	for !strings.Contains(ev, `csd-code="quarantine-replay"`) {
		ev = repo.next()
	}
	wantIn(t, "replay event", ev, "purged")
}
