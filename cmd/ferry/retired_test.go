package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestDocumentsUnderRetiredMRNGoToSurvivor: with the gateway's wiring
// (converters, ingestPipeline, openMerges over one data_dir), an HL7 v2
// A40 merges MRN-RES1 into MRN-SURV1, and afterwards a C-CDA from the
// EHR's export folder, a fax whose sidecar names MRN-RES1 and a CSV
// export row under MRN-RES1 are all queued for the survivor: ordered
// under its key, naming it, never the retired record; each re-tie is
// counted and logged without PHI.
func TestDocumentsUnderRetiredMRNGoToSurvivor(t *testing.T) {
	const system = "urn:oid:2.16.840.1.113883.19.5.99999.2"
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Identifiers.Systems = map[string]string{"HOSP": system}
	cfg.Fax.PatientSystem = system
	var ehr config.Folder
	ehr.Name, ehr.Kind = "ehr", "ehr"
	ehr.CSV = []csvfhir.Mapping{{Match: "proc*.csv", Resource: "Procedure", TimeZone: "UTC",
		Patient: &csvfhir.ColumnIdentifier{Column: "MRN", System: system},
		Columns: csvfhir.Columns{{Header: "Code", Path: "code"}, {Header: "System", Path: "code.system"}, {Header: "Done", Path: "performedDateTime"}}}}
	cfg.Sources.Folders = append(cfg.Sources.Folders, ehr)
	if _, err := cfg.EnsureSiteID(); err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer seen.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	convs := converters(cfg)
	pipe, _, err := ingestPipeline(cfg, q, seen, nil, convs, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := openMerges(cfg, nil, convs, pipe, log)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()

	ccda, err := os.ReadFile("../../testdata/convert/ccda-result/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	tif, err := os.ReadFile("../../testdata/fax/g4-fine-1p.tif")
	if err != nil {
		t.Fatal(err)
	}
	fax := faxfhir.Fax{Received: time.Now(), Pages: 1, MRN: "MRN-RES1", PatientName: "Stale, Name"}
	now := time.Now()
	ins := []adapters.Raw{
		{Source: "mllp/main", Format: "hl7v2", Name: "a40", Received: now, Body: []byte("MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M40|P|2.5\r" +
			"EVN|A40|20240321085900\rPID|1||MRN-SURV1^^^HOSP^MR||ONeil^Sean||20010101|M\rMRG|MRN-RES1^^^HOSP^MR\r")},
		{Source: "folder/ehr", Format: "ccda", Name: "ccd.xml", Received: now, Body: ccda},
		{Source: "folder/fax", Format: "fax", Name: "fax.tif", Received: now, Body: tif, Meta: fax.Meta()},
		{Source: "folder/ehr", Format: "csv", Name: "proc.csv", Received: now, Meta: map[string]string{folder.MetaFolder: "ehr"},
			Body: []byte("MRN,Code,System,Done\nMRN-RES1,80146002,snomed,2024-03-04\n")},
	}
	for _, in := range ins {
		if err := pipe.Consume(context.Background(), in); err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
	}
	key := fhir.PatientKey(system, "MRN-SURV1")
	for _, name := range []string{"a40", "ccda", "fax", "csv"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		it, ack, err := q.Get(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ack(context.Background(), nil)
		if it.Key != key {
			t.Errorf("%s queued under %s, want the survivor's key %s", name, it.Key, key)
		}
		if name != "a40" {
			if bytes.Contains(it.Body, []byte(`"MRN-RES1"`)) || bytes.Contains(it.Body, []byte("%7CMRN-RES1")) {
				t.Errorf("%s names the retired MRN: %s", name, it.Body)
			}
			if !bytes.Contains(it.Body, []byte("MRN-SURV1")) {
				t.Errorf("%s does not name the survivor: %s", name, it.Body)
			}
		}
	}
	if n := pipe.Stats().Retied.Load(); n != 3 {
		t.Errorf("Stats.Retied = %d, want 3 (C-CDA, fax, CSV)", n)
	}
	if n := strings.Count(logs.String(), "tied to the surviving patient"); n != 3 {
		t.Errorf("%d INFO lines of a re-tie, want 3: %s", n, logs.String())
	}
	for _, phi := range []string{"MRN-RES1", "MRN-SURV1", "Stale", "ONeil"} {
		if strings.Contains(logs.String(), phi) {
			t.Errorf("log holds %q: %s", phi, logs.String())
		}
	}
}
