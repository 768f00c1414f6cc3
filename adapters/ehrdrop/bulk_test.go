package ehrdrop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// bulkSet is a small Bulk Data export as Synthea or a FHIR server writes
// it: one NDJSON file per resource type, the lines referring to each
// other by Type/id. Encounters name their practitioner, organization and
// location; Observations their encounter.
func bulkSet() map[string]string {
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	files := map[string]string{}
	take := func(name string) { files[name] = b.String(); b.Reset() }
	line(`{"resourceType":"Organization","id":"org1","name":"Clinic"}`)
	take("Organization.ndjson")
	line(`{"resourceType":"Location","id":"loc1","name":"Room 1","managingOrganization":{"reference":"Organization/org1"}}`)
	take("Location.ndjson")
	line(`{"resourceType":"Practitioner","id":"pr1","name":[{"family":"Doc"}]}`)
	take("Practitioner.ndjson")
	line(`{"resourceType":"PractitionerRole","id":"prr1","practitioner":{"reference":"Practitioner/pr1"},"organization":{"reference":"Organization/org1"},"location":[{"reference":"Location/loc1"}]}`)
	take("PractitionerRole.ndjson")
	for _, p := range []string{"p1", "p2"} {
		line(`{"resourceType":"Patient","id":"%s","name":[{"family":"Test"}],"managingOrganization":{"reference":"Organization/org1"},"generalPractitioner":[{"reference":"PractitionerRole/prr1"}]}`, p)
	}
	take("Patient.ndjson")
	for _, p := range []string{"p1", "p2"} {
		line(`{"resourceType":"Encounter","id":"e-%s","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/%s"},"participant":[{"individual":{"reference":"Practitioner/pr1"}}],"location":[{"location":{"reference":"Location/loc1"}}],"serviceProvider":{"reference":"Organization/org1"}}`, p, p)
	}
	take("Encounter.ndjson")
	for _, p := range []string{"p1", "p2"} {
		line(`{"resourceType":"Observation","id":"o-%s","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/%s"},"encounter":{"reference":"Encounter/e-%s"}}`, p, p, p)
	}
	take("Observation.ndjson")
	return files
}

// newDiskPipeline is the gateway's pipeline for FHIR drops over a real
// disk queue.
func newDiskPipeline(t *testing.T) (*pipeline.Pipeline, *diskq.Queue) {
	t.Helper()
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()) })
	quar, err := pipeline.OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.New(q, &memSeen{}, quar, map[string]pipeline.Converter{
		FormatFHIRNDJSON: pipeline.FHIRJSON{},
		FormatFHIRJSON:   pipeline.FHIRJSON{},
	}, nil), q
}

// delivered is one item as the queue hands it to the transport.
type delivered struct{ typ, id, key string }

// drain takes every item from q as the transport does (lease, deliver,
// settle), one at a time, and returns them in the order handed out.
func drain(t *testing.T, q *diskq.Queue) []delivered {
	t.Helper()
	var out []delivered
	for q.Len() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		it, ack, err := q.Get(ctx)
		cancel()
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		var b struct {
			Entry []struct {
				Resource struct{ ResourceType, ID string }
			}
		}
		if err := json.Unmarshal(it.Body, &b); err != nil || len(b.Entry) != 1 {
			t.Fatalf("queued %s: %v", it.Body, err)
		}
		out = append(out, delivered{b.Entry[0].Resource.ResourceType, b.Entry[0].Resource.ID, it.Key})
		if err := ack(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// placeAll writes the files into stage and renames them into dir, each
// with the modification time mtime gives it, so that the folder sees
// them all at once, as after `cp -p export/*.ndjson` or a move.
func placeAll(t *testing.T, stage, dir string, files map[string]string, mtime func(name string) time.Time) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(stage, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime(name), mtime(name)); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBulkExportDependencyOrder: the files of a bulk export that wait in
// the folder together are taken in dependency order (Organization,
// Location, Practitioner, then Patient, then Encounter, then the rest),
// whatever their names' order or modification times say. Each line is
// keyed to its patient and the queue hands out one patient's items in
// the order queued, so the order files are taken in is the order the
// exchange receives a patient's resources: before, with the same mtime
// (name order) or with `cp` writing Patient.ndjson after Encounter.ndjson
// and Observation.ndjson, the exchange got Encounter/e-p1 before
// Patient/p1, which HAPI FHIR refuses (referential integrity) and ferry
// dead-letters.
func TestBulkExportDependencyOrder(t *testing.T) {
	base := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	// cp writes the files in name order, each after the one before.
	cpOrder := []string{"Encounter.ndjson", "Location.ndjson", "Observation.ndjson", "Organization.ndjson", "Patient.ndjson", "Practitioner.ndjson", "PractitionerRole.ndjson"}
	for _, c := range []struct {
		name  string
		mtime func(string) time.Time
	}{
		{"same mtime", func(string) time.Time { return base }},
		{"written in name order", func(name string) time.Time {
			for i, n := range cpOrder {
				if n == name {
					return base.Add(time.Duration(i) * time.Second)
				}
			}
			return base
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			pipe, q := newDiskPipeline(t)
			rec := &recorder{next: pipe}
			placeAll(t, t.TempDir(), dir, bulkSet(), c.mtime)
			s := startSource(t, zipConfig(dir), rec)
			for name := range bulkSet() {
				if reason := settled(t, s, name, false); reason != "" {
					t.Fatal(reason)
				}
			}
			var taken []string
			for _, in := range rec.all() {
				taken = append(taken, in.Name)
			}
			want := "Organization.ndjson,Location.ndjson,Practitioner.ndjson,PractitionerRole.ndjson,Patient.ndjson,Encounter.ndjson,Observation.ndjson"
			if got := strings.Join(taken, ","); got != want {
				t.Errorf("files taken in the order\n%s\nwant\n%s", got, want)
			}
			first := map[string]string{}
			for _, d := range drain(t, q) {
				if d.key == "" || d.key == pipeline.DirectoryKey {
					continue
				}
				if _, ok := first[d.key]; !ok {
					first[d.key] = d.typ + "/" + d.id
				}
			}
			if len(first) != 2 {
				t.Fatalf("delivered under %d patient keys, want 2: %v", len(first), first)
			}
			for key, res := range first {
				if !strings.HasPrefix(res, "Patient/") {
					t.Errorf("patient %s: the queue delivers %s before the Patient", key, res)
				}
			}
		})
	}
}

// TestBulkExportParallelDelivery: with several workers delivering at once
// and the exchange failing the first delivery of the Organization (a 503,
// retried), no resource is handed out before a resource it refers to has
// been delivered: before, the Location, Practitioner and the rest were
// free to go while the Organization waited for its retry, and an
// exchange that checks references (HAPI FHIR) refused them: dead
// letters. The directory resources go one at a time in the order read;
// the patients' resources then go together.
func TestBulkExportParallelDelivery(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newDiskPipeline(t)
	placeAll(t, t.TempDir(), dir, bulkSet(), func(string) time.Time { return time.Now().Add(-time.Minute) })
	s := startSource(t, zipConfig(dir), pipe)
	for name := range bulkSet() {
		if reason := settled(t, s, name, false); reason != "" {
			t.Fatal(reason)
		}
	}
	refRE := regexp.MustCompile(`"reference":"([A-Za-z]+/[^"]+)"`)
	delivered := map[string]bool{}
	failedOnce := false
	var rounds []string
	for q.Len() > 0 {
		// Every worker takes what is ready now.
		type lease struct {
			ref  string
			refs []string
			ack  queue.AckFunc
		}
		var leased []lease
		for {
			// The round's first item is awaited (a loaded machine can take
			// longer than a blink to hand it out); after it, what is not
			// handed out within 50 ms counts as not ready in this round.
			wait := 50 * time.Millisecond
			if len(leased) == 0 {
				wait = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			it, ack, err := q.Get(ctx)
			cancel()
			if err != nil {
				break
			}
			var b struct {
				Entry []struct {
					Resource struct{ ResourceType, ID string }
				}
			}
			if err := json.Unmarshal(it.Body, &b); err != nil || len(b.Entry) != 1 {
				t.Fatalf("queued %s: %v", it.Body, err)
			}
			l := lease{ref: b.Entry[0].Resource.ResourceType + "/" + b.Entry[0].Resource.ID, ack: ack}
			for _, m := range refRE.FindAllSubmatch(it.Body, -1) {
				l.refs = append(l.refs, string(m[1]))
			}
			leased = append(leased, l)
		}
		if len(leased) == 0 {
			t.Fatalf("%d items queued, none handed out", q.Len())
		}
		var round []string
		for _, l := range leased {
			round = append(round, l.ref)
			for _, r := range l.refs {
				if !delivered[r] {
					t.Errorf("%s handed out before %s, which it refers to, was delivered", l.ref, r)
				}
			}
		}
		rounds = append(rounds, strings.Join(round, " "))
		for _, l := range leased {
			var err error
			if l.ref == "Organization/org1" && !failedOnce {
				failedOnce, err = true, errors.New("HTTP 503")
			} else {
				delivered[l.ref] = true
			}
			if err := l.ack(context.Background(), err); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("handed out together, round by round:\n%s", strings.Join(rounds, "\n"))
	if len(delivered) != 10 {
		t.Errorf("%d resources delivered, want 10", len(delivered))
	}
	// The patients' resources are not serialized behind each other.
	if !slices.ContainsFunc(rounds, func(r string) bool { return strings.Count(r, " ") > 0 }) {
		t.Errorf("every round handed out one item: the patients' resources went one at a time")
	}
}

// TestBulkExportWaitsForPatientFile: an Observation file ready to be
// taken waits while the export's Patient file lies in the folder not yet
// ready (here: its marker not written; likewise while it is still being
// copied, or waits in processing/ for a retry), and goes right after it.
// A bulk file with nothing of an earlier rank waiting is taken at once.
func TestBulkExportWaitsForPatientFile(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newDiskPipeline(t)
	rec := &recorder{next: pipe}
	cfg := zipConfig(dir)
	cfg.MarkerSuffix = ".done"
	set := bulkSet()
	// All found by the first pass, so ready in the same pass; the other
	// export (one JSON resource), newer, is taken after the Observation
	// file had its turn.
	base := time.Now().Add(-time.Hour)
	placeAll(t, t.TempDir(), dir, map[string]string{
		"Observation.ndjson": set["Observation.ndjson"], "Observation.done": "",
		"Patient.ndjson": set["Patient.ndjson"], "other.json": `{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"9"}]}`,
	}, func(name string) time.Time {
		if name == "other.json" {
			return base.Add(time.Minute)
		}
		return base
	})
	s := startSource(t, cfg, rec)
	copyIn(t, dir, "other.done", nil)
	settled(t, s, "other.json", false)
	if got := rec.all(); len(got) != 1 || q.Len() != 1 {
		t.Fatalf("%d file(s) taken (%d items queued) while Patient.ndjson waits for its marker, want only other.json", len(got), q.Len())
	}
	drain(t, q)
	copyIn(t, dir, "Patient.done", nil)
	settled(t, s, "Patient.ndjson", false)
	settled(t, s, "Observation.ndjson", false)
	if got := rec.all(); len(got) != 3 || got[1].Name != "Patient.ndjson" {
		t.Fatalf("taken %v, want Patient.ndjson first", got)
	}
	// Alone, an Observation file does not wait for a Patient file.
	copyIn(t, dir, "Observation_2.ndjson", []byte(strings.ReplaceAll(set["Observation.ndjson"], `"final"`, `"amended"`)))
	copyIn(t, dir, "Observation_2.done", nil)
	settled(t, s, "Observation_2.ndjson", false)
}

// TestBulkExportErrorFile: a bulk export's error file (OperationOutcome
// lines: what the exporting server could not export) is not sent: the
// exchange would dead-letter each line. It goes to failed/ whole, the
// reason saying what it is, whatever it is named; nothing is queued or
// quarantined.
func TestBulkExportErrorFile(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newDiskPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	oo := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Observation/o7 could not be exported"}]}` + "\n" +
		`{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"too-costly","diagnostics":"Binary resources were not exported"}]}` + "\n"
	for _, name := range []string{"OperationOutcome.ndjson", "errors_1.ndjson"} {
		copyIn(t, dir, name, []byte(oo))
		reason := settled(t, s, name, true)
		if !strings.Contains(reason, "error file") || !strings.Contains(reason, "OperationOutcome") {
			t.Errorf("%s: reason\n%s", name, reason)
		}
	}
	if q.Len() != 0 {
		t.Errorf("%d items queued from an error file", q.Len())
	}
	if ids, _ := pipe.Quarantine().List(); len(ids) != 0 {
		t.Errorf("%d quarantine entries for an error file", len(ids))
	}
}

// logBuffer is a slog handler's output, safe to read while written.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBulkExportManifest: the kick-off request's answer (the manifest:
// transactionTime, request, output) saved beside the files is no FHIR
// resource and is not sent; it is archived to done/ with an INFO line,
// not put in failed/ as a file of unknown format, and the export's files
// go on as usual.
func TestBulkExportManifest(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newDiskPipeline(t)
	var logs logBuffer
	s, err := New(adapters.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, zipConfig(dir), pipe)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	manifest := `{
  "transactionTime": "2026-03-01T02:00:00Z",
  "request": "https://ehr.example/fhir/Patient/$export?_type=Patient,Observation",
  "requiresAccessToken": true,
  "output": [
    {"type": "Patient", "url": "https://ehr.example/files/Patient.ndjson", "count": 2},
    {"type": "Observation", "url": "https://ehr.example/files/Observation.ndjson", "count": 2}
  ],
  "error": []
}`
	copyIn(t, dir, "manifest.json", []byte(manifest))
	if reason := settled(t, s, "manifest.json", false); reason != "" {
		t.Fatal(reason)
	}
	if q.Len() != 0 {
		t.Errorf("%d items queued from the manifest", q.Len())
	}
	if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "manifest") {
		t.Errorf("no INFO line about the manifest:\n%s", logs.String())
	}
	if ids, _ := pipe.Quarantine().List(); len(ids) != 0 {
		t.Errorf("%d quarantine entries for the manifest", len(ids))
	}
	set := bulkSet()
	copyIn(t, dir, "Patient.ndjson", []byte(set["Patient.ndjson"]))
	settled(t, s, "Patient.ndjson", false)
	if q.Len() != 2 {
		t.Errorf("%d items queued from Patient.ndjson, want 2", q.Len())
	}
}

// TestBulkFileNames: the names a Bulk Data export's files get from the
// tools that save them are recognised, the type read in any letter case;
// names that give no single resource type are not, and keep their place.
func TestBulkFileNames(t *testing.T) {
	for name, want := range map[string]string{
		"Patient.ndjson":             "Patient",
		"patient_file_1.ndjson":      "Patient", // the IG's own example
		"1.Patient.ndjson":           "Patient",
		"Observation_2.ndjson":       "Observation",
		"Observation.000.ndjson":     "Observation",
		"MEDICATIONREQUEST-3.NDJSON": "MedicationRequest",
		"OperationOutcome.ndjson":    "OperationOutcome",
		"Patient.json":               "",
		"labs.ndjson":                "",
		"patient-observation.ndjson": "",
		"export.ndjson":              "",
		"PatientObservations.ndjson": "",
	} {
		got, ok := BulkFileType(name)
		if got != want || ok != (want != "") {
			t.Errorf("BulkFileType(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if r := [...]int{BulkRank("Organization.ndjson"), BulkRank("Practitioner.ndjson"), BulkRank("Patient.ndjson"),
		BulkRank("Encounter.ndjson"), BulkRank("Condition.ndjson"), BulkRank("DiagnosticReport.ndjson"),
		BulkRank("ExplanationOfBenefit.ndjson"), BulkRank("Provenance.ndjson")}; !sort.IntsAreSorted(r[:]) || r[0] == 0 {
		t.Errorf("ranks %v are not in dependency order", r)
	}
	for _, name := range []string{"OperationOutcome.ndjson", "Parameters.ndjson", "labs.ndjson", "Patient.json"} {
		if r := BulkRank(name); r != 0 {
			t.Errorf("BulkRank(%q) = %d, want 0 (time order)", name, r)
		}
	}
}

// TestSniffBulkManifest: a manifest, on one line or pretty-printed, is
// told from a FHIR resource and from JSON of no known kind.
func TestSniffBulkManifest(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"transactionTime":"2026-03-01T02:00:00Z","request":"x","requiresAccessToken":true,"output":[],"error":[]}`, FormatBulkManifest},
		{"{\n  \"transactionTime\": \"2026-03-01T02:00:00Z\",\n  \"output\": [{\"type\": \"Patient\", \"url\": \"u\"}]\n}\n", FormatBulkManifest},
		{`{"transactionTime":"2026-03-01T02:00:00Z"}`, ""},
		{"{\n  \"transactionTime\": \"x\",\n  \"output\": {}\n}\n", ""},
		{`{"resourceType":"Patient","transactionTime":"x","output":[]}`, FormatFHIRJSON},
	} {
		got, err := Sniff(strings.NewReader(c.body), "m.json")
		if got.Format != c.want || (c.want == "") != (err != nil) {
			t.Errorf("%s: %q, %v; want %q", c.body, got.Format, err, c.want)
		}
	}
}
