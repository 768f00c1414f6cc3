package pipeline

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// pausedCSV is the CSV converter stopping before it hands over its first
// batch until proceed is closed (converted is closed then).
type pausedCSV struct {
	CSV
	converted, proceed chan struct{}
	first              *bool
}

func (c pausedCSV) ConvertStream(ctx context.Context, in adapters.Raw, emit func([]Unit) error) error {
	return c.CSV.ConvertStream(ctx, in, func(units []Unit) error {
		if *c.first {
			*c.first = false
			close(c.converted)
			<-c.proceed
		}
		return emit(units)
	})
}

// TestCSVMergeRecordedWhileConverting: a labs export naming the patient
// an A40 retires is converted before the merge is recorded (its rows
// taken for the retired record's, a Patient created for that chart
// number) and stored after it. The CSV streaming converter took no part
// in the check the HL7 v2 converter's inputs get, so its bundle reached
// the exchange after the merge and filed the results to the retired
// record; it is now converted again, seeing the merge, and tied to the
// survivor, as README says of a row under a retired identifier.
func TestCSVMergeRecordedWhileConverting(t *testing.T) {
	g := openMergeGateway(t, t.TempDir())
	const hosp = "urn:oid:2.16.840.1.113883.3.999.1"
	conv := CSV{Folders: map[string][]csvfhir.Mapping{"ehr": {{
		Match: "labs*.csv", Resource: "Observation",
		Patient: &csvfhir.ColumnIdentifier{Column: "MRN", System: hosp},
		Columns: csvfhir.Columns{{Header: "LOINC", Path: "code"}, {Header: "Result", Path: "value"}},
		Set:     map[string]string{"category": "laboratory"},
	}}}, Options: csvfhir.Options{Merges: g.reg}}
	first := true
	slow := pausedCSV{CSV: conv, converted: make(chan struct{}), proceed: make(chan struct{}), first: &first}
	g.p.converters["csv"] = slow
	done := make(chan error, 1)
	go func() {
		done <- g.p.Consume(context.Background(), adapters.Raw{Source: "folder/ehr", Format: "csv", Name: "labs.csv",
			Body: []byte("MRN,LOINC,Result\n55999,2345-7,95\n"), Meta: map[string]string{"folder": "ehr"}, Received: time.Now()})
	}()
	<-slow.converted
	if err := g.consume(t, "hl7v2", mergeA40); err != nil {
		t.Fatal(err)
	}
	close(slow.proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	survivor := fhir.PatientKey(hosp, "55501")
	found := false
	for g.q.Len() > 0 {
		its, acks := leaseReady(t, g)
		if len(its) == 0 {
			t.Fatalf("%d items queued, none ready", g.q.Len())
		}
		for i, it := range its {
			if strings.Contains(string(it.Body), `"2345-7"`) {
				found = true
				var b struct {
					Entry []struct {
						Request struct{ IfNoneExist string }
					}
				}
				if err := json.Unmarshal(it.Body, &b); err != nil {
					t.Fatal(err)
				}
				if it.Key != survivor || len(b.Entry) == 0 || !strings.HasSuffix(b.Entry[0].Request.IfNoneExist, "55501") {
					t.Errorf("the export's result is queued for the retired record (key %s, survivor's %s): %s", it.Key, survivor, it.Body)
				}
			}
			if err := acks[i](context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.q.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatal("the export's result was not queued")
	}
}
