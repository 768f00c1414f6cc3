package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// quarCfg (re)writes the configuration file in dir with extra YAML and
// returns its path and the loaded configuration.
func quarCfg(t *testing.T, dir, extra string) (string, *config.Config) {
	t.Helper()
	p := filepath.Join(dir, "ferry.yaml")
	y := fmt.Sprintf("data_dir: %q\nstatus:\n  listen: %q\n%s", filepath.Join(dir, "data"), freeAddr(t), extra)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.DataDir, 0o700)
	return p, cfg
}

// ingest feeds inputs through the pipeline the gateway builds from cfg
// (its converters, queue, dedup set and quarantine), as its sources do,
// and returns what Consume answered for each.
func ingest(t *testing.T, cfg *config.Config, ins ...adapters.Raw) []error {
	t.Helper()
	key, err := opsKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.EnsureSiteID(); err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer seen.Close()
	pipe, _, err := ingestPipeline(cfg, q, seen, key, converters(cfg), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	for _, in := range ins {
		errs = append(errs, pipe.Consume(context.Background(), in))
	}
	return errs
}

// mllpInput is message n as the MLLP listener hands it over.
func mllpInput(msg string, n int) adapters.Raw {
	return adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: fmt.Sprintf("conn 1 msg %d", n), Body: []byte(msg),
		Received: time.Now().UTC(), Meta: map[string]string{"remote": "127.0.0.1:40000", "conn": "1"}}
}

// fileInput is msg as a folder source hands it over, in a file named
// after the patient.
func fileInput(msg, name string) adapters.Raw {
	sum := sha256.Sum256([]byte(msg))
	return adapters.Raw{Source: "folder/exports", Format: "hl7v2", Name: name, Body: []byte(msg), Received: time.Now().UTC(),
		Size: int64(len(msg)), Meta: map[string]string{folder.MetaFolder: "exports", folder.MetaFile: name,
			folder.MetaPath: "/srv/exports/.ferry/processing/" + name, folder.MetaSHA256: hex.EncodeToString(sum[:])}}
}

func runQuarantine(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cmdQuarantine(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), err
}

func quarantineIDs(t *testing.T, cfg *config.Config) []string {
	t.Helper()
	quar, err := pipeline.OpenQuarantine(cfg.Path("quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := opsKey(cfg)
	quar.SetKey(key)
	ids, err := quar.List()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func queueDepth(t *testing.T, cfg *config.Config) int {
	t.Helper()
	snap, err := diskq.Inspect(cfg.Path("queue"), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Stats.Depth
}

// tooSmall is a configuration under which every ADT message is
// quarantined: a patient-conditional bundle cannot be cut into
// transactions of one entry (each part repeats the Patient entry).
const tooSmall = "hl7v2:\n  max_entries: 1\n"

// TestQuarantineReplayAfterConfigFix: an MLLP message and an export file
// named after the patient are quarantined under a bad setting; list shows
// both without the file name; replayed before the fix they still fail and
// stay one entry each; after the fix, replay queues them and removes the
// entries. The dedup set did not swallow them (quarantined inputs are not
// remembered), but remembers them once queued.
func TestQuarantineReplayAfterConfigFix(t *testing.T) {
	dir := t.TempDir()
	cfgFile, cfg := quarCfg(t, dir, tooSmall)
	msg1, msg2 := fmt.Sprintf(testADT, 1, 1), fmt.Sprintf(testADT, 2, 2)
	for i, err := range ingest(t, cfg, mllpInput(msg1, 1), fileInput(msg2, "DOE_JANE_MRN777123.hl7")) {
		if !queue.IsPermanent(err) {
			t.Fatalf("input %d: %v, want quarantined", i, err)
		}
	}
	ids := quarantineIDs(t, cfg)
	if len(ids) != 2 {
		t.Fatalf("quarantine holds %v", ids)
	}
	sum := sha256.Sum256([]byte(msg2))
	out, err := runQuarantine(t, "list", "--config", cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	wantIn(t, "list", out, ids[0], ids[1], "mllp/main", "folder/exports", "conn 1 msg 1", "sha256="+hex.EncodeToString(sum[:])[:12],
		"split: entry 1 refers to 1 conditional entries", "2 quarantined input(s)")
	if strings.Contains(out, "DOE") || strings.Contains(out, "MRN777") {
		t.Errorf("list names the file:\n%s", out)
	}

	// Not fixed yet: each still fails and is still one entry.
	out, err = runQuarantine(t, "replay", "--all", "--config", cfgFile)
	if err == nil || !strings.Contains(out, "still fails: ") || !strings.Contains(out, "0 queued") {
		t.Fatalf("replay before the fix: %v\n%s", err, out)
	}
	if strings.Contains(out, "DOE") {
		t.Errorf("replay names the file:\n%s", out)
	}
	again := quarantineIDs(t, cfg)
	if len(again) != 2 || again[0] == ids[0] || again[1] == ids[1] {
		t.Fatalf("after a failed replay the quarantine holds %v (was %v), want two new entries", again, ids)
	}
	if n := queueDepth(t, cfg); n != 0 {
		t.Fatalf("queue holds %d item(s)", n)
	}

	cfgFile, cfg = quarCfg(t, dir, "")
	out, err = runQuarantine(t, "replay", again[0], "--config", cfgFile)
	if err != nil || !strings.Contains(out, again[0]+": queued (1 bundle(s)") || !strings.Contains(out, "1 of 1 quarantined input(s) replayed: 1 queued") {
		t.Fatalf("replay after the fix: %v\n%s", err, out)
	}
	if left := quarantineIDs(t, cfg); len(left) != 1 || left[0] != again[1] {
		t.Fatalf("after replay the quarantine holds %v, want only %s", left, again[1])
	}
	if out, err = runQuarantine(t, "replay", "--all", "--config", cfgFile); err != nil || !strings.Contains(out, "1 queued") {
		t.Fatalf("replay --all: %v\n%s", err, out)
	}
	if left := quarantineIDs(t, cfg); len(left) != 0 {
		t.Fatalf("quarantine still holds %v", left)
	}
	if n := queueDepth(t, cfg); n != 2 {
		t.Fatalf("queue holds %d item(s), want 2", n)
	}
	// Queued by the replay, the messages are remembered: the sender's
	// resend is a duplicate, not queued twice.
	if errs := ingest(t, cfg, mllpInput(msg1, 7)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if n := queueDepth(t, cfg); n != 2 {
		t.Fatalf("a resend after the replay was queued again: %d item(s)", n)
	}
}

// TestQuarantineReplayDuplicate: a message the sender sent again once the
// cause was fixed is already queued; replaying its old entry queues
// nothing and removes the entry.
func TestQuarantineReplayDuplicate(t *testing.T) {
	dir := t.TempDir()
	_, cfg := quarCfg(t, dir, tooSmall)
	msg := fmt.Sprintf(testADT, 3, 3)
	if errs := ingest(t, cfg, mllpInput(msg, 1)); !queue.IsPermanent(errs[0]) {
		t.Fatalf("%v, want quarantined", errs[0])
	}
	cfgFile, cfg := quarCfg(t, dir, "")
	if errs := ingest(t, cfg, mllpInput(msg, 2)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	ids := quarantineIDs(t, cfg)
	out, err := runQuarantine(t, "replay", ids[0], "--config", cfgFile)
	if err != nil || !strings.Contains(out, "queued before (a duplicate)") || !strings.Contains(out, "1 already queued before") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if left := quarantineIDs(t, cfg); len(left) != 0 {
		t.Fatalf("quarantine still holds %v", left)
	}
	if n := queueDepth(t, cfg); n != 1 {
		t.Fatalf("queue holds %d item(s), want 1", n)
	}
}

// TestQuarantineReplayStillFails: an entry whose input still cannot be
// converted is quarantined again with today's reason, and the old entry
// goes, so there is exactly one; the command exits non-zero.
func TestQuarantineReplayStillFails(t *testing.T) {
	dir := t.TempDir()
	cfgFile, cfg := quarCfg(t, dir, "")
	noID := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240101120000||ADT^A01|NOID1|P|2.5\rEVN|A01|20240101120000\rPID|1||||Doe^Jane||19800101|F\rPV1|1|O\r"
	quar, err := pipeline.OpenQuarantine(cfg.Path("quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	// As an older ferry kept it, with the reason it gave then.
	old, err := quar.Put(mllpInput(noID, 1), []byte(noID), errors.New("v2fhir: an older converter's reason"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runQuarantine(t, "replay", old, "--config", cfgFile)
	var ec exitCoder
	if err == nil || !errors.As(err, &ec) || ec.ExitCode() != 1 {
		t.Fatalf("replay of a still-bad input: %v\n%s", err, out)
	}
	ids := quarantineIDs(t, cfg)
	if len(ids) != 1 || ids[0] == old {
		t.Fatalf("quarantine holds %v (old %s), want one new entry", ids, old)
	}
	if want := "still fails: hl7v2 ae 101 at PID-3: v2fhir: PID-3 (segment 3): no patient identifier; kept as " + ids[0]; !strings.Contains(out, want) {
		t.Errorf("replay output lacks %q:\n%s", want, out)
	}
	e, err := quar.Get(ids[0])
	if err != nil || !strings.Contains(e.Reason, "PID-3") || e.Name != "conn 1 msg 1" || e.Source != "mllp/main" || e.Meta["remote"] != "127.0.0.1:40000" {
		t.Fatalf("new entry: %+v %v", e, err)
	}
	if n := queueDepth(t, cfg); n != 0 {
		t.Fatalf("queue holds %d item(s)", n)
	}
}

// TestQuarantinePurge: purge takes IDs, or --all only with --yes; an
// unknown ID fails with exit status 1.
func TestQuarantinePurge(t *testing.T) {
	dir := t.TempDir()
	cfgFile, cfg := quarCfg(t, dir, tooSmall)
	ingest(t, cfg, mllpInput(fmt.Sprintf(testADT, 1, 1), 1), mllpInput(fmt.Sprintf(testADT, 2, 2), 2), mllpInput(fmt.Sprintf(testADT, 3, 3), 3))
	ids := quarantineIDs(t, cfg)
	if len(ids) != 3 {
		t.Fatalf("quarantine holds %v", ids)
	}
	if _, err := runQuarantine(t, "purge", "--config", cfgFile); err == nil {
		t.Fatal("purge without IDs or --all succeeded")
	}
	if _, err := runQuarantine(t, "purge", "--all", "--config", cfgFile); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("purge --all without --yes: %v", err)
	}
	if out, err := runQuarantine(t, "purge", ids[0], "--config", cfgFile); err != nil || !strings.Contains(out, "1 of 1 quarantined input(s) deleted") {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	out, err := runQuarantine(t, "purge", "01NOSUCHID0000000000000000", "--config", cfgFile)
	var ec exitCoder
	if err == nil || !errors.As(err, &ec) || ec.ExitCode() != 1 || !strings.Contains(out, "01NOSUCHID0000000000000000: no quarantined input with this ID") {
		t.Fatalf("purge of an unknown ID: %v\n%s", err, out)
	}
	if out, err := runQuarantine(t, "purge", "--all", "--yes", "--config", cfgFile); err != nil || !strings.Contains(out, "2 of 2 quarantined input(s) deleted") {
		t.Fatalf("purge --all: %v\n%s", err, out)
	}
	if left := quarantineIDs(t, cfg); len(left) != 0 {
		t.Fatalf("quarantine still holds %v", left)
	}
	if out, err := runQuarantine(t, "list", "--config", cfgFile); err != nil || !strings.Contains(out, "nothing is quarantined") {
		t.Fatalf("list: %v\n%s", err, out)
	}
}

// TestQuarantineReplayRefusedWhileGatewayRuns: while another process (the
// gateway, or a replay or release in another terminal) holds the queue,
// replay refuses, naming both (told only to stop the gateway, a person
// whose service is stopped is left at a loss), and changes nothing.
func TestQuarantineReplayRefusedWhileGatewayRuns(t *testing.T) {
	dir := t.TempDir()
	_, cfg := quarCfg(t, dir, tooSmall)
	ingest(t, cfg, mllpInput(fmt.Sprintf(testADT, 1, 1), 1))
	cfgFile, cfg := quarCfg(t, dir, "")
	ids := quarantineIDs(t, cfg)
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	_, err = runQuarantine(t, "replay", ids[0], "--config", cfgFile)
	if err == nil || !strings.Contains(err.Error(), "the gateway is running and holds the queue, or another ferry command does (a replay or a release in another terminal)") {
		t.Fatalf("replay with the queue locked: %v", err)
	}
	if left := quarantineIDs(t, cfg); len(left) != 1 || left[0] != ids[0] {
		t.Fatalf("refused replay changed the quarantine: %v", left)
	}
	if q.Len() != 0 {
		t.Fatalf("refused replay queued %d item(s)", q.Len())
	}
}

// TestQuarantineCommandsAudited: show --raw prints the input and is
// recorded as a read (before it prints); replay and purge are recorded
// too, naming the person, the entry and, for a queued replay, the patient
// key and the queue item; never the file name.
func TestQuarantineCommandsAudited(t *testing.T) {
	repo := newUDPRepo(t)
	dir := t.TempDir()
	_, cfg := auditCfgFile(t, dir, repo.URL(), tooSmall)
	name := "DOE_JANE_MRN777123.hl7"
	msg1, msg2 := fmt.Sprintf(testADT, 1, 1), fmt.Sprintf(testADT, 2, 2)
	ingest(t, cfg, fileInput(msg1, name), mllpInput(msg2, 2))
	cfgFile, cfg := auditCfgFile(t, dir, repo.URL(), "")
	ids := quarantineIDs(t, cfg)

	out, err := runQuarantine(t, "show", ids[0], "--raw", "--config", cfgFile)
	if err != nil {
		t.Fatalf("show: %v\n%s", err, out)
	}
	wantIn(t, "show", out, "name:      "+name, "source:    folder/exports", "reason:\n  split: entry 1 refers to 1 conditional entries",
		"PID|1||00001^^^HOSP^MR||Doe^Jane||19800101|F\nPV1|1|O\n")
	show := repo.next()
	wantIn(t, "show event", show, `csd-code="110110"`, `EventActionCode="R"`, `EventOutcomeIndicator="0"`, `csd-code="quarantine-read"`,
		`ParticipantObjectID="`+ids[0]+`"`, `csd-code="quarantined-input"`, `UserID="`+me(t)+`"`, `csd-code="humanuser"`)

	if out, err := runQuarantine(t, "replay", ids[0], "--config", cfgFile); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	replay := repo.next()
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	it, _, err := q.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q.Close(context.Background())
	wantIn(t, "replay event", replay, `csd-code="110110"`, `EventActionCode="U"`, `EventOutcomeIndicator="0"`, `csd-code="quarantine-replay"`,
		`ParticipantObjectID="`+ids[0]+`"`, `ParticipantObjectID="`+it.ID+`"`, `ParticipantObjectID="`+it.Key+`"`, `UserID="`+me(t)+`"`)

	if out, err := runQuarantine(t, "purge", ids[1], "--config", cfgFile); err != nil {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	purge := repo.next()
	wantIn(t, "purge event", purge, `EventActionCode="D"`, `EventOutcomeIndicator="0"`, `csd-code="quarantine-purge"`, `ParticipantObjectID="`+ids[1]+`"`)
	for _, ev := range []string{show, replay, purge} {
		if strings.Contains(ev, "DOE") || strings.Contains(ev, "MRN777") || strings.Contains(ev, "Jane") {
			t.Errorf("event names the file or the patient:\n%s", ev)
		}
	}
}

// TestQuarantineShowRefusedUnaudited: with audit configured but its trail
// unwritable (the TLS key unreadable), show prints nothing.
func TestQuarantineShowRefusedUnaudited(t *testing.T) {
	dir := t.TempDir()
	_, cfg := quarCfg(t, dir, tooSmall)
	ingest(t, cfg, mllpInput(fmt.Sprintf(testADT, 1, 1), 1))
	p, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cfgFile, _ := auditCfgFile(t, dir, "tls://"+freeAddr(t), fmt.Sprintf("  tls: {ca_file: %q, cert_file: %q, key_file: %q}\n",
		p.CA, p.ClientCert, p.ClientKey))
	os.Rename(p.ClientKey, p.ClientKey+".gone")
	ids := quarantineIDs(t, cfg)
	out, err := runQuarantine(t, "show", ids[0], "--raw", "--config", cfgFile)
	if err == nil || !strings.Contains(err.Error(), "audit trail") || strings.Contains(out, "Doe^Jane") {
		t.Fatalf("show without a writable audit trail: %v\n%s", err, out)
	}
}

// TestQuarantineWithKey: with encryption.key_file set, entries are sealed
// on disk, and list, show --raw and replay read them through the key.
func TestQuarantineWithKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ferry.key")
	if _, err := seal.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	enc := fmt.Sprintf("encryption:\n  key_file: %q\n", keyFile)
	_, cfg := quarCfg(t, dir, enc+tooSmall)
	ingest(t, cfg, mllpInput(fmt.Sprintf(testADT, 1, 1), 1))
	cfgFile, cfg := quarCfg(t, dir, enc)
	ids := quarantineIDs(t, cfg)
	if len(ids) != 1 {
		t.Fatalf("quarantine holds %v", ids)
	}
	b, err := os.ReadFile(filepath.Join(cfg.Path("quarantine"), ids[0]+".json"))
	// Markers of eight bytes or more: a short one ("PID") turns up in 730
	// bytes of ciphertext about once in 10,000 runs.
	if err != nil || !bytes.HasPrefix(b, []byte("FERRYSEAL")) {
		t.Fatalf("entry not sealed on disk (%v):\n%.200s", err, b)
	}
	// In clear the entry is JSON, with the input in base64.
	for _, clear := range []string{`"reason"`, `"source"`, base64.StdEncoding.EncodeToString([]byte(`MSH|^~\&|`))} {
		if bytes.Contains(b, []byte(clear)) {
			t.Fatalf("sealed entry holds %q in clear:\n%.200s", clear, b)
		}
	}
	if out, err := runQuarantine(t, "list", "--config", cfgFile); err != nil || !strings.Contains(out, "conditional entries") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := runQuarantine(t, "show", ids[0], "--raw", "--config", cfgFile); err != nil || !strings.Contains(out, "||Doe^Jane||") {
		t.Fatalf("show --raw: %v\n%s", err, out)
	}
	if out, err := runQuarantine(t, "replay", ids[0], "--config", cfgFile); err != nil || !strings.Contains(out, "1 queued") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if left := quarantineIDs(t, cfg); len(left) != 0 {
		t.Fatalf("quarantine still holds %v", left)
	}
	key, _ := opsKey(cfg)
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	it, _, err := q.Get(context.Background())
	if err != nil || !bytes.Contains(it.Body, []byte(`"resourceType":"Bundle"`)) || it.Key == "" {
		t.Fatalf("queued item: %v %.200s", err, it.Body)
	}
}

// TestQuarantineReasonWithoutPHI: what list prints of an entry's reason
// and name: a panic is cut to the text the sender was given, and a file
// name (in the reason too, wherever the converter put it) gives way to
// the content hash.
func TestQuarantineReasonWithoutPHI(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	file := &pipeline.QuarantineEntry{Source: "folder/fax", Name: "DOE_JANE_MRN777123.tif",
		Reason: "DOE_JANE_MRN777123.tif: fax DOE_JANE_MRN777123.tif: not a TIFF or PDF", Meta: map[string]string{"sha256": sum}}
	if got, want := quarantineName(file), "sha256=abababababab"; got != want {
		t.Errorf("name %q, want %q", got, want)
	}
	if got, want := quarantineReason(file), "sha256=abababababab: fax sha256=abababababab: not a TIFF or PDF"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	panicked := &pipeline.QuarantineEntry{Source: "mllp/main", Name: "conn 2 msg 9",
		Reason: "conn 2 msg 9: internal error: the converter panicked: bad value \"Doe^Jane\"\n\ngoroutine 7 [running]:\n..."}
	if got, want := quarantineReason(panicked), "conn 2 msg 9: internal error: the converter panicked"; got != want {
		t.Errorf("panic reason %q, want %q", got, want)
	}
	if got := quarantineName(panicked); got != "conn 2 msg 9" {
		t.Errorf("MLLP name %q", got)
	}
}

// TestQuarantineRawText: show --raw prints HL7 v2 in UTF-8 or ISO 8859-1
// one segment a line, and not a binary input (a TIFF) or one carrying
// terminal escape sequences.
func TestQuarantineRawText(t *testing.T) {
	var out bytes.Buffer
	printRaw(&out, []byte("MSH|^~\\&|A\rPID|1||1^^^H^MR||M\xfcller^Hans\r"))
	if want := "PID|1||1^^^H^MR||Müller^Hans\n"; !strings.Contains(out.String(), "MSH|^~\\&|A\n"+want) {
		t.Errorf("ISO 8859-1 message printed as:\n%s", out.String())
	}
	for _, bin := range []string{"II*\x00\x08\x00\x00\x00", "MSH|^~\\&|\x1b]0;pwned\x07\r"} {
		out.Reset()
		printRaw(&out, []byte(bin))
		if !strings.Contains(out.String(), "binary: not printed") {
			t.Errorf("%q printed as:\n%s", bin, out.String())
		}
	}
}

// TestQuarantineReplayKeepsPatientOrder: inputs replayed together go
// through the pipeline in the order they were quarantined, whatever order
// their IDs were given in: a patient's A08 named before its A01 would
// otherwise be queued, and delivered, first and overtake it.
func TestQuarantineReplayKeepsPatientOrder(t *testing.T) {
	dir := t.TempDir()
	_, cfg := quarCfg(t, dir, tooSmall)
	a01 := fmt.Sprintf(testADT, 1, 7)
	a08 := strings.NewReplacer("ADT^A01", "ADT^A08", "EVN|A01", "EVN|A08").Replace(fmt.Sprintf(testADT, 2, 7))
	a03 := strings.NewReplacer("ADT^A01", "ADT^A03", "EVN|A01", "EVN|A03").Replace(fmt.Sprintf(testADT, 3, 7))
	for i, err := range ingest(t, cfg, mllpInput(a01, 1), mllpInput(a08, 2), mllpInput(a03, 3)) {
		if !queue.IsPermanent(err) {
			t.Fatalf("input %d: %v, want quarantined", i, err)
		}
	}
	ids := quarantineIDs(t, cfg)
	if len(ids) != 3 {
		t.Fatalf("quarantine holds %v", ids)
	}
	cfgFile, cfg := quarCfg(t, dir, "")
	if out, err := runQuarantine(t, "replay", ids[2], ids[0], ids[1], "--config", cfgFile); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
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
	if want := "ADT^A01 ADT^A08 ADT^A03"; strings.Join(got, " ") != want {
		t.Errorf("queued %v, want %s", got, want)
	}
}
