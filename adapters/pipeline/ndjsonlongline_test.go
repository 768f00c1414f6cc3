package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestNDJSONLineTooLong: README has an NDJSON line that cannot be sent
// "quarantined alone, named by its line number", and the file go to
// failed/ "once its other lines are queued". A line longer than the
// 64 MiB ferry reads (a DocumentReference with its scan inline) stopped
// the reading instead: the lines after it were never queued, and the
// file was refused as "line 2: bufio.Scanner: token too long". That line
// is now quarantined alone with its start and a reason an operator can
// act on, and the lines after it are queued.
func TestNDJSONLineTooLong(t *testing.T) {
	obs := func(i int) string {
		return fmt.Sprintf(`{"resourceType":"Observation","id":"o%d","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`+"\n", i)
	}
	path := filepath.Join(t.TempDir(), "DocumentReference.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(obs(1))
	f.WriteString(`{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"data":"`)
	chunk := strings.Repeat("JVBERi0xLjQK", 1<<16)
	for range maxNDJSONLine/len(chunk) + 1 {
		f.WriteString(chunk)
	}
	f.WriteString(`"}}]}` + "\n")
	f.WriteString(obs(3))
	f.WriteString(obs(4)) // the last line without its end
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	_, q, quar := newTestPipeline(t)
	p := New(q, memSeen{}, quar, map[string]Converter{"fhir-ndjson": FHIRJSON{}}, nil)
	in := adapters.Raw{Source: "folder/ehr", Name: "DocumentReference.ndjson", Format: "fhir-ndjson", Received: time.Now(),
		Open: func() (io.ReadCloser, error) { return os.Open(path) }}
	err = p.Consume(context.Background(), in)
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "line 2: the line is longer than 64 MiB") {
		t.Fatalf("Consume = %v, want a permanent error naming line 2 as too long", err)
	}
	if q.Len() != 3 {
		t.Errorf("%d lines queued, want the 3 other lines", q.Len())
	}
	ids, err := quar.List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("quarantined %v (%v), want the long line", ids, err)
	}
	e, err := quar.Get(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	// No copy (the file in failed/ has the line): a part of it would be
	// replayed as a file of its own (TestQuarantineReplayNDJSONLineTooLong).
	if !strings.Contains(e.Reason, "longer than 64 MiB") || len(e.Raw) != 0 || e.Meta["unit"] != "line 2" {
		t.Errorf("quarantined %s with %q, %d bytes", e.Meta["unit"], e.Reason, len(e.Raw))
	}
}
