package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
)

// TestLowerCaseIDs: an ID typed in lower case (read aloud over the phone,
// copied from a ticket that lowered it) names the same dead letter, held
// bundle or quarantined input: ULIDs are case-insensitive (the ULID spec:
// "Case insensitive", Crockford's base32), and ferry's own are written in
// upper case.
func TestLowerCaseIDs(t *testing.T) {
	dir := t.TempDir()
	cfgFile, cfg := quarCfg(t, dir, tooSmall)

	dl := deadLetter(t, cfg, &queue.Item{Source: "mllp/main", Body: []byte(`{"resourceType":"Bundle"}`), Attrs: map[string]string{"type": "ADT^A01"}})
	lower := strings.ToLower(dl)
	if out, err := runQueue(t, "show", lower, "--config", cfgFile); err != nil || !strings.Contains(out, "id:        "+dl) {
		t.Errorf("queue show %s: %v\n%s", lower, err, out)
	}
	if out, err := runQueue(t, "retry", lower, "--config", cfgFile); err != nil || !strings.Contains(out, "1 of 1 dead letter(s) back in the queue") {
		t.Errorf("queue retry %s: %v\n%s", lower, err, out)
	}

	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	in := adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: "conn 1 msg 1"}
	hid, err := held.Put(in, &pipeline.Unit{Name: "message", Bundle: []byte(`{"resourceType":"Bundle"}`), Key: "k1"}, "R")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"show", strings.ToLower(hid), "--config", cfgFile}, &out, io.Discard); err != nil || !strings.Contains(out.String(), hid) {
		t.Errorf("held show %s: %v\n%s", strings.ToLower(hid), err, out.String())
	}
	out.Reset()
	if err := cmdHeld(context.Background(), []string{"discard", strings.ToLower(hid), "--yes", "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Errorf("held discard %s: %v\n%s", strings.ToLower(hid), err, out.String())
	}

	ingest(t, cfg, mllpInput(fmt.Sprintf(testADT, 1, 1), 1))
	ids := quarantineIDs(t, cfg)
	if len(ids) != 1 {
		t.Fatalf("quarantine holds %v", ids)
	}
	if out, err := runQuarantine(t, "show", strings.ToLower(ids[0]), "--config", cfgFile); err != nil || !strings.Contains(out, ids[0]) {
		t.Errorf("quarantine show %s: %v\n%s", strings.ToLower(ids[0]), err, out)
	}
	if out, err := runQuarantine(t, "purge", strings.ToLower(ids[0]), "--config", cfgFile); err != nil || !strings.Contains(out, "1 of 1 quarantined input(s) deleted") {
		t.Errorf("quarantine purge %s: %v\n%s", strings.ToLower(ids[0]), err, out)
	}
}
