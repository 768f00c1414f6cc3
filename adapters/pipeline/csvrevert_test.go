package pipeline

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestCSVLaterExportRevertingRowQueued: a clinic's nightly medication
// list export puts a patient's drug on hold one night (held for
// surgery) and active again the next, the patient's rows then as they
// were two nights before while another patient's changed. The
// duplicate filter knew the patient's bundle from the first night and
// dropped it, so the exchange kept the drug on hold for good. A bundle
// is a duplicate only of one from the same file (a retry, a rescan);
// a later export's is queued, and the same file dropped again still
// queues nothing.
func TestCSVLaterExportRevertingRowQueued(t *testing.T) {
	conv := CSV{Folders: map[string][]csvfhir.Mapping{"ehr": {{
		Match: "meds*.csv", Resource: "MedicationRequest", DateFormats: []string{"M/D/YYYY"},
		Patient: &csvfhir.ColumnIdentifier{Column: "MRN", System: "urn:oid:1.2.3"},
		Columns: csvfhir.Columns{{Header: "RxNorm", Path: "medication"}, {Header: "Prescribed", Path: "authoredOn"},
			{Header: "Prescriber", Path: "requester.display"},
			{Header: "Status", Path: "status", Map: map[string]string{"Active": "active", "Held": "on-hold"}}},
	}}}}
	p, q := dedupedPipeline(t, map[string]Converter{"csv": conv})
	ctx := context.Background()
	// The status of each medication the exchange holds, by its URL.
	exchange := map[string]string{}
	deliver := func() { deliverStatuses(t, q, "MedicationRequest", exchange) }
	statuses := func() (s []string) {
		units, err := conv.Convert(ctx, night("meds.csv", "7,197361,3/1/2024,Dr A,Active\n8,310965,2/1/2024,Dr B,Held\n"))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			var b struct {
				Entry []struct{ Request struct{ URL string } }
			}
			if err := json.Unmarshal(u.Bundle, &b); err != nil {
				t.Fatal(err)
			}
			s = append(s, exchange[b.Entry[len(b.Entry)-1].Request.URL])
		}
		return s
	}
	for _, rows := range []string{
		"7,197361,3/1/2024,Dr A,Active\n8,310965,2/1/2024,Dr B,Active\n",
		"7,197361,3/1/2024,Dr A,Held\n8,310965,2/1/2024,Dr B,Active\n",
		"7,197361,3/1/2024,Dr A,Active\n8,310965,2/1/2024,Dr B,Held\n",
	} {
		if err := p.Consume(ctx, night("meds.csv", rows)); err != nil {
			t.Fatal(err)
		}
		deliver()
	}
	if s := statuses(); len(s) != 2 || s[0] != "active" || s[1] != "on-hold" {
		t.Fatalf("after the third night the exchange holds patient 7's and 8's drugs as %q, want active and on-hold", s)
	}
	// The same file again (a rescan, a retry) queues nothing.
	if err := p.Consume(ctx, night("meds.csv", "7,197361,3/1/2024,Dr A,Active\n8,310965,2/1/2024,Dr B,Held\n")); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 {
		t.Errorf("the third night's file dropped again queued %d bundles", q.Len())
	}
}

// night is one night's medication list export.
func night(name, rows string) adapters.Raw {
	return adapters.Raw{Source: "folder/ehr", Name: name, Format: "csv", Received: time.Now(), Meta: map[string]string{"folder": "ehr"},
		Body: []byte("MRN,RxNorm,Prescribed,Prescriber,Status\n" + rows)}
}

// dedupedPipeline is a pipeline on a real disk queue and a real duplicate
// filter, with convs.
func dedupedPipeline(t *testing.T, convs map[string]Converter) (*Pipeline, *diskq.Queue) {
	t.Helper()
	_, q, quar := newTestPipeline(t)
	seen, err := dedup.Open(filepath.Join(t.TempDir(), "dedup.log"), dedup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seen.Close() })
	return New(q, seen, quar, convs, nil), q
}

// deliverStatuses delivers what q holds, in order, as an exchange would
// take it, keeping in exchange the status of each resource of type typ
// by its request URL; it returns the number of bundles delivered.
func deliverStatuses(t *testing.T, q *diskq.Queue, typ string, exchange map[string]string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for q.Len() > 0 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Request  struct{ URL string }
				Resource struct{ ResourceType, Status string }
			}
		}
		if err := json.Unmarshal(it.Body, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			if e.Resource.ResourceType == typ {
				exchange[e.Request.URL] = e.Resource.Status
			}
		}
		if err := ack(ctx, nil); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}
