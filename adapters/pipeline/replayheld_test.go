package pipeline

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestReplayHeldPartSharingKeyNotRemembered: a replay cut short after
// the policy held one part of an input and before the queue took the
// other, which shares its dedup key (a message's status-change batch),
// leaves the entry listed. Finishing the replay (Held.FinishReplays) must
// not tell the duplicate filter that key: the next replay would drop the
// part never queued as a resend, and it would be lost.
func TestReplayHeldPartSharingKeyNotRemembered(t *testing.T) {
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
	seen := memSeen{}
	p := New(q, seen, quar, map[string]Converter{"hl7v2": ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		return []Unit{
			{Name: "message 1", Bundle: []byte(`{"resourceType":"Bundle","id":"held"}`), Key: "p1", Dedup: key,
				Labels: []fhir.Coding{{Code: "R"}}, LabelsKnown: true},
			{Name: "message 1 status change", Bundle: []byte(`{"resourceType":"Bundle","id":"queued"}`), Key: "p1", Dedup: key, LabelsKnown: true},
		}, nil
	})}, nil)
	p.SetPolicy(Policy{Hold: []string{"R"}}, held, nil)
	ctx := context.Background()
	in := adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "msg", Body: []byte("MSH|1"), Received: time.Now()}
	id, err := quar.Put(in, in.Body, queue.Permanent(errors.New("not convertible then")))
	if err != nil {
		t.Fatal(err)
	}
	e, err := quar.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	// The queue is full: the held part is stored, the other is not, as
	// when the replay is killed between the two.
	if err := q.Put(ctx, &queue.Item{Key: "other", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	quar.Replaying(e)
	held.Replaying(e.ID)
	if err := p.Consume(ctx, in); err == nil {
		t.Fatal("Consume into a full queue: no error")
	}
	quar.Replaying(nil)
	held.Replaying("")
	clear(seen) // the keys a killed replay remembered were not on disk
	if ids, _ := held.List(); len(ids) != 1 {
		t.Fatalf("held: %v, want the held part", ids)
	}
	after := memSeen{}
	if _, err := held.FinishReplays(quar.Has, after); err != nil {
		t.Fatal(err)
	}
	if after[key] {
		t.Fatal("the key the part never queued shares was remembered: the next replay drops that part as a resend")
	}
}
