package transport_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
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

// TestUnknownOutcomeWaitSurvivesRestart: a bundle whose attempt ended
// with its outcome unknown (the exchange still committing it when ferry
// timed out, or when ferry was stopped mid-request) is not re-sent before
// UnknownOutcomeDelay, also when ferry restarts in between. The wait was
// kept in memory only: the first attempt after the restart re-sent it at
// once, racing the first at the exchange (two conditional creates that
// both find nothing both create: a duplicate at the receiver). The
// exchange here holds the first request, as one still committing it does;
// the gateway is stopped and started again over the same queue directory.
func TestUnknownOutcomeWaitSurvivesRestart(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		timeout time.Duration // the sink's request timeout
		grace   time.Duration // the dispatcher's ShutdownGrace
	}{
		{"timeout", 300 * time.Millisecond, 0},
		{"stopped mid-request", 30 * time.Second, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var heldPosts atomic.Int64
			arrived := make(chan struct{}, 10)
			delivered := make(chan string, 10)
			release := make(chan struct{})
			srv := tlstest.NewServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if strings.Contains(string(body), `"held"`) && heldPosts.Add(1) == 1 {
					arrived <- struct{}{}
					select { // still committing the transaction
					case <-release:
					case <-r.Context().Done():
					}
					return
				}
				if strings.Contains(string(body), `"next"`) {
					delivered <- "next"
				}
				w.Header().Set("Content-Type", fhirhttp.MediaType)
				io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}}]}`)
			}), true)
			t.Cleanup(func() { close(release) })

			dir := t.TempDir()
			start := func() (*diskq.Queue, *transport.Dispatcher) {
				t.Helper()
				q, err := diskq.Open(dir, diskq.Options{})
				if err != nil {
					t.Fatal(err)
				}
				sink, err := fhirhttp.New(fhirhttp.Config{
					URL:     strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4",
					Timeout: tc.timeout,
					TLS:     configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
				}, nil)
				if err != nil {
					t.Fatal(err)
				}
				d := transport.NewDispatcher(q, sink, transport.DispatcherOptions{Workers: 1,
					InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond,
					UnknownOutcomeDelay: time.Hour, ShutdownGrace: tc.grace})
				if err := d.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				return q, d
			}
			stop := func(q *diskq.Queue, d *transport.Dispatcher) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := d.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
				if err := q.Close(ctx); err != nil {
					t.Fatal(err)
				}
			}
			bundle := func(id string) []byte {
				return fmt.Appendf(nil, `{"resourceType":"Bundle","id":%q,"type":"transaction","entry":[{"resource":{"resourceType":"Basic"},"request":{"method":"POST","url":"Basic","ifNoneExist":"identifier=urn:x|%s"}}]}`, id, id)
			}

			q, d := start()
			if err := q.Put(context.Background(), &queue.Item{ID: "held", Key: "p1", Body: bundle("held")}); err != nil {
				t.Fatal(err)
			}
			<-arrived
			if tc.grace == 0 {
				// The sink times out; the item waits in the queue.
				deadline := time.Now().Add(20 * time.Second)
				for q.Delayed() != 1 {
					if time.Now().After(deadline) {
						t.Fatalf("the timed-out item is not waiting: %+v", d.Stats())
					}
					time.Sleep(time.Millisecond)
				}
			}
			stop(q, d)

			q, d = start()
			// A later bundle of another patient: once it is delivered,
			// the worker has had its chance at the older one.
			if err := q.Put(context.Background(), &queue.Item{ID: "next", Key: "p2", Body: bundle("next")}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-delivered:
			case <-time.After(20 * time.Second):
				t.Fatalf("later bundle not delivered: %+v", d.Stats())
			}
			stop(q, d)
			if n := heldPosts.Load(); n != 1 {
				t.Errorf("the bundle whose outcome was unknown was sent %d times, again right after the restart: the exchange may still be committing the first attempt", n)
			}
		})
	}
}
