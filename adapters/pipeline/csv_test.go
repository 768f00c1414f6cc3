package pipeline

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

func csvConv() CSV {
	return CSV{Folders: map[string][]csvfhir.Mapping{"ehr": {{
		Match: "labs*.csv", Resource: "Observation",
		Patient: &csvfhir.ColumnIdentifier{Column: "MRN", System: "urn:oid:1.2.3"},
		Columns: csvfhir.Columns{{Header: "LOINC", Path: "code"}, {Header: "Result", Path: "value"}},
		Set:     map[string]string{"category": "laboratory"},
	}}}}
}

// The CSV converter picks the folder's mapping by the file's name (an
// archive entry's own name inside a ZIP) and makes one unit per
// patient's transaction, keyed and labelled for the pipeline.
func TestCSVUnits(t *testing.T) {
	in := adapters.Raw{Name: "ehi.zip: export/labs_1.csv", Format: "csv",
		Body: []byte("MRN,LOINC,Result\n7,2345-7,105\n8,2345-7,99\n7,718-7,13.9\n"),
		Meta: map[string]string{"folder": "ehr", metaEntry: "export/labs_1.csv"}}
	units, err := csvConv().Convert(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 2 || units[0].Key != fhir.PatientKey("urn:oid:1.2.3", "7") || units[1].Key != fhir.PatientKey("urn:oid:1.2.3", "8") {
		t.Fatalf("%d units", len(units))
	}
	u := units[0]
	if u.Name != "patient 1 (line 2)" || u.Attrs["rows"] != "2" || u.Attrs["type"] != "Observation" || !u.LabelsKnown || u.Dedup == [32]byte{} {
		t.Errorf("unit %q %v labels known %v", u.Name, u.Attrs, u.LabelsKnown)
	}
}

func TestCSVRefusals(t *testing.T) {
	c := csvConv()
	_, err := c.Convert(context.Background(), adapters.Raw{Name: "vitals.csv", Body: []byte("a\n1\n"), Meta: map[string]string{"folder": "ehr"}})
	if err == nil || !strings.Contains(err.Error(), `no csv mapping of folder "ehr" matches the name (mappings match "labs*.csv")`) {
		t.Errorf("unmatched: %v", err)
	}
	c.MaxBytes = 10
	_, err = c.Convert(context.Background(), adapters.Raw{Name: "labs.csv", Body: []byte("MRN,LOINC,Result\n7,2345-7,105\n"), Meta: map[string]string{"folder": "ehr"}})
	if err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Errorf("too large: %v", err)
	}
}

// batchQueue is the real disk queue counting its PutAll commits, the
// failAt-th of which fails (0: none).
type batchQueue struct {
	*diskq.Queue
	commits, failAt int
}

func (b *batchQueue) PutAll(ctx context.Context, items []*queue.Item) error {
	b.commits++
	if b.commits == b.failAt {
		return errors.New("injected: disk full")
	}
	return b.Queue.PutAll(ctx, items)
}

// labsCSV is a labs export with one row for each of n patients.
func labsCSV(n int) adapters.Raw {
	var b strings.Builder
	b.WriteString("MRN,LOINC,Result\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,2345-7,%d\n", 1000+i, 60+i%100)
	}
	return adapters.Raw{Source: "folder/ehr", Name: "labs.csv", Format: "csv", Body: []byte(b.String()), Received: time.Now(),
		Meta: map[string]string{"folder": "ehr"}}
}

// TestCSVQueuedInBatches: a large export is queued as it is converted, in
// commits of at most CSVBatchUnits bundles, not held converted in memory
// as a whole; every bundle is queued once.
func TestCSVQueuedInBatches(t *testing.T) {
	_, q, quar := newTestPipeline(t)
	bq := &batchQueue{Queue: q}
	seen := memSeen{}
	p := New(bq, seen, quar, map[string]Converter{"csv": csvConv()}, nil)
	n := 2*CSVBatchUnits + 100
	if err := p.Consume(context.Background(), labsCSV(n)); err != nil {
		t.Fatal(err)
	}
	if q.Len() != n || len(seen) != n || bq.commits != 3 {
		t.Fatalf("%d queued in %d commits, %d keys; want %d in 3", q.Len(), bq.commits, len(seen), n)
	}
}

// TestCSVLaterBatchFails: when a later batch cannot be stored, the file is
// refused for now (retryable) with the earlier batches queued and
// remembered; taken again, it queues only the rest.
func TestCSVLaterBatchFails(t *testing.T) {
	_, q, quar := newTestPipeline(t)
	bq := &batchQueue{Queue: q, failAt: 2}
	seen := memSeen{}
	p := New(bq, seen, quar, map[string]Converter{"csv": csvConv()}, nil)
	in := labsCSV(CSVBatchUnits + 10)
	err := p.Consume(context.Background(), in)
	if err == nil || queue.IsPermanent(err) || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Consume = %v, want the retryable store error", err)
	}
	if q.Len() != CSVBatchUnits || len(seen) != CSVBatchUnits {
		t.Fatalf("after the failure: %d queued, %d keys; want the first batch (%d)", q.Len(), len(seen), CSVBatchUnits)
	}
	if err := p.Consume(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if q.Len() != CSVBatchUnits+10 || p.Stats().Duplicates.Load() != CSVBatchUnits {
		t.Fatalf("taken again: %d queued, %d duplicates; want %d and %d", q.Len(), p.Stats().Duplicates.Load(), CSVBatchUnits+10, CSVBatchUnits)
	}
}

// TestCSVBadRowQueuesNothing: a row that does not map refuses the whole
// file before any batch is queued, however late in the file it is.
func TestCSVBadRowQueuesNothing(t *testing.T) {
	_, q, quar := newTestPipeline(t)
	p := New(q, memSeen{}, quar, map[string]Converter{"csv": csvConv()}, nil)
	in := labsCSV(CSVBatchUnits + 10)
	in.Body = append(in.Body, "9999,2345-7\n"...) // a field short: the last row does not map
	err := p.Consume(context.Background(), in)
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), fmt.Sprintf("line %d", CSVBatchUnits+12)) {
		t.Fatalf("Consume = %v, want a permanent error naming the last line", err)
	}
	if q.Len() != 0 {
		t.Fatalf("%d bundles queued from a refused file", q.Len())
	}
}

// panicAfterFirst is a StreamConverter that stores one batch, then panics.
type panicAfterFirst struct{}

func (panicAfterFirst) Convert(context.Context, adapters.Raw) ([]Unit, error) { return nil, nil }
func (panicAfterFirst) ConvertStream(_ context.Context, _ adapters.Raw, emit func([]Unit) error) error {
	b := []byte(`{"resourceType":"Bundle","type":"transaction"}`)
	if err := emit([]Unit{{Name: "one", Bundle: b, Key: "k", Dedup: sha256.Sum256(b)}}); err != nil {
		return err
	}
	panic("converter bug")
}

// TestStreamConverterPanicsLate: a converter that panics after a batch was
// stored quarantines the input (AE) as any converter panic does, and the
// reason says that part of it is queued already.
func TestStreamConverterPanicsLate(t *testing.T) {
	_, q, quar := newTestPipeline(t)
	p := New(q, memSeen{}, quar, map[string]Converter{"s": panicAfterFirst{}}, nil)
	err := p.Consume(context.Background(), adapters.Raw{Source: "t", Format: "s", Name: "f", Body: []byte("x"), Received: time.Now()})
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "1 bundles of it were queued before the error") {
		t.Fatalf("Consume = %v", err)
	}
	if q.Len() != 1 || p.Stats().Quarantined.Load() != 1 {
		t.Fatalf("%d queued, %d quarantined; want 1 and 1", q.Len(), p.Stats().Quarantined.Load())
	}
}
