package transport_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/configtls/tlstest"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/fhirhttp"
)

const txResponse = `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}}]}`

// oneEntry is a transaction of one entry, as txResponse answers; tag marks
// it for the handler.
func oneEntry(tag string) string {
	return `{"resourceType":"Bundle","id":"` + tag + `","type":"transaction","entry":[{"request":{"method":"PUT","url":"Basic/1"}}]}`
}

// exchangeRig is a disk queue and a dispatcher delivering over mutual
// TLS to handler.
func exchangeRig(t *testing.T, handler http.HandlerFunc, opts transport.DispatcherOptions) (*diskq.Queue, *transport.Dispatcher) {
	t.Helper()
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	srv := tlstest.NewServer(t, p, handler, true)
	q, err := diskq.Open(t.TempDir(), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := fhirhttp.New(fhirhttp.Config{
		URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4",
		TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := transport.NewDispatcher(q, sink, opts)
	t.Cleanup(func() {
		d.Shutdown(context.Background())
		q.Close(context.Background())
	})
	return q, d
}

func putBody(t *testing.T, q *diskq.Queue, id, key, body string) {
	t.Helper()
	if err := q.Put(context.Background(), &queue.Item{ID: id, Key: key, Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestPoisonItemsDoNotStallExchange is the audit's reproduction: two
// workers, two bundles the exchange always answers 500, ten other
// patients' bundles. All ten are delivered while the two keep failing.
func TestPoisonItemsDoNotStallExchange(t *testing.T) {
	var poisonHits atomic.Int64
	q, d := exchangeRig(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "poison") {
			poisonHits.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", fhirhttp.MediaType)
		io.WriteString(w, txResponse)
	}, transport.DispatcherOptions{Workers: 2, InitialInterval: time.Millisecond, MaxInterval: 20 * time.Millisecond})
	putBody(t, q, "01P1", "p1", oneEntry("poison"))
	putBody(t, q, "01P2", "p2", oneEntry("poison"))
	for i := range 10 {
		putBody(t, q, fmt.Sprintf("02G%d", i), fmt.Sprintf("other-%d", i), oneEntry("fine"))
	}
	d.Start(context.Background())
	waitUntil(t, "the ten other patients delivered", func() bool { return d.Stats().Delivered == 10 })
	waitUntil(t, "the poison items retried", func() bool { return poisonHits.Load() >= 6 })
	if q.Len() != 2 || d.Stats().DeadLettered != 0 {
		t.Fatalf("queue %d, stats %+v", q.Len(), d.Stats())
	}
}

// TestExchangeRejectingEverythingKeepsTheBacklog: an exchange answering
// 422 to everything dead-letters at most RejectLimit bundles; the rest
// wait, and all of them are delivered once it answers 200.
func TestExchangeRejectingEverythingKeepsTheBacklog(t *testing.T) {
	var rejecting atomic.Bool
	rejecting.Store(true)
	var mu sync.Mutex
	got := map[string]int{}
	q, d := exchangeRig(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", fhirhttp.MediaType)
		if rejecting.Load() {
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"profile not supported"}]}`)
			return
		}
		mu.Lock()
		got[r.Header.Get("X-Request-Id")]++
		mu.Unlock()
		io.WriteString(w, txResponse)
	}, transport.DispatcherOptions{Workers: 4, InitialInterval: time.Millisecond, MaxInterval: 10 * time.Millisecond})
	const n, limit = 60, transport.DefaultRejectLimit
	for i := range n {
		putBody(t, q, fmt.Sprintf("item-%02d", i), fmt.Sprintf("patient-%d", i%9), oneEntry("item"))
	}
	d.Start(context.Background())
	waitUntil(t, "delivery paused", func() bool { return d.Stats().Paused })
	waitUntil(t, "held items retried", func() bool { return d.Stats().Retried >= n })
	if st := d.Stats(); st.DeadLettered > limit || q.Len() < n-limit || !strings.Contains(st.ConfigProblem, "rejected") {
		t.Fatalf("while rejecting: queue %d, stats %+v", q.Len(), st)
	}
	rejecting.Store(false)
	waitUntil(t, "the backlog delivered", func() bool { return q.Len() == 0 })
	dls, err := q.DeadLetters()
	if err != nil || len(dls) > limit {
		t.Fatalf("%d dead letters (want at most %d), %v", len(dls), limit, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got)+len(dls) != n {
		t.Fatalf("delivered %d distinct + %d dead letters, want %d", len(got), len(dls), n)
	}
	if st := d.Stats(); st.Paused || st.ConfigProblem != "" {
		t.Errorf("after recovery %+v", st)
	}
}
