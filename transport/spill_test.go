package transport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
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
	"github.com/ferry-health/ferry/transport/outbox"
)

// putSpilled stores body in q as a spill file (as the pipeline does for a
// large fax bundle).
func putSpilled(t *testing.T, q *diskq.Queue, id string, body []byte) {
	t.Helper()
	f, err := q.CreateBody()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(body); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := q.Put(context.Background(), &queue.Item{ID: id, Key: id, BodyFile: f.Name()}); err != nil {
		t.Fatal(err)
	}
}

func bigBundle(seed uint64, n int, marker string) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, n+100)
	b = fmt.Appendf(b, `{"resourceType":"Bundle","type":"transaction","id":%q,"data":"`, marker)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for len(b) < n {
		b = append(b, alphabet[r.IntN(64)])
	}
	return append(b, `"}`...)
}

func waitSettled(t *testing.T, d *transport.Dispatcher, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for st := d.Stats(); st.Delivered+st.DeadLettered < n; st = d.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stuck: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSpilledItemsOverMutualTLS delivers bodies held in queue files to an
// exchange requiring client certificates (HTTP/1.1 and HTTP/2): they
// arrive byte-identical with their Content-Length, a retry after a 503
// sends the whole body again from the file, a rejected one is
// dead-lettered with its body, and no body file is left behind.
func TestSpilledItemsOverMutualTLS(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			got := map[string][32]byte{}
			tries := map[string]int{}
			srv := tlstest.NewServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				id := r.Header.Get("X-Request-Id")
				w.Header().Set("Content-Type", fhirhttp.MediaType)
				mu.Lock()
				tries[id]++
				first := tries[id] == 1
				mu.Unlock()
				switch {
				case err != nil || r.ContentLength != int64(len(body)):
					w.WriteHeader(http.StatusBadRequest) // must not happen: fails the test below
					return
				case first:
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				case bytes.Contains(body[:min(len(body), 200)], []byte("reject-me")):
					w.WriteHeader(http.StatusUnprocessableEntity)
					io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid"}]}`)
					return
				}
				mu.Lock()
				got[id] = sha256.Sum256(body)
				mu.Unlock()
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response"}`) // no entries were sent
			}), h2)

			dir := t.TempDir()
			q, err := diskq.Open(dir, diskq.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close(context.Background())
			want := map[string][]byte{}
			for i := range 3 {
				id := fmt.Sprintf("big-%d", i)
				want[id] = bigBundle(uint64(i), (2+i)<<20, id)
				putSpilled(t, q, id, want[id])
			}
			rejected := bigBundle(9, 3<<20, "reject-me")
			putSpilled(t, q, "big-rejected", rejected)

			sink, err := fhirhttp.New(fhirhttp.Config{
				URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4",
				TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := transport.NewDispatcher(q, sink, transport.DispatcherOptions{Workers: 2, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond})
			if err := d.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitSettled(t, d, 4)
			if err := d.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := d.Stats(); st.Delivered != 3 || st.DeadLettered != 1 || q.Len() != 0 {
				t.Fatalf("stats %+v, queue len %d", st, q.Len())
			}
			mu.Lock()
			for id, body := range want {
				if got[id] != sha256.Sum256(body) {
					t.Errorf("%s: the exchange received a different body", id)
				}
				if tries[id] != 2 {
					t.Errorf("%s: %d requests, want 2 (503, then OK)", id, tries[id])
				}
			}
			mu.Unlock()
			dl, err := q.DeadLetter("big-rejected")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dl.Body, rejected) || !strings.Contains(dl.Reason, "422") {
				t.Errorf("dead letter: %d body bytes (want %d), reason %q", len(dl.Body), len(rejected), dl.Reason)
			}
			if err := q.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "bodies")); len(ents) != 0 {
				t.Errorf("%d body files left in the queue", len(ents))
			}
		})
	}
}

// TestSpilledItemToOutbox checks that the outbox copies a file-held body
// into its file unchanged.
func TestSpilledItemToOutbox(t *testing.T) {
	q, err := diskq.Open(t.TempDir(), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	body := bigBundle(4, 3<<20, "to-outbox")
	putSpilled(t, q, "to-outbox", body)
	out := filepath.Join(t.TempDir(), "outbox")
	d := transport.NewDispatcher(q, outbox.New(out), transport.DispatcherOptions{Workers: 1})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, d, 1)
	d.Shutdown(context.Background())
	b, err := os.ReadFile(filepath.Join(out, "to-outbox.json"))
	if err != nil || !bytes.Equal(b, body) {
		t.Fatalf("outbox file: %d bytes, want %d (%v)", len(b), len(body), err)
	}
	if _, err := q.DeadLetter("to-outbox"); !errors.Is(err, diskq.ErrNotFound) {
		t.Errorf("dead letter: %v", err)
	}
}
