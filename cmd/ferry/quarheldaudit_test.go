package main

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
)

// TestQuarantineReplayHeldAuditsPatient: the audit event of a replay
// whose input exchange.hold held whole must name the input's patient, as
// that of a replay that queued it does: the replay reads and converts
// the patient's data, and the event named nobody (the patient was taken
// from the bundles queued only).
func TestQuarantineReplayHeldAuditsPatient(t *testing.T) {
	repo := newUDPRepo(t)
	dir := t.TempDir()
	restricted := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|HOLD-1|P|2.5.1\r" +
		"EVN|A01|20261125083000\rPID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\rPV1|1|I|PSY\r" +
		"PV2||||||||||||||||||||||Y\r"
	_, cfg := quarCfg(t, dir, tooSmall)
	if errs := ingest(t, cfg, mllpInput(restricted, 1)); !queue.IsPermanent(errs[0]) {
		t.Fatalf("%v, want quarantined", errs[0])
	}
	cfgFile, cfg := quarCfg(t, dir, "exchange:\n  hold: [R]\naudit:\n  url: \""+repo.URL()+"\"\n  source_id: clinic-7-ferry\n")
	id := quarantineIDs(t, cfg)[0]
	if out, err := runQuarantine(t, "replay", id, "--config", cfgFile); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := held.List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("held: %v %v, want the input", ids, err)
	}
	e, err := held.Get(ids[0])
	if err != nil || e.Key == "" {
		t.Fatalf("held entry %s: %v, key %q", ids[0], err, e.Key)
	}
	var ev string
	for !strings.Contains(ev, `csd-code="quarantine-replay"`) {
		ev = repo.next()
	}
	wantIn(t, "replay event", ev, `ParticipantObjectID="`+e.Key+`"`, `csd-code="patient-key"`)
}
