package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
)

// TestQuarantineReplayPartlyHeld: a quarantined batch file whose replay
// queues one message and leaves another held by exchange.hold says both:
// the operator is sent to `ferry held list` for the held one, which is
// counted, and the queued one is named, as a replay of the one or the
// other alone says.
func TestQuarantineReplayPartlyHeld(t *testing.T) {
	dir := t.TempDir()
	cfgFile, cfg := quarCfg(t, dir, "exchange:\n  hold: [R]\n")
	restricted := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|HOLD-1|P|2.5.1\r" +
		"EVN|A01|20261125083000\rPID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\rPV1|1|I|PSY\r" +
		"PV2||||||||||||||||||||||Y\r"
	batch := restricted + strings.Replace(testADT, "%05d", "00001", 2)
	quar, err := pipeline.OpenQuarantine(cfg.Path("quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	in := adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: "conn 1 msg 1", Body: []byte(batch), Received: time.Now().UTC()}
	id, err := quar.Put(in, in.Body, queue.Permanent(pipeline.ErrUnknownFormat))
	if err != nil {
		t.Fatal(err)
	}
	// Stored here without the queue, it is of no known age: --force.
	out, err := runQuarantine(t, "replay", id, "--force", "--config", cfgFile)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	wantIn(t, "replay", out, id+": queued (1 bundle(s)", "held by exchange.hold", "1 held for review", "`ferry held list`")
	if n := queueDepth(t, cfg); n != 1 {
		t.Errorf("queue holds %d item(s), want 1", n)
	}
}
