package fhirhttp

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
)

// TestBatchDeadLetterKeepsEveryOutcome: a batch fails entry by entry
// (FHIR R4 http.html#transaction: "there SHALL be no interdependencies
// between the different entries"), and a batch-response may refuse two
// entries for two different reasons, each with its OperationOutcome. The
// dead letter kept the outcome of the first only, the second named in the
// reason ("entry 2 failed too") without its why, so the contractor fixed
// one cause, retried, and had the bundle dead-lettered again for the
// other. It keeps every failed entry's outcome, each under its entry's
// number and status.
func TestBatchDeadLetterKeepsEveryOutcome(t *testing.T) {
	oo := func(text string) string {
		return `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"` + text + `"}]}`
	}
	ex := newExchange(t, false)
	ex.set(canned(200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[`+
		`{"response":{"status":"422 Unprocessable Entity"}},`+
		`{"response":{"status":"200 OK"}},`+
		`{"response":{"status":"400 Bad Request","outcome":`+oo("Observation.code: required")+`}},`+
		`{"response":{"status":"404 Not Found","outcome":`+oo("Observation/<b>7</b>: not found")+`}}]}`, nil))
	q, err := diskq.Open(filepath.Join(t.TempDir(), "q"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	if err := q.Put(context.Background(), bundleItem("01BATCH", "batch", 4)); err != nil {
		t.Fatal(err)
	}
	d := transport.NewDispatcher(q, newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()}), transport.DispatcherOptions{Workers: 1, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return d.Stats().DeadLettered == 1 })
	d.Shutdown(context.Background())
	dl, err := q.DeadLetter("01BATCH")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dl.Reason, "batch entry 0: exchange answered 422") || !strings.Contains(dl.Reason, "entries 2, 3 failed too") {
		t.Errorf("reason %q", dl.Reason)
	}
	for _, want := range []string{"Observation.code: required", "Observation/<b>7</b>: not found"} {
		if !strings.Contains(dl.Outcome, want) {
			t.Errorf("the dead letter's outcome does not keep %q:\n%s", want, dl.Outcome)
		}
	}
	var kept []struct {
		Entry   int             `json:"entry"`
		Status  string          `json:"status"`
		Outcome json.RawMessage `json:"outcome"`
	}
	if err := json.Unmarshal([]byte(dl.Outcome), &kept); err != nil {
		t.Fatalf("outcome is not the failed entries as JSON: %v\n%s", err, dl.Outcome)
	}
	if len(kept) != 3 || kept[0].Entry != 0 || kept[1].Entry != 2 || kept[2].Entry != 3 ||
		kept[0].Status != "422 Unprocessable Entity" || kept[0].Outcome != nil || kept[1].Status != "400 Bad Request" || kept[2].Status != "404 Not Found" {
		t.Errorf("kept %+v", kept)
	}
}
