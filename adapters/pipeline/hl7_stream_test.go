package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue"
)

// commitLog is a batch queue that notes the message (control id) of each
// item of each commit, and can fail one commit.
type commitLog struct {
	batchQueue
	commits [][]string
}

func (c *commitLog) PutAll(ctx context.Context, items []*queue.Item) error {
	if err := c.batchQueue.PutAll(ctx, items); err != nil {
		return err
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.Attrs["control_id"]
	}
	c.commits = append(c.commits, ids)
	return nil
}

// hl7Batch is an HL7 v2 batch file of n results of 20 values each: in the
// default write mode every message is several transactions (parts).
func hl7Batch(n int) adapters.Raw {
	var b strings.Builder
	b.WriteString("FHS|^~\\&|LAB|CLINIC\rBHS|^~\\&|LAB|CLINIC\r")
	for m := range n {
		fmt.Fprintf(&b, "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20261125083000||ORU^R01^ORU_R01|B-%d|P|2.5.1\r"+
			"PID|1||MRN-%d^^^CLINIC^MR||Doe^Pat||19800101|F\r"+
			"OBR|1|ORD-%d|FIL-%d|24323-8^Panel^LN|||20261125080000|||||||||||||||20261125083000|||F\r", m, m%40, m, m)
		for i := 1; i <= 20; i++ {
			fmt.Fprintf(&b, "OBX|%d|NM|%d-1^Analyte %d^LN||%d|mg/dL|||||F\r", i, 10000+i, i, m+i)
		}
	}
	fmt.Fprintf(&b, "BTS|%d\rFTS|1\r", n)
	return adapters.Raw{Source: "folder/ehr", Name: "history.hl7", Format: "hl7v2", Body: []byte(b.String()), Received: time.Now()}
}

// TestHL7BatchQueuedInBatches: an HL7 v2 batch file (an EHR's history
// export, a backfill) is queued as it is converted, in commits of about
// CSVBatchUnits bundles, as CSV and NDJSON files are: converted whole
// before anything was stored, a 20 MB file held 670 MB of bundles, and a
// few hundred MB took the gateway down. A message's parts are never cut
// between two commits: they share its dedup key, and a commit that fails
// after the first part's was stored would drop the rest as a resend.
func TestHL7BatchQueuedInBatches(t *testing.T) {
	conv := HL7{Conv: &v2fhir.Converter{Mode: v2fhir.ModePatientConditional}}
	in := hl7Batch(700)
	all, err := conv.Convert(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]int{}
	for _, u := range all {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		parts[u.Attrs["control_id"]]++
	}
	if len(all) < 2*CSVBatchUnits {
		t.Fatalf("the file converts to %d bundles; the test wants more than %d", len(all), 2*CSVBatchUnits)
	}
	_, q, quar := newTestPipeline(t)
	cl := &commitLog{batchQueue: batchQueue{Queue: q}}
	p := New(cl, memSeen{}, quar, map[string]Converter{"hl7v2": conv}, nil)
	if err := p.Consume(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if q.Len() != len(all) {
		t.Fatalf("%d queued, want %d", q.Len(), len(all))
	}
	if len(cl.commits) < 3 {
		t.Fatalf("%d bundles queued in %d commit(s): the whole file was held converted in memory", len(all), len(cl.commits))
	}
	seenIn := map[string]int{}
	for i, c := range cl.commits {
		if len(c) > CSVBatchUnits+20 {
			t.Errorf("commit %d holds %d bundles", i+1, len(c))
		}
		for _, id := range c {
			if j, ok := seenIn[id]; ok && j != i {
				t.Errorf("message %s is in commits %d and %d", id, j+1, i+1)
			}
			seenIn[id] = i
		}
	}
}

// TestHL7BatchLaterCommitFails: a commit of a batch file that fails (the
// queue full) leaves the file to be tried again, and taken again every
// part of every message is queued once: none is dropped as a resend.
func TestHL7BatchLaterCommitFails(t *testing.T) {
	conv := HL7{Conv: &v2fhir.Converter{Mode: v2fhir.ModePatientConditional}}
	in := hl7Batch(400)
	all, err := conv.Convert(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	_, q, quar := newTestPipeline(t)
	cl := &commitLog{batchQueue: batchQueue{Queue: q, failAt: 2}}
	p := New(cl, memSeen{}, quar, map[string]Converter{"hl7v2": conv}, nil)
	err = p.Consume(context.Background(), in)
	if err == nil || queue.IsPermanent(err) || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Consume = %v, want the retryable store error", err)
	}
	first := q.Len()
	if first == 0 || first == len(all) {
		t.Fatalf("after the failed commit %d of %d bundles are queued, want the first commit's", first, len(all))
	}
	if err := p.Consume(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if q.Len() != len(all) || p.Stats().Duplicates.Load() != int64(first) {
		t.Fatalf("taken again: %d queued, %d duplicates; want %d and %d", q.Len(), p.Stats().Duplicates.Load(), len(all), first)
	}
}
