package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
)

// ingestDeliver is ingest followed by the delivery of deliver items from
// the head of the queue, each acknowledged as the exchange's 2xx would
// be, with the pipeline as the gateway builds it (ingestPipeline, which
// has the queue log what it delivers for the quarantine). It returns the
// keys of the items delivered.
func ingestDeliver(t *testing.T, cfg *config.Config, deliver int, ins ...adapters.Raw) []string {
	t.Helper()
	key, err := opsKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.EnsureSiteID(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer seen.Close()
	pipe, _, err := ingestPipeline(cfg, q, seen, key, converters(cfg), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range ins {
		if err := pipe.Consume(ctx, in); err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
	}
	var keys []string
	for range deliver {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, it.Key)
		if err := ack(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func adtOf(event string, n, mrn int) string {
	return strings.NewReplacer("ADT^A01", "ADT^"+event, "EVN|A01", "EVN|"+event).Replace(fmt.Sprintf(testADT, n, mrn))
}

// TestQuarantineReplayAfterNewerDelivered: an A08 quarantined, whose
// patient's newer A08 was delivered while it waited (the sender sent the
// correction again, or the next update came), is older data: replayed
// then, it reaches the exchange after the newer one and rolls the
// patient's demographics back. `ferry quarantine replay` refuses it
// without --force, naming the entry and the patient key, and leaves it
// quarantined; so it does the patient's later entries (they would
// overtake it) and one whose patient has newer data waiting in the
// queue, while other patients' entries are replayed. A replay that
// still fails keeps the entry as old as it was.
func TestQuarantineReplayAfterNewerDelivered(t *testing.T) {
	dir := t.TempDir()
	_, cfg := quarCfg(t, dir, tooSmall)
	for i, err := range ingest(t, cfg, mllpInput(adtOf("A08", 1, 7), 1), mllpInput(adtOf("A08", 2, 8), 2),
		mllpInput(adtOf("A08", 3, 9), 3), mllpInput(adtOf("A08", 4, 10), 4)) {
		if !queue.IsPermanent(err) {
			t.Fatalf("input %d: %v, want quarantined", i, err)
		}
	}
	ids := quarantineIDs(t, cfg)
	if len(ids) != 4 {
		t.Fatalf("quarantine holds %v", ids)
	}
	old7, old8, old9, old10 := ids[0], ids[1], ids[2], ids[3]

	// Fixed. The newer A08s of patients 7 and 9 are delivered; patient
	// 8's waits in the queue (the exchange is down).
	cfgFile, cfg := quarCfg(t, dir, "")
	keys := ingestDeliver(t, cfg, 2, mllpInput(adtOf("A08", 5, 7), 5), mllpInput(adtOf("A08", 6, 9), 6), mllpInput(adtOf("A08", 7, 8), 7))
	if n := queueDepth(t, cfg); n != 1 {
		t.Fatalf("queue holds %d item(s), want patient 8's A08", n)
	}
	key7, key9 := keys[0], keys[1]

	// Patient 9's A03, after its newer A08, is quarantined under the bad
	// setting again, and patient 7's A08 replayed under it still fails:
	// the data delivered since its first quarantine is newer still.
	cfgFile, cfg = quarCfg(t, dir, tooSmall)
	if errs := ingest(t, cfg, mllpInput(adtOf("A03", 8, 9), 8)); !queue.IsPermanent(errs[0]) {
		t.Fatalf("A03: %v, want quarantined", errs[0])
	}
	if out, err := runQuarantine(t, "replay", old7, "--config", cfgFile); err == nil || !strings.Contains(out, "still fails") {
		t.Fatalf("replay before the fix: %v\n%s", err, out)
	}
	ids = quarantineIDs(t, cfg)
	if len(ids) != 5 {
		t.Fatalf("quarantine holds %v", ids)
	}
	old7, a03 := ids[0], ids[4] // old7 keeps its place

	cfgFile, cfg = quarCfg(t, dir, "")
	out, err := runQuarantine(t, "replay", old7, "--config", cfgFile)
	if err == nil {
		t.Fatalf("replay after newer data was delivered: no error\n%s", out)
	}
	wantIn(t, "replay", out, "replay "+old7+" (patient key "+key7+"): at least 1 newer bundle(s) of the same patient were delivered since it was quarantined",
		"check the patient's record there, then replay with --force", "0 of 1 quarantined input(s) replayed")

	out, err = runQuarantine(t, "replay", "--all", "--config", cfgFile)
	if err == nil {
		t.Fatalf("replay --all after newer data was delivered: no error\n%s", out)
	}
	wantIn(t, "replay --all", out,
		"replay "+old9+" (patient key "+key9+"): at least 1 newer bundle(s) of the same patient were delivered since it was quarantined",
		"replay "+a03+" (patient key "+key9+"): an older quarantined input of the same patient, "+old9+", was not replayed",
		"replay "+old8+" (patient key ", "1 newer bundle(s) of the same patient are waiting in the queue",
		old10+": queued", "1 of 5 quarantined input(s) replayed: 1 queued")
	if left := quarantineIDs(t, cfg); strings.Join(left, " ") != strings.Join([]string{old7, old8, old9, a03}, " ") {
		t.Fatalf("after the refused replay the quarantine holds %v, want %s %s %s %s", left, old7, old8, old9, a03)
	}
	if strings.Contains(out, "Doe") || strings.Contains(out, "00007") {
		t.Errorf("replay output holds PHI:\n%s", out)
	}
	if n := queueDepth(t, cfg); n != 2 {
		t.Fatalf("queue holds %d item(s), want patient 8's A08 and patient 10's", n)
	}

	// With --force, once the record was checked.
	if out, err := runQuarantine(t, "replay", "--all", "--force", "--config", cfgFile); err != nil || !strings.Contains(out, "4 of 4 quarantined input(s) replayed: 4 queued") {
		t.Fatalf("replay --all --force: %v\n%s", err, out)
	}
	if left := quarantineIDs(t, cfg); len(left) != 0 {
		t.Fatalf("quarantine still holds %v", left)
	}
}

// drainTypes takes every item from the queue, in delivery order, and
// returns their message types.
func drainTypes(t *testing.T, cfg *config.Config) []string {
	t.Helper()
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	var got []string
	for q.Len() > 0 {
		it, ack, err := q.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, it.Attrs["type"])
		ack(context.Background(), nil)
	}
	return got
}

// TestQuarantineReplayStillFailingKeepsItsPlace: a replayed input that
// still fails is quarantined again in the place it had, not as the
// newest entry: the patient's A01, replayed alone before the cause was
// fixed, still goes before its A08 quarantined after it when both are
// replayed (by --all, or named, which go in the order quarantined), and
// the A08 never overtakes it. It may be named in lower case.
func TestQuarantineReplayStillFailingKeepsItsPlace(t *testing.T) {
	dir := t.TempDir()
	_, cfg := quarCfg(t, dir, tooSmall)
	for i, err := range ingest(t, cfg, mllpInput(adtOf("A01", 1, 7), 1), mllpInput(adtOf("A08", 2, 7), 2)) {
		if !queue.IsPermanent(err) {
			t.Fatalf("input %d: %v, want quarantined", i, err)
		}
	}
	ids := quarantineIDs(t, cfg)
	if len(ids) != 2 {
		t.Fatalf("quarantine holds %v", ids)
	}
	cfgFile, cfg := quarCfg(t, dir, tooSmall)
	a01 := ids[0]
	for range 2 { // twice: an entry replayed before is replayed again
		if out, err := runQuarantine(t, "replay", a01, "--config", cfgFile); err == nil || !strings.Contains(out, "still fails") {
			t.Fatalf("replay before the fix: %v\n%s", err, out)
		}
		for _, id := range quarantineIDs(t, cfg) {
			if id != ids[1] {
				a01 = id
			}
		}
	}
	again := quarantineIDs(t, cfg)
	if len(again) != 2 || again[0] != a01 || again[1] != ids[1] {
		t.Fatalf("after the A01's replays the quarantine holds %v (the A01 %s, the A08 %s), want the A01 first", again, a01, ids[1])
	}
	cfgFile, cfg = quarCfg(t, dir, "")
	if out, err := runQuarantine(t, "replay", strings.ToLower(again[0]), again[1], "--config", cfgFile); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if got, want := strings.Join(drainTypes(t, cfg), " "), "ADT^A01 ADT^A08"; got != want {
		t.Errorf("queued %s, want %s", got, want)
	}
}

// TestQuarantineReplayHeldKeepsItsPlace: with exchange.hold [R], a
// restricted patient's A01 is quarantined and their A08, which came
// after it, is held; replayed once the cause is fixed, the A01 is held
// too, in the place of its arrival, not as the newest held bundle: a
// release of both (which goes in the order held) sends the A01 first,
// and the A08 never overtakes it.
func TestQuarantineReplayHeldKeepsItsPlace(t *testing.T) {
	dir := t.TempDir()
	paths, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	exchange := fmt.Sprintf("exchange:\n  url: https://%s/fhir\n  tls: {ca_file: %q, cert_file: %q, key_file: %q}\n  hold: [R]\n",
		freeAddr(t), paths.CA, paths.ClientCert, paths.ClientKey)
	_, cfg := quarCfg(t, dir, exchange+tooSmall)
	if errs := ingest(t, cfg, mllpInput(heldADT("A01", "HK-1", "R", "Doe^Pat"), 1)); !queue.IsPermanent(errs[0]) {
		t.Fatalf("A01: %v, want quarantined", errs[0])
	}
	cfgFile, cfg := quarCfg(t, dir, exchange)
	if errs := ingest(t, cfg, mllpInput(heldADT("A08", "HK-2", "R", "Doe^Patricia"), 2)); errs[0] != nil {
		t.Fatalf("A08: %v, want held", errs[0])
	}
	if out, err := runQuarantine(t, "replay", "--all", "--config", cfgFile); err != nil || !strings.Contains(out, "1 held for review") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := held.List()
	if err != nil || len(ids) != 2 {
		t.Fatalf("held: %v %v", ids, err)
	}
	if e, err := held.Get(ids[0]); err != nil || e.Attrs["type"] != "ADT^A01" {
		typ := ""
		if e != nil {
			typ = e.Attrs["type"]
		}
		t.Fatalf("held first: %s %v, want the A01 (held %v)", typ, err, ids)
	}
	var out bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"release", ids[1], strings.ToLower(ids[0]), "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("release: %v\n%s", err, out.String())
	}
	if got, want := strings.Join(drainTypes(t, cfg), " "), "ADT^A01 ADT^A08"; got != want {
		t.Errorf("queued %s, want %s", got, want)
	}
}
