package fhirhttp

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
)

// TestPartlyAppliedTransactionNamed: a transaction-response whose entries
// are partly 2xx and partly failed means the exchange broke the
// transaction's all-or-nothing rule (FHIR R4 http.html#transaction): the
// entries it reports done may be stored. The item was dead-lettered (or
// retried) naming only the one entry that decided its fate, as if nothing
// had been stored, and the other failed entries went unnamed. Its reason
// now names every failed entry and says how many the exchange reports
// done, in the dead letter and in the PHI-free summary.
func TestPartlyAppliedTransactionNamed(t *testing.T) {
	const oo = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"Jane Roe: bad date"}]}`
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	t.Run("rejected", func(t *testing.T) {
		ex.set(canned(200, MediaType, `{"resourceType":"Bundle","type":"transaction-response","entry":[`+
			`{"response":{"status":"201 Created","location":"Observation/1/_history/1"}},`+
			`{"response":{"status":"400 Bad Request","outcome":`+oo+`}},`+
			`{"response":{"status":"201 Created","location":"Observation/2/_history/1"}},`+
			`{"response":{"status":"404 Not Found"}}]}`, nil))
		q, err := diskq.Open(filepath.Join(t.TempDir(), "q"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(context.Background())
		it := bundleItem("01PARTIAL", "transaction", 4)
		if err := q.Put(context.Background(), it); err != nil {
			t.Fatal(err)
		}
		d := transport.NewDispatcher(q, newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()}), transport.DispatcherOptions{Workers: 1, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond})
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return d.Stats().DeadLettered == 1 })
		st := d.Stats()
		d.Shutdown(context.Background())
		dls, err := q.DeadLetters()
		if err != nil || len(dls) != 1 {
			t.Fatalf("dead letters %v, %v", dls, err)
		}
		for what, text := range map[string]string{"dead letter": dls[0].Reason, "status": st.LastError} {
			for _, want := range []string{"transaction entry 1: exchange answered 400", "entry 3 failed too", "other 2 of the 4 entries done", "all-or-nothing"} {
				if !strings.Contains(text, want) {
					t.Errorf("%s reason %q does not say %q", what, text, want)
				}
			}
		}
		if strings.Contains(st.LastError, "Jane Roe") {
			t.Errorf("status leaks the receiver's text: %s", st.LastError)
		}
	})
	t.Run("retried", func(t *testing.T) {
		ex.set(canned(200, MediaType, `{"resourceType":"Bundle","type":"transaction-response","entry":[`+
			`{"response":{"status":"201 Created","location":"Observation/1/_history/1"}},`+
			`{"response":{"status":"503 Service Unavailable"}}]}`, nil))
		err := s.Send(context.Background(), bundleItem("01PARTIAL", "transaction", 2))
		if err == nil || queue.IsPermanent(err) {
			t.Fatalf("%v, want a retry", err)
		}
		if sum := transport.Summary(err); !strings.Contains(sum, "transaction entry 1: exchange answered 503") || !strings.Contains(sum, "other 1 of the 2 entries done") {
			t.Errorf("summary %q", sum)
		}
	})
	t.Run("batch", func(t *testing.T) {
		// A batch's entries fail one by one by design: the other failed
		// ones are named, nothing is said of atomicity.
		ex.set(canned(200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[`+
			`{"response":{"status":"422"}},{"response":{"status":"200 OK"}},{"response":{"status":"400"}}]}`, nil))
		err := s.Send(context.Background(), bundleItem("01PARTIAL", "batch", 3))
		if sum := transport.Summary(err); !queue.IsPermanent(err) || !strings.Contains(sum, "batch entry 0: exchange answered 422") || !strings.Contains(sum, "entry 2 failed too") || strings.Contains(sum, "all-or-nothing") {
			t.Errorf("%v: summary %q", err, sum)
		}
	})
}
