package fhirhttp

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
)

// TestConflictRetriedThenDeadLettered runs 409 and 412 answers through the
// real dispatcher and disk queue. A 409 Conflict (two transactions racing
// on one shared resource, such as a conditional update of the same
// Practitioner) is retried with the normal backoff: a race that clears
// on the second attempt delivers the bundle; one that never clears
// dead-letters it after DispatcherOptions.ConflictRetries retries, with
// the exchange's OperationOutcome and a reason saying it was retried. A
// 412 (a conditional identifier matches several resources) is dead-lettered
// at its first answer.
func TestConflictRetriedThenDeadLettered(t *testing.T) {
	const conflictOO = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"conflict","diagnostics":"Practitioner/77 version conflict for Dr Jane Roe"}]}`
	const preconditionOO = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"multiple-matches","diagnostics":"2 Patients match"}]}`
	cases := []struct {
		name         string
		code         int
		body         string
		failures     int // answers with code before a proper one (-1: all)
		wantAttempts int
		deadLetter   bool
		reason       []string
	}{
		{"409 once, then delivered", 409, conflictOO, 1, 2, false, nil},
		{"409 always", 409, conflictOO, -1, 3, true, []string{"conflict on 3 attempts (retried 2 times with backoff", "exchange answered 409 Conflict", "version conflict"}},
		{"412", 412, preconditionOO, -1, 1, true, []string{"exchange answered 412 Precondition Failed", "a conditional identifier of the bundle", "merge the duplicates there"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := newExchange(t, false)
			var posts atomic.Int64
			ex.set(func(w http.ResponseWriter, r *http.Request) {
				n := posts.Add(1)
				w.Header().Set("Content-Type", MediaType)
				if tc.failures < 0 || n <= int64(tc.failures) {
					w.WriteHeader(tc.code)
					io.WriteString(w, tc.body)
					return
				}
				io.WriteString(w, txResponse)
			})
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
			q, err := diskq.Open(filepath.Join(t.TempDir(), "q"), diskq.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close(context.Background())
			if err := q.Put(context.Background(), &queue.Item{ID: "01CONFLICT", Key: "patient-1", Body: []byte(bundle)}); err != nil {
				t.Fatal(err)
			}
			d := transport.NewDispatcher(q, s, transport.DispatcherOptions{Workers: 2, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond,
				ConflictRetries: 2})
			if err := d.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer d.Shutdown(context.Background())
			// Settled: the queue holds nothing (a dead letter is written
			// when the lease is settled, after the count).
			waitFor(t, func() bool { st := d.Stats(); return st.Delivered+st.DeadLettered == 1 && q.Len() == 0 })
			st := d.Stats()
			if got := int(posts.Load()); got != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", got, tc.wantAttempts)
			}
			if st.Retried != uint64(tc.wantAttempts-1) {
				t.Errorf("retried %d, want %d", st.Retried, tc.wantAttempts-1)
			}
			dls, err := q.DeadLetters()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.deadLetter {
				if st.Delivered != 1 || len(dls) != 0 {
					t.Fatalf("delivered %d, dead letters %d", st.Delivered, len(dls))
				}
				return
			}
			if st.DeadLettered != 1 || len(dls) != 1 {
				t.Fatalf("dead-lettered %d, dead letters %d", st.DeadLettered, len(dls))
			}
			dl, err := q.DeadLetter(dls[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.reason {
				if !strings.Contains(dl.Reason, w) {
					t.Errorf("reason %q does not say %q", dl.Reason, w)
				}
			}
			if dl.Outcome != tc.body {
				t.Errorf("dead letter outcome %q, want the exchange's OperationOutcome", dl.Outcome)
			}
			if strings.Contains(st.LastError, "Jane Roe") {
				t.Errorf("status shows the receiver's text: %q", st.LastError)
			}
		})
	}
}
