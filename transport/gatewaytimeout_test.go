package transport_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
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

// TestGatewayTimeoutWaitsBeforeResending: a 504 Gateway Timeout (or a
// 502) from the load balancer or reverse proxy in front of the exchange
// says that the exchange did not answer it in time (RFC 9110 §15.6.5),
// not that the transaction was not applied: the exchange may still be
// committing it. It was re-sent after the ordinary backoff, a second
// after, racing the first attempt (two conditional creates that each
// find nothing both create: the resource twice at an exchange without
// Medplum's serializable isolation); it now waits UnknownOutcomeDelay, as
// after a timeout of ferry's own.
func TestGatewayTimeoutWaitsBeforeResending(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	const delay = 400 * time.Millisecond
	for _, code := range []int{http.StatusGatewayTimeout, http.StatusBadGateway} {
		var (
			mu    sync.Mutex
			posts []time.Time
		)
		srv := tlstest.NewServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			mu.Lock()
			posts = append(posts, time.Now())
			n := len(posts)
			mu.Unlock()
			if n == 1 {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(code)
				io.WriteString(w, "<html><body><h1>"+http.StatusText(code)+"</h1></body></html>")
				return
			}
			w.Header().Set("Content-Type", fhirhttp.MediaType)
			io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}}]}`)
		}), true)
		q, err := diskq.Open(t.TempDir(), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		body := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Basic"},"request":{"method":"POST","url":"Basic","ifNoneExist":"identifier=urn:x|1"}}]}`
		if err := q.Put(context.Background(), &queue.Item{ID: "tx", Key: "p", Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		sink, err := fhirhttp.New(fhirhttp.Config{
			URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4",
			TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := transport.NewDispatcher(q, sink, transport.DispatcherOptions{Workers: 1, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, UnknownOutcomeDelay: delay})
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for d.Stats().Delivered != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%d: not delivered: %+v", code, d.Stats())
			}
			time.Sleep(time.Millisecond)
		}
		if err := d.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		q.Close(context.Background())
		mu.Lock()
		gap := posts[1].Sub(posts[0])
		mu.Unlock()
		if gap < delay {
			t.Errorf("%d: re-sent after %v, want at least %v: the exchange may still be committing the first attempt", code, gap, delay)
		}
	}
}
