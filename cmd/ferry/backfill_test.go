package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// backfillCfg writes a configuration with data_dir under dir and extra
// appended, and loads it.
func backfillCfg(t *testing.T, dir, extra string) (string, *config.Config) {
	t.Helper()
	p := filepath.Join(dir, "ferry.yaml")
	y := fmt.Sprintf("data_dir: %q\n%s", filepath.Join(dir, "data"), extra)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, cfg
}

// queuedBodies drains the queue of cfg and returns the bundles in the
// order they would be delivered.
func queuedBodies(t *testing.T, cfg *config.Config) []string {
	t.Helper()
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	var out []string
	for n := q.Len(); n > 0; n-- {
		it, ack, err := q.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		body := it.Body
		if it.BodyFile != "" {
			body, _ = os.ReadFile(it.BodyFile)
		}
		out = append(out, string(body))
		if err := ack(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func putFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBackfillAsFaxInbox: an old fax folder backfilled with --folder
// takes the inbox's file name patterns and sidecars as the live inbox
// does. The same image named for two patients is two documents, one per
// patient (the journal keys a file by its name too, not its content
// alone); the JSON sidecar goes with its fax instead of being fed as FHIR
// JSON and quarantined; a second run queues nothing.
func TestBackfillAsFaxInbox(t *testing.T) {
	dir := t.TempDir()
	img, err := os.ReadFile("../../testdata/fax/g4-fine-1p.tif")
	if err != nil {
		t.Fatal(err)
	}
	exp := filepath.Join(dir, "old-faxes")
	putFile(t, filepath.Join(exp, "2019", "12345_referral.tif"), img)
	putFile(t, filepath.Join(exp, "2019", "67890_referral.tif"), img)
	putFile(t, filepath.Join(exp, "2020", "scan.tif"), img)
	putFile(t, filepath.Join(exp, "2020", "scan.json"), []byte(`{"PatientID": "55555", "CallerNumber": "+15551234567"}`))
	cfgFile, cfg := backfillCfg(t, dir, fmt.Sprintf(`sources:
  folders:
    - name: faxin
      kind: fax
      path: %q
      patterns: ['^(?P<mrn>\d+)_']
fax:
  source_id: "1.2.3.4.5"
  patient_system: "urn:oid:1.2.3.4.5.6"
`, filepath.Join(dir, "live-inbox")))
	var out bytes.Buffer
	if err := cmdBackfill(context.Background(), []string{exp, "--folder", "faxin", "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	quar, _ := pipeline.OpenQuarantine(cfg.Path("quarantine"))
	if ids, _ := quar.List(); len(ids) != 0 {
		t.Errorf("quarantined %d input(s), want none:\n%s", len(ids), out.String())
	}
	bodies := queuedBodies(t, cfg)
	if len(bodies) != 3 {
		t.Fatalf("queued %d bundles, want 3 (one per patient):\n%s", len(bodies), out.String())
	}
	joined := strings.Join(bodies, "\n")
	for _, mrn := range []string{"12345", "67890", "55555"} {
		if !strings.Contains(joined, `"value":"`+mrn+`"`) {
			t.Errorf("no bundle names patient %s", mrn)
		}
	}
	out.Reset()
	if err := cmdBackfill(context.Background(), []string{exp, "--folder", "faxin", "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("second run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "0 converted now, 3 already done") {
		t.Errorf("second run:\n%s", out.String())
	}
}

// TestBackfillAsEHRFolder: with --folder naming an EHR drop, CSV files
// are read with the folder's csv mappings and ZIP archives (XDM, EHI
// exports) are opened, as the live drop does; before, both were listed as
// "not a format ferry converts" and never sent.
func TestBackfillAsEHRFolder(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "old-ehr")
	csvBody, err := os.ReadFile("../../testdata/convert/csv-patients/input.csv")
	if err != nil {
		t.Fatal(err)
	}
	mapping, err := os.ReadFile("../../testdata/convert/csv-patients/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	putFile(t, filepath.Join(exp, "patients-2019.csv"), csvBody)
	ccd, err := os.ReadFile("../../adapters/ehrdrop/testdata/ccd.xml")
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("IHE_XDM/SUBSET01/DOC0001.XML")
	w.Write(ccd)
	zw.Close()
	putFile(t, filepath.Join(exp, "export-2020.zip"), zb.Bytes())
	var indented strings.Builder
	for i, l := range strings.Split(strings.TrimSpace(string(mapping)), "\n") {
		if i == 0 {
			indented.WriteString("        - " + l + "\n")
		} else {
			indented.WriteString("          " + l + "\n")
		}
	}
	cfgFile, cfg := backfillCfg(t, dir, fmt.Sprintf(`sources:
  folders:
    - name: ehr
      kind: ehr
      path: %q
      csv:
%s`, filepath.Join(dir, "live-drop"), indented.String()))
	var out bytes.Buffer
	if err := cmdBackfill(context.Background(), []string{exp, "--folder", "ehr", "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "skipped (") {
		t.Errorf("files skipped:\n%s", out.String())
	}
	bodies := queuedBodies(t, cfg)
	joined := strings.Join(bodies, "\n")
	if !strings.Contains(joined, `"resourceType":"Composition"`) && !strings.Contains(joined, `"DocumentReference"`) {
		t.Errorf("the C-CDA inside the ZIP was not queued (%d bundles):\n%s", len(bodies), out.String())
	}
	if !strings.Contains(joined, `"resourceType":"Patient"`) || len(bodies) < 2 {
		t.Errorf("the CSV's patients were not queued (%d bundles):\n%s", len(bodies), out.String())
	}
}

// TestBackfillUnknownFolder: --folder naming no configured folder is
// refused with the names there are, before anything is read.
func TestBackfillUnknownFolder(t *testing.T) {
	dir := t.TempDir()
	cfgFile, _ := backfillCfg(t, dir, fmt.Sprintf("sources:\n  folders:\n    - {name: faxin, kind: fax, path: %q}\nfax: {source_id: \"1.2.3\"}\n", dir))
	err := cmdBackfill(context.Background(), []string{dir, "--folder", "fax", "--config", cfgFile}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `"fax"`) || !strings.Contains(err.Error(), "faxin") {
		t.Fatalf("err %v", err)
	}
}

// TestBackfillDamagedArchiveIsListed: an EHR drop refuses a damaged ZIP
// archive as a whole, before any conversion, and the live engine moves
// it to failed/ with the reason; backfill counted it as quarantined
// although the quarantine had nothing of it. It is now listed as failed
// with the reason (it stays in the export), not remembered as done, and
// the counts add up.
func TestBackfillDamagedArchiveIsListed(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "old-ehr")
	putFile(t, filepath.Join(exp, "export-2021.zip"), []byte("PK\x03\x04 this archive was cut short"))
	putFile(t, filepath.Join(exp, "m1.hl7"), []byte(fmt.Sprintf(testADT, 1, 1)))
	cfgFile, cfg := backfillCfg(t, dir, fmt.Sprintf("sources:\n  folders:\n    - {name: ehr, kind: ehr, path: %q}\n", filepath.Join(dir, "live")))
	for run := 1; run <= 2; run++ {
		var out bytes.Buffer
		err := cmdBackfill(context.Background(), []string{exp, "--folder", "ehr", "--config", cfgFile}, &out, io.Discard)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out.String())
		}
		quar, _ := pipeline.OpenQuarantine(cfg.Path("quarantine"))
		ids, _ := quar.List()
		if strings.Contains(out.String(), fmt.Sprintf("%d quarantined", len(ids)+1)) || !strings.Contains(out.String(), "failed (refused whole; it stays in the export): sha256=") {
			t.Errorf("run %d: quarantine holds %d entries:\n%s", run, len(ids), out.String())
		}
	}
}

// TestBackfillOutputHidesNames: export file names are often the
// patient's name and chart number. backfill listed the files it skipped
// or could not take by name on the terminal, where `ferry quarantine
// list` names the same inputs by content hash; it now does the same, and
// --phi shows the names.
func TestBackfillOutputHidesNames(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "old-ehr")
	putFile(t, filepath.Join(exp, "DOE_JANE_MRN777123_letter.docx"), []byte("PK\x03\x04 a word file"))
	putFile(t, filepath.Join(exp, "ROE_RICH_MRN888555_export.zip"), []byte("PK\x03\x04 this archive was cut short"))
	putFile(t, filepath.Join(exp, "m1.hl7"), []byte(fmt.Sprintf(testADT, 1, 1)))
	cfgFile, _ := backfillCfg(t, dir, fmt.Sprintf("sources:\n  folders:\n    - {name: ehr, kind: ehr, path: %q, include: ['*.zip', '*.hl7', '*.docx']}\n", filepath.Join(dir, "live")))
	var out bytes.Buffer
	if err := cmdBackfill(context.Background(), []string{exp, "--folder", "ehr", "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, leak := range []string{"DOE_JANE", "MRN777123", "ROE_RICH", "MRN888555"} {
		if strings.Contains(out.String(), leak) {
			t.Errorf("output names %s:\n%s", leak, out.String())
		}
	}
	if strings.Count(out.String(), "sha256=") < 2 || !strings.Contains(out.String(), "--phi") {
		t.Errorf("files not named by hash:\n%s", out.String())
	}
	out.Reset()
	if err := cmdBackfill(context.Background(), []string{exp, "--folder", "ehr", "--phi", "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "DOE_JANE_MRN777123_letter.docx") || !strings.Contains(out.String(), "ROE_RICH_MRN888555_export.zip") {
		t.Errorf("--phi does not name the files:\n%s", out.String())
	}
}

// TestBackfillStopHidesName: a run that stops because the queue is full
// says which file it stopped at by content hash, not by its name.
func TestBackfillStopHidesName(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "old")
	putFile(t, filepath.Join(exp, "1_DOE_JANE_MRN777123.hl7"), []byte(fmt.Sprintf(testADT, 1, 1)))
	putFile(t, filepath.Join(exp, "2_ROE_RICH_MRN888555.hl7"), []byte(fmt.Sprintf(testADT, 2, 2)))
	cfgFile, _ := backfillCfg(t, dir, "queue:\n  max_items: 1\n")
	var out bytes.Buffer
	err := cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, &out, io.Discard)
	if err == nil || strings.Contains(err.Error(), "ROE_RICH") || strings.Contains(err.Error(), "MRN888555") || !strings.Contains(err.Error(), "sha256=") {
		t.Fatalf("err %v\n%s", err, out.String())
	}
	t.Log(err)
}

// TestBackfillRefusedWhileGatewayRuns: while another process (the
// gateway) holds the queue, backfill refuses with what to do, and
// neither queues nor remembers anything.
func TestBackfillRefusedWhileGatewayRuns(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "old")
	putFile(t, filepath.Join(exp, "m1.hl7"), []byte(fmt.Sprintf(testADT, 1, 1)))
	cfgFile, cfg := backfillCfg(t, dir, "")
	os.MkdirAll(cfg.DataDir, 0o700)
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	err = cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the gateway is running and holds the queue: stop it (`ferry stop` for the service, Ctrl-C for a `ferry run` in a terminal), run the backfill, then `ferry start`") {
		t.Fatalf("backfill with the queue locked: %v", err)
	}
	if _, err := os.Stat(cfg.Path("backfill.seen")); err == nil || q.Len() != 0 {
		t.Fatalf("refused backfill left a journal (%v) or queued %d item(s)", err, q.Len())
	}
}

// TestBackfillRefusesDataOfAnotherKey: data_dir holds items sealed with a
// key the configuration no longer names (encryption turned off, or a new
// key without the old one as previous). The gateway does not start then;
// backfill went ahead and queued the export unsealed (or sealed with a key
// that may be thrown away when the old one is put back), so thousands of
// patients' records sat in clear in a data_dir meant to be encrypted. It
// now refuses with the gateway's explanation and queues nothing.
func TestBackfillRefusesDataOfAnotherKey(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "old")
	putFile(t, filepath.Join(exp, "m1.hl7"), []byte(fmt.Sprintf(testADT, 1, 1)))
	cfgFile, cfg, k := sealedDataDir(t, dir)
	err := cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "data_dir holds data sealed with key "+k.ID()) {
		t.Fatalf("backfill beside data of another key: %v", err)
	}
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	if q.Len() != 1 {
		t.Fatalf("queue holds %d item(s), want the 1 it had", q.Len())
	}
}

// TestOpsQueueRefusesDataOfAnotherKey: every command that stores into the
// queue with the gateway stopped (`held release`, `quarantine replay`,
// `queue retry`, `merges undo`, backfill) opens it through openQueue,
// which refuses, as the gateway's start does, while data_dir holds data
// sealed with a key the configuration does not name: with encryption
// turned off, a replay stored its bundles unsealed into a data_dir meant
// to be encrypted.
func TestOpsQueueRefusesDataOfAnotherKey(t *testing.T) {
	_, cfg, k := sealedDataDir(t, t.TempDir())
	if q, err := openQueue(cfg, nil); err == nil || !strings.Contains(err.Error(), "data_dir holds data sealed with key "+k.ID()) {
		if q != nil {
			q.Close(context.Background())
		}
		t.Fatalf("openQueue without the key beside data sealed with it: %v", err)
	}
	q, err := openQueue(cfg, k)
	if err != nil {
		t.Fatalf("openQueue with the key: %v", err)
	}
	q.Close(context.Background())
}

// sealedDataDir makes a configuration (without encryption) in dir whose
// data_dir's queue holds one item sealed with a new key file, k.
func sealedDataDir(t *testing.T, dir string) (cfgFile string, cfg *config.Config, k *seal.Key) {
	t.Helper()
	k, err := seal.GenerateKeyFile(filepath.Join(dir, "ferry.key"))
	if err != nil {
		t.Fatal(err)
	}
	cfgFile, cfg = backfillCfg(t, dir, "")
	os.MkdirAll(cfg.DataDir, 0o700)
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), &queue.Item{Key: "p1", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	q.Close(context.Background())
	return cfgFile, cfg, k
}
