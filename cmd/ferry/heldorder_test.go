package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue/diskq"
)

// trackedHeld opens the held store in dir with the queue in queueDir
// counting, as the gateway's: its entries are released without --force
// while nothing newer of their patients was delivered or is queued. The
// queue is closed again (it would hold the lock `held release` takes);
// what it counts is what it had queued.
func trackedHeld(t *testing.T, dir, queueDir string) *pipeline.Held {
	t.Helper()
	q, err := diskq.Open(queueDir, diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Close(context.Background())
	held, err := pipeline.OpenHeld(dir)
	if err != nil {
		t.Fatal(err)
	}
	held.SetLaterCounter(q)
	return held
}

// heldADT is an ADT message of patient MRN-HO, restricted ("R" in MSH-8)
// when security says so.
func heldADT(trigger, ctl, security, name string) string {
	return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000|" + security + "|ADT^" + trigger + "^ADT_A01|" + ctl + "|P|2.5.1\r" +
		"EVN|" + trigger + "|20261125083000\r" +
		"PID|1||MRN-HO^^^CLINIC^MR||" + name + "||19800101|F\rPV1|1|O\r"
}

// TestHeldReleaseAfterNewerDelivered: with exchange.hold [R], a
// restricted A01 is held; the patient's A08 (unrestricted) is delivered
// while it is held, across a restart, since a held bundle must not stop
// its patient's care data. Released then, the A01 would reach the
// exchange after the A08 and write the old name over the corrected one:
// `ferry held release` refuses it, saying how many newer bundles were
// delivered and how many wait in the queue, as `ferry queue retry` does
// for a dead letter, and releases it with --force.
func TestHeldReleaseAfterNewerDelivered(t *testing.T) {
	recv, cfgFile, start := docGateway(t, "  hold: [R]\n")
	gw := start()
	conn, rd := dial(t, gw)
	if got := send(t, conn, rd, heldADT("A01", "HO-1", "R", "Doe^Pat")); got != "AA" {
		t.Fatalf("A01: MSA-1 %s, want AA", got)
	}
	ids, err := gw.pipe.Held().List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("held: %v %v, want the A01", ids, err)
	}
	conn.Close()
	gw.Shutdown(context.Background())

	// The newer bundles come after a restart: the count goes on.
	gw = start()
	conn, rd = dial(t, gw)
	if got := send(t, conn, rd, heldADT("A08", "HO-2", "", "Doe^Patricia")); got != "AA" {
		t.Fatalf("A08: MSA-1 %s, want AA", got)
	}
	waitFor(t, "A08 delivered", func() bool { return gw.q.Len() == 0 && recv.Bundles() == 1 })
	recv.SetFailure(503)
	if got := send(t, conn, rd, heldADT("A03", "HO-3", "", "Doe^Patricia")); got != "AA" {
		t.Fatalf("A03: MSA-1 %s, want AA", got)
	}
	conn.Close()
	gw.Shutdown(context.Background())

	release := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := cmdHeld(context.Background(), append(append([]string{"release"}, args...), "--config", cfgFile), &out, io.Discard)
		return out.String(), err
	}
	out, err := release(ids[0])
	if err == nil || !strings.Contains(err.Error(), "1 newer bundle(s) of the same patient were delivered while it was held") ||
		!strings.Contains(err.Error(), "1 more are waiting") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("release after a newer bundle was delivered: %v\n%s", err, out)
	}
	held, _ := gw.pipe.Held().List()
	if len(held) != 1 {
		t.Fatalf("a refused release left %v held, want the A01", held)
	}
	if out, err := release(ids[0], "--force"); err != nil {
		t.Fatalf("release --force: %v\n%s", err, out)
	}
	if held, _ := gw.pipe.Held().List(); len(held) != 0 {
		t.Errorf("released with --force, still held: %v", held)
	}
}

// TestHeldReleaseAfterKeyRotation: a bundle held before the data-at-rest
// key was rotated is keyed by its patient's pseudonym under the old key,
// and the patient's bundles queued since carry another, so none of their
// deliveries was counted against it: that none was delivered is not
// known, and `ferry held release` wants --force, as `ferry queue retry`
// does for a dead letter from before the rotation.
func TestHeldReleaseAfterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldKey, _, cfgPath, cfg := rotatedKeys(t, dir)
	held := trackedHeld(t, cfg.Path("held"), cfg.Path("queue"))
	held.SetKey(oldKey)
	id, err := held.Put(adapters.Raw{Source: "mllp/t", Format: "hl7v2", Received: time.Now()},
		&pipeline.Unit{Name: "message", Key: oldKey.Pseudonym("p1"), Bundle: []byte(`{"resourceType":"Bundle","type":"transaction"}`)}, "R")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out bytes.Buffer
	err = cmdHeld(ctx, []string{"release", "--config", cfgPath, id}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not counted") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("release of a bundle held before the key rotation: %v\n%s", err, out.String())
	}
	if err := cmdHeld(ctx, []string{"release", "--force", "--config", cfgPath, id}, &out, io.Discard); err != nil {
		t.Fatalf("release --force: %v\n%s", err, out.String())
	}
}
