package standin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/ehrdrop"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
)

// syntheaBulk is a Synthea-like Bulk Data export of two patients: the
// files a $export client saves, each resource referring to the others by
// Type/id, plus the export's error file and manifest.
func syntheaBulk() map[string]string {
	files := map[string][]string{}
	add := func(typ, format string, a ...any) { files[typ] = append(files[typ], fmt.Sprintf(format, a...)) }
	add("Organization", `{"resourceType":"Organization","id":"org1","active":true,"name":"Clinic"}`)
	add("Location", `{"resourceType":"Location","id":"loc1","status":"active","name":"Room 1","managingOrganization":{"reference":"Organization/org1"}}`)
	add("Practitioner", `{"resourceType":"Practitioner","id":"pr1","active":true,"name":[{"family":"Doc","given":["Ann"]}]}`)
	add("PractitionerRole", `{"resourceType":"PractitionerRole","id":"prr1","active":true,"practitioner":{"reference":"Practitioner/pr1"},"organization":{"reference":"Organization/org1"},"location":[{"reference":"Location/loc1"}]}`)
	for _, p := range []string{"p1", "p2"} {
		add("Patient", `{"resourceType":"Patient","id":"%s","name":[{"family":"Test","given":["%s"]}],"gender":"female","birthDate":"1970-01-01","managingOrganization":{"reference":"Organization/org1"}}`, p, p)
		add("Encounter", `{"resourceType":"Encounter","id":"e-%s","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/%s"},"participant":[{"individual":{"reference":"Practitioner/pr1"}}],"location":[{"location":{"reference":"Location/loc1"}}],"serviceProvider":{"reference":"Organization/org1"}}`, p, p)
		add("Condition", `{"resourceType":"Condition","id":"c-%s","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"text":"Hypertension"},"subject":{"reference":"Patient/%s"},"encounter":{"reference":"Encounter/e-%s"}}`, p, p, p)
		add("Observation", `{"resourceType":"Observation","id":"o-%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/%s"},"encounter":{"reference":"Encounter/e-%s"},"valueQuantity":{"value":120,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}`, p, p, p)
		add("DiagnosticReport", `{"resourceType":"DiagnosticReport","id":"dr-%s","status":"final","code":{"text":"Vitals"},"subject":{"reference":"Patient/%s"},"encounter":{"reference":"Encounter/e-%s"},"result":[{"reference":"Observation/o-%s"}]}`, p, p, p, p)
		add("Immunization", `{"resourceType":"Immunization","id":"i-%s","status":"completed","vaccineCode":{"text":"Influenza"},"patient":{"reference":"Patient/%s"},"encounter":{"reference":"Encounter/e-%s"},"occurrenceDateTime":"2026-01-05"}`, p, p, p)
		add("Provenance", `{"resourceType":"Provenance","id":"prov-%s","target":[{"reference":"Patient/%s"},{"reference":"Encounter/e-%s"}],"recorded":"2026-01-05T10:00:00Z","agent":[{"who":{"reference":"Practitioner/pr1"}}]}`, p, p, p)
	}
	out := map[string]string{}
	for typ, lines := range files {
		out[typ+".ndjson"] = strings.Join(lines, "\n") + "\n"
	}
	out["OperationOutcome.ndjson"] = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"MedicationRequest could not be exported"}]}` + "\n"
	out["manifest.json"] = `{"transactionTime":"2026-01-06T00:00:00Z","request":"https://ehr.example/fhir/$export","requiresAccessToken":true,"output":[{"type":"Patient","url":"https://ehr.example/f/Patient.ndjson"}],"error":[{"type":"OperationOutcome","url":"https://ehr.example/f/OperationOutcome.ndjson"}]}`
	return out
}

// references lists the literal Type/id references anywhere in v.
func references(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "reference" && strings.Count(s, "/") == 1 {
				*out = append(*out, s)
			}
			references(e, out)
		}
	case []any:
		for _, e := range x {
			references(e, out)
		}
	}
}

// TestExchangeBulkExportOrder: a Synthea-like bulk export dropped into an
// EHR folder in the worst order (`cp export/* inbox/`: each file written
// after the one before it in name order, so Encounter, Condition and
// Observation before Patient) reaches the Medplum stand-in with every
// resource after those it refers to: checked before each delivery as
// HAPI FHIR's referential integrity would (the stand-in itself takes a
// reference to a resource it lacks). The error file and the manifest
// are not sent. Items are delivered one at a time here, in the order the
// queue hands them out; with several transport workers, resources about
// no patient can still be in flight when what refers to them goes (see
// ehrdrop's TestBulkExportConcurrentWorkers). Before the files were ranked, the first deliveries were
// Condition/c-p1 and Condition/c-p2, naming Encounters and Patients the
// exchange did not have (23 dangling references).
func TestExchangeBulkExportOrder(t *testing.T) {
	ex := standin.Start(t)
	dir, work := t.TempDir(), t.TempDir()
	q, err := diskq.Open(filepath.Join(work, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()) })
	quar, err := pipeline.OpenQuarantine(filepath.Join(work, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	seen, err := dedup.Open(filepath.Join(work, "dedup"), dedup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seen.Close() })
	pipe := pipeline.New(q, seen, quar, map[string]pipeline.Converter{
		ehrdrop.FormatFHIRNDJSON: pipeline.FHIRJSON{}, ehrdrop.FormatFHIRJSON: pipeline.FHIRJSON{},
	}, nil)

	files := syntheaBulk()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	stage := t.TempDir()
	base := time.Now().Add(-time.Hour)
	for i, n := range names {
		p := filepath.Join(stage, n)
		if err := os.WriteFile(p, []byte(files[n]), 0o600); err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	src, err := ehrdrop.New(adapters.Settings{}, folder.Config{Name: "ehr", Path: dir, Settle: 30 * time.Millisecond, Rescan: time.Hour}, pipe)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Shutdown(context.Background()) })
	paths := src.Engine().Paths()
	for deadline := time.Now().Add(30 * time.Second); ; {
		done, _ := filepath.Glob(filepath.Join(paths.Done, "*", "*"))
		failed, _ := filepath.Glob(filepath.Join(paths.Failed, "*.ndjson"))
		if len(done)+len(failed) == len(files) {
			if len(failed) != 1 || filepath.Base(failed[0]) != "OperationOutcome.ndjson" {
				t.Fatalf("in failed/: %v, want the error file alone", failed)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d done, %d failed of %d files", len(done), len(failed), len(files))
		}
		time.Sleep(10 * time.Millisecond)
	}

	exists := func(ref string) bool {
		resp, err := ex.Client.Get(ex.URL + "/" + ref)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	var order, dangling []string
	for q.Len() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		it, ack, err := q.Get(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct{ Resource map[string]any }
		}
		if err := json.Unmarshal(it.Body, &b); err != nil || len(b.Entry) != 1 {
			t.Fatalf("queued %s: %v", it.Body, err)
		}
		res := b.Entry[0].Resource
		self := fmt.Sprintf("%s/%s", res["resourceType"], res["id"])
		var refs []string
		references(res, &refs)
		for _, r := range refs {
			if !exists(r) {
				dangling = append(dangling, self+" -> "+r)
			}
		}
		order = append(order, self)
		if got := ex.Do(t, "POST", ex.URL, it.Body); got["type"] != "transaction-response" {
			t.Fatalf("%s: the stand-in answered %v", self, got)
		}
		if err := ack(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(dangling) > 0 {
		t.Errorf("%d reference(s) to resources the exchange did not have yet (HAPI FHIR refuses each):\n%s\ndelivery order: %v",
			len(dangling), strings.Join(dangling, "\n"), order)
	}
	if len(order) != 18 {
		t.Errorf("delivered %d resources, want 18: %v", len(order), order)
	}
	if n := ex.Count(t, "OperationOutcome"); n != 0 {
		t.Errorf("%d OperationOutcomes stored at the exchange", n)
	}
	for _, typ := range []string{"Patient", "Encounter", "Provenance"} {
		if n := ex.Count(t, typ); n != 2 {
			t.Errorf("%d %s at the exchange, want 2", n, typ)
		}
	}
}
