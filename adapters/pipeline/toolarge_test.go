package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestLargerThanTheQueueQuarantined: an input whose bundle is larger than
// queue.max_bytes lets the queue hold, even empty, can never be stored.
// It was refused as "queue full" and left to its source, which retried
// it for ever while the queue showed full; it is quarantined with the
// reason (replayed once the setting is raised) and the queue goes on.
func TestLargerThanTheQueueQuarantined(t *testing.T) {
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{MaxBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	big := append([]byte(`{"resourceType":"Bundle","type":"transaction","id":"`), bytes.Repeat([]byte("x"), 8<<10)...)
	big = append(big, `"}`...)
	p := New(q, memSeen{}, quar, map[string]Converter{"hl7v2": ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		return []Unit{{Name: "message 1", Bundle: big, Key: "p1", Dedup: sha256.Sum256(in.Body)}}, nil
	})}, nil)
	in := adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "msg", Body: []byte("MSH|1")}
	err = p.Consume(context.Background(), in)
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "queue.max_bytes") {
		t.Fatalf("Consume of a bundle larger than the queue: %v, want a permanent error naming queue.max_bytes", err)
	}
	ids, err := quar.List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("quarantined: %v, %v; want the input", ids, err)
	}
	e, err := quar.Get(ids[0])
	if err != nil || !strings.Contains(e.Reason, "queue.max_bytes") {
		t.Fatalf("quarantine entry %+v, %v: want the reason naming queue.max_bytes", e, err)
	}
	if s := q.Stats(); s.Full != "" || s.Depth != 0 {
		t.Fatalf("queue after the refusal: full %q, depth %d", s.Full, s.Depth)
	}
	small := adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "msg2", Body: []byte("MSH|2")}
	p.converters["hl7v2"] = ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		return []Unit{{Name: "message 2", Bundle: []byte(`{"resourceType":"Bundle"}`), Key: "p1", Dedup: sha256.Sum256(in.Body)}}, nil
	})
	if err := p.Consume(context.Background(), small); err != nil {
		t.Fatal(err)
	}
}

// An input the queue can never take is kept in the quarantine and
// answered as refused for good (MLLP AE); when the quarantine cannot be
// written either, it is kept nowhere, so the error must be retryable
// (AR: the sender keeps the message), not the permanent refusal.
func TestLargerThanTheQueueQuarantineUnwritable(t *testing.T) {
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{MaxBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	quarDir := filepath.Join(dir, "quarantine")
	quar, err := OpenQuarantine(quarDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(quarDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(quarDir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := append([]byte(`{"resourceType":"Bundle","type":"transaction","id":"`), bytes.Repeat([]byte("x"), 8<<10)...)
	big = append(big, `"}`...)
	p := New(q, memSeen{}, quar, map[string]Converter{"hl7v2": ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		return []Unit{{Name: "message 1", Bundle: big, Key: "p1", Dedup: sha256.Sum256(in.Body)}}, nil
	})}, nil)
	err = p.Consume(context.Background(), adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "msg", Body: []byte("MSH|1")})
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("Consume with the quarantine unwritable: %v, want a retryable error", err)
	}
}
