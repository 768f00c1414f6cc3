package transport_test

import (
	"context"
	"io"
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
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// TestDamagedSealedBodyIsDeadLettered: a spilled body sealed at rest and
// damaged on disk past its first chunk (a bad sector, a byte changed in
// a large fax's file) passed the check Get makes of its first chunk,
// failed each upload midway, and was retried as if the exchange were
// unreachable, holding its patient's later bundles back, though README
// has such an item "become a dead letter marked corrupt, naming the item,
// and never delivered". It is now dead-lettered so at its first attempt,
// and the patient's next bundle goes.
func TestDamagedSealedBodyIsDeadLettered(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	srv := tlstest.NewServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", fhirhttp.MediaType)
		if err != nil || r.ContentLength != int64(len(body)) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got[r.Header.Get("X-Request-Id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response"}`)
	}), false)

	key, err := seal.GenerateKeyFile(filepath.Join(t.TempDir(), "ferry.key"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	q, err := diskq.Open(dir, diskq.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	ctx := context.Background()
	// The fax: five chunks of sealed stream, the third damaged.
	f, err := q.CreateBody()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bigBundle(1, 5*seal.ChunkSize-100, "fax")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := q.Put(ctx, &queue.Item{ID: "fax", Key: "patient-1", BodyFile: f.Name()}); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "bodies"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("body files %v: %v", ents, err)
	}
	path := filepath.Join(dir, "bodies", ents[0].Name())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// The patient's next bundle, which must not overtake the fax.
	if err := q.Put(ctx, &queue.Item{ID: "next", Key: "patient-1", Body: []byte(`{"resourceType":"Bundle","type":"transaction","id":"next"}`)}); err != nil {
		t.Fatal(err)
	}

	sink, err := fhirhttp.New(fhirhttp.Config{
		URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4",
		TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := transport.NewDispatcher(q, sink, transport.DispatcherOptions{Workers: 1, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for st := d.Stats(); st.Delivered+st.DeadLettered < 2; st = d.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("the damaged fax was not dead-lettered, and the patient's next bundle waits behind it: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	if st := d.Stats(); st.Delivered != 1 || st.DeadLettered != 1 {
		t.Errorf("stats %+v: want the next bundle delivered and the fax dead-lettered", st)
	}
	mu.Lock()
	if got["fax"] != 0 || got["next"] != 1 {
		t.Errorf("the exchange took %v", got)
	}
	mu.Unlock()
	dl, err := q.DeadLetter("fax")
	if err != nil {
		t.Fatal(err)
	}
	if !dl.Corrupt || !strings.Contains(dl.Reason, "fax") {
		t.Errorf("dead letter: corrupt %v, reason %q; want it marked corrupt, naming the item", dl.Corrupt, dl.Reason)
	}
}
