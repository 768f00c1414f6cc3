package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// ndjsonLines is a reader of n Observation lines, made as they are read
// (a bulk export larger than memory is the case it stands for); bad
// names a line that is not JSON (0: none). atEOF is called once, when
// the last line has been read.
type ndjsonLines struct {
	n, bad, i int
	buf       strings.Builder
	pending   string
	atEOF     func()
}

func (r *ndjsonLines) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.i == r.n {
			if r.atEOF != nil {
				r.atEOF()
				r.atEOF = nil
			}
			return 0, io.EOF
		}
		r.i++
		if r.i == r.bad {
			r.pending = "this is not JSON\n"
			continue
		}
		r.pending = fmt.Sprintf(`{"resourceType":"Observation","id":"o%d","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p%d"}}`+"\n", r.i, r.i%50)
	}
	k := copy(p, r.pending)
	r.pending = r.pending[k:]
	return k, nil
}

func ndjsonRaw(r *ndjsonLines) adapters.Raw {
	return adapters.Raw{Source: "folder/ehr", Name: "Observation.ndjson", Format: "fhir-ndjson", Received: time.Now(),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }}
}

// TestNDJSONQueuedInBatches: a bulk export's NDJSON file, however large,
// is queued as it is read, in commits of at most CSVBatchUnits bundles,
// not read whole into bundles first (a 130 MB file took 2 GB of RSS):
// when the file's last line is read, its earlier batches are already in
// the queue. A line that is not JSON is quarantined with its line
// number and the file refused after the rest is queued, as before.
func TestNDJSONQueuedInBatches(t *testing.T) {
	_, q, quar := newTestPipeline(t)
	bq := &batchQueue{Queue: q}
	p := New(bq, memSeen{}, quar, map[string]Converter{"fhir-ndjson": FHIRJSON{}}, nil)
	n := 2*CSVBatchUnits + 100
	queuedAtEOF := -1
	r := &ndjsonLines{n: n, bad: CSVBatchUnits + 5, atEOF: func() { queuedAtEOF = q.Len() }}
	err := p.Consume(context.Background(), ndjsonRaw(r))
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), fmt.Sprintf("line %d: not valid JSON", CSVBatchUnits+5)) {
		t.Fatalf("Consume = %v, want a permanent error naming line %d", err, CSVBatchUnits+5)
	}
	if queuedAtEOF < CSVBatchUnits {
		t.Errorf("%d bundles queued when the last line was read: the file was held converted in memory", queuedAtEOF)
	}
	if q.Len() != n-1 || bq.commits != 3 {
		t.Errorf("%d queued in %d commits, want %d in 3", q.Len(), bq.commits, n-1)
	}
	if ids, err := quar.List(); err != nil || len(ids) != 1 {
		t.Errorf("quarantined %v (%v), want the bad line", ids, err)
	}
}

// TestNDJSONLaterBatchFails: a later batch that cannot be stored leaves
// the file to be tried again (retryable), its earlier batches queued;
// taken again, only the rest is queued.
func TestNDJSONLaterBatchFails(t *testing.T) {
	_, q, quar := newTestPipeline(t)
	bq := &batchQueue{Queue: q, failAt: 2}
	p := New(bq, memSeen{}, quar, map[string]Converter{"fhir-ndjson": FHIRJSON{}}, nil)
	n := CSVBatchUnits + 10
	err := p.Consume(context.Background(), ndjsonRaw(&ndjsonLines{n: n}))
	if err == nil || queue.IsPermanent(err) || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Consume = %v, want the retryable store error", err)
	}
	if q.Len() != CSVBatchUnits {
		t.Fatalf("after the failure %d queued, want the first batch (%d)", q.Len(), CSVBatchUnits)
	}
	if err := p.Consume(context.Background(), ndjsonRaw(&ndjsonLines{n: n})); err != nil {
		t.Fatal(err)
	}
	if q.Len() != n || p.Stats().Duplicates.Load() != CSVBatchUnits {
		t.Fatalf("taken again: %d queued, %d duplicates; want %d and %d", q.Len(), p.Stats().Duplicates.Load(), n, CSVBatchUnits)
	}
}
