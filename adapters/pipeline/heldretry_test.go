package pipeline

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestHeldUnitNotHeldTwiceOnRetry: an input whose first unit the policy
// holds and whose second cannot be stored (its quarantine write fails, a
// full disk) is tried again by its source. The held unit is durable in
// the held store after the first attempt; the second attempt must not
// hold it a second time (two entries, two releases, two deliveries).
func TestHeldUnitNotHeldTwiceOnRetry(t *testing.T) {
	p, _, held, _ := newPolicyPipeline(t, "R")
	p.converters["hl7v2"] = ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		return []Unit{
			{Name: "message 1", Bundle: []byte(`{"resourceType":"Bundle","type":"transaction"}`), Key: "p1",
				Dedup: sha256.Sum256([]byte("message 1")), Labels: []fhir.Coding{{Code: "R"}}, LabelsKnown: true},
			{Name: "message 2", Raw: []byte("MSH|2"), Dedup: sha256.Sum256([]byte("message 2")), Err: errors.New("no PID")},
		}, nil
	})
	// The quarantine cannot be written: its folder is gone, a file in
	// its place.
	qdir := p.quarantine.dir
	if err := os.RemoveAll(qdir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(qdir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	in := adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "batch", Body: []byte("MSH|batch")}
	if err := p.Consume(context.Background(), in); err == nil {
		t.Fatal("Consume with the quarantine unwritable: no error")
	}
	os.Remove(qdir)
	if err := os.MkdirAll(qdir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The source offers the input again.
	p.Consume(context.Background(), in)
	ids, err := held.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Fatalf("held entries after a retried input: %d (%v), want 1", len(ids), ids)
	}
}

// TestHeldPartDoesNotDropQueuedPartOnRetry: one message's two parts share
// its dedup key; the policy holds the first (it carries the label), the
// second goes to the queue, which is full. The source offers the input
// again once the queue has room: the queued part must be queued then,
// not dropped as a resend because the held part's key was remembered
// before the queue took the other.
func TestHeldPartDoesNotDropQueuedPartOnRetry(t *testing.T) {
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{MaxItems: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	held, err := OpenHeld(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	key := sha256.Sum256([]byte("message 1"))
	p := New(q, memSeen{}, quar, map[string]Converter{"hl7v2": ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		return []Unit{
			{Name: "message 1", Bundle: []byte(`{"resourceType":"Bundle","id":"held"}`), Key: "p1", Dedup: key,
				Labels: []fhir.Coding{{Code: "R"}}, LabelsKnown: true},
			{Name: "message 1 status change", Bundle: []byte(`{"resourceType":"Bundle","id":"queued"}`), Key: "p1", Dedup: key, LabelsKnown: true},
		}, nil
	})}, nil)
	p.SetPolicy(Policy{Hold: []string{"R"}}, held, nil)
	ctx := context.Background()
	if err := q.Put(ctx, &queue.Item{Key: "other", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	in := adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "msg", Body: []byte("MSH|1")}
	if err := p.Consume(ctx, in); err == nil {
		t.Fatal("Consume into a full queue: no error")
	}
	_, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ack(ctx, nil)
	if err := p.Consume(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n := q.Len(); n != 1 {
		t.Fatalf("queued after the retry: %d items, want the second part", n)
	}
}
