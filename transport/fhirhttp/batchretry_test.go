package fhirhttp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
)

// batchExchange answers each batch with a batch-response whose entries'
// statuses the next answer in its script gives, one per entry sent (200
// for the entries past its end), and
// keeps the note text of every entry of every batch it got ("{i}" for the
// entry bundleItem made i).
type batchExchange struct {
	ex     *exchange // holds the bodies; its server has read them
	mu     sync.Mutex
	script [][]string
	got    [][]string
}

func (b *batchExchange) handle(w http.ResponseWriter, _ *http.Request) {
	b.ex.mu.Lock()
	body := []byte(b.ex.bodies[len(b.ex.bodies)-1])
	b.ex.mu.Unlock()
	var sent struct {
		Entry []struct {
			Resource struct {
				Note []struct{ Text string } `json:"note"`
			} `json:"resource"`
		} `json:"entry"`
	}
	json.Unmarshal(body, &sent)
	b.mu.Lock()
	var notes []string
	for _, e := range sent.Entry {
		n := ""
		if len(e.Resource.Note) > 0 {
			n = e.Resource.Note[0].Text
			n = n[strings.LastIndex(n, "{"):]
		}
		notes = append(notes, n)
	}
	b.got = append(b.got, notes)
	statuses := b.script[0]
	if len(b.script) > 1 {
		b.script = b.script[1:]
	}
	b.mu.Unlock()
	var entries []string
	for i := range sent.Entry {
		status := "200 OK" // past the script's answer
		if i < len(statuses) {
			status = statuses[i]
		}
		entries = append(entries, `{"response":{"status":"`+status+`"}}`)
	}
	w.Header().Set("Content-Type", MediaType)
	io.WriteString(w, `{"resourceType":"Bundle","type":"batch-response","entry":[`+strings.Join(entries, ",")+`]}`)
}

func (b *batchExchange) batches() [][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]string(nil), b.got...)
}

// TestBatchRetryResendsOnlyFailedEntries: a batch's entries succeed or
// fail one by one (FHIR R4 http.html#transaction: "there SHALL be no
// interdependencies between the different entries"), and the exchange
// has applied the entries its batch-response answers 2xx. When another
// entry failed for a reason worth a retry (a 503), the whole batch was
// sent again, so the entries already applied were applied twice: a JSON
// Patch add to an array added twice, a plain create made twice. A retry
// now sends only the entries not yet done, and a failure of one of them
// is named by its place in the batch as queued.
func TestBatchRetryResendsOnlyFailedEntries(t *testing.T) {
	ex := newExchange(t, false)
	be := &batchExchange{ex: ex, script: [][]string{
		{"200 OK", "503 Service Unavailable", "201 Created", "503 Service Unavailable"},
		{"503 Service Unavailable", "200 OK"},
		{"200 OK"},
	}}
	ex.set(be.handle)
	q, err := diskq.Open(filepath.Join(t.TempDir(), "q"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	if err := q.Put(context.Background(), bundleItem("01BATCHRETRY", "batch", 4)); err != nil {
		t.Fatal(err)
	}
	d := transport.NewDispatcher(q, newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()}), transport.DispatcherOptions{Workers: 1, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return d.Stats().Delivered == 1 })
	d.Shutdown(context.Background())
	got := be.batches()
	want := [][]string{{"{0}", "{1}", "{2}", "{3}"}, {"{1}", "{3}"}, {"{1}"}}
	if len(got) != len(want) {
		t.Fatalf("batches sent %q, want %q", got, want)
	}
	for i := range want {
		if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
			t.Errorf("batch %d held entries %q, want %q", i, got[i], want[i])
		}
	}
}

// TestBatchRetryNamesEntriesAsQueued: a failure of an entry resent alone
// is reported under its index in the batch as queued, with the entries
// the exchange applied on the earlier attempt named, so that the dead
// letter says what is stored there already.
func TestBatchRetryNamesEntriesAsQueued(t *testing.T) {
	ex := newExchange(t, false)
	be := &batchExchange{ex: ex, script: [][]string{
		{"200 OK", "503 Service Unavailable", "201 Created"},
		{"422 Unprocessable Entity"},
	}}
	ex.set(be.handle)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	it := bundleItem("01BATCHNAMES", "batch", 3)
	if err := s.Send(context.Background(), it); err == nil || queue.IsPermanent(err) {
		t.Fatalf("first attempt: %v, want a retry", err)
	}
	err := s.Send(context.Background(), it)
	if !queue.IsPermanent(err) {
		t.Fatalf("second attempt: %v, want a rejection", err)
	}
	sum := transport.Summary(err)
	for _, want := range []string{"batch entry 1: exchange answered 422", "entries 0, 2 were applied"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary %q does not say %q", sum, want)
		}
	}
	if got := be.batches(); len(got) != 2 || strings.Join(got[1], " ") != "{1}" {
		t.Errorf("batches sent %q", got)
	}
}

// TestBatchPutBackResendsOnlyFailedEntries: a batch one of whose entries
// was refused is dead-lettered; put back once the cause is fixed (ferry
// queue retry, under the same id), it sent its applied entries again.
func TestBatchPutBackResendsOnlyFailedEntries(t *testing.T) {
	ex := newExchange(t, false)
	be := &batchExchange{ex: ex, script: [][]string{
		{"200 OK", "422 Unprocessable Entity", "201 Created"},
		{"200 OK"},
	}}
	ex.set(be.handle)
	q, err := diskq.Open(filepath.Join(t.TempDir(), "q"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	if err := q.Put(context.Background(), bundleItem("01BATCHBACK", "batch", 3)); err != nil {
		t.Fatal(err)
	}
	d := transport.NewDispatcher(q, newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()}), transport.DispatcherOptions{Workers: 1, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	waitFor(t, func() bool { _, err := q.DeadLetter("01BATCHBACK"); return err == nil })
	if err := q.Retry(context.Background(), "01BATCHBACK"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return d.Stats().Delivered == 1 })
	if got := be.batches(); len(got) != 2 || strings.Join(got[1], " ") != "{1}" {
		t.Errorf("batches sent %q, want the put-back one to hold entry {1} alone", got)
	}
}
