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

// TestQueueToExchangeOverMutualTLS runs the real parts end to end: a disk
// queue, the dispatcher and the HTTPS sink against an exchange that
// requires client certificates, answers 503 with Retry-After for a while,
// and rejects one bundle with an OperationOutcome quoting patient data.
func TestQueueToExchangeOverMutualTLS(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		received []string
		failures atomic.Int64
	)
	srv := tlstest.NewServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("X-Request-Id")
		w.Header().Set("Content-Type", fhirhttp.MediaType)
		if failures.Add(1) <= 3 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if strings.Contains(string(body), "reject-me") {
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"business-rule","diagnostics":"duplicate patient Jane Roe"}]}`)
			return
		}
		mu.Lock()
		received = append(received, id)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}}]}`)
	}), true)

	q, err := diskq.Open(t.TempDir(), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	const n = 30
	for i := range n {
		body := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","id":"%d","entry":[{"resource":{"resourceType":"Basic"},"request":{"method":"POST","url":"Basic"}}]}`, i)
		if i == 7 {
			body = `{"resourceType":"Bundle","type":"transaction","id":"reject-me","entry":[{"resource":{"resourceType":"Basic"},"request":{"method":"POST","url":"Basic"}}]}`
		}
		it := &queue.Item{ID: fmt.Sprintf("item-%02d", i), Key: fmt.Sprintf("patient-%d", i%3), Body: []byte(body)}
		if err := q.Put(context.Background(), it); err != nil {
			t.Fatal(err)
		}
	}
	sink, err := fhirhttp.New(fhirhttp.Config{
		URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4",
		TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := transport.NewDispatcher(q, sink, transport.DispatcherOptions{Workers: 4, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for st := d.Stats(); st.Delivered+st.DeadLettered < n; st = d.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stuck: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := d.Stats()
	if st.Delivered != n-1 || st.DeadLettered != 1 || st.Retried < 3 || q.Len() != 0 {
		t.Fatalf("stats %+v, queue len %d", st, q.Len())
	}
	dls, _ := q.DeadLetters()
	if len(dls) != 1 || dls[0].ID != "item-07" || !strings.Contains(dls[0].Reason, "duplicate patient") {
		t.Fatalf("dead letters %+v", dls)
	}
	if strings.Contains(st.LastError, "Jane Roe") || !strings.Contains(st.LastError, "422") {
		t.Errorf("last error %q should be the PHI-free summary", st.LastError)
	}
	mu.Lock()
	defer mu.Unlock()
	last := map[int]int{}
	for _, id := range received {
		var i int
		fmt.Sscanf(id, "item-%d", &i)
		if prev, ok := last[i%3]; ok && i < prev {
			t.Fatalf("patient-%d: item %d after %d", i%3, i, prev)
		}
		last[i%3] = i
	}
}
