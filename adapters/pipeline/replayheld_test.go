package pipeline

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
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
	// The queue is full: the held part is stored, the other is not.
	// (TestReplayHeldPartSharingKeyHeldOnce kills the replay between the
	// two; here the failed store takes the held part back.)
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
	if ids, _ := held.List(); len(ids) != 0 {
		t.Fatalf("held: %v, want none: the replay holds the part again with the rest", ids)
	}
	after := memSeen{}
	if _, _, err := held.FinishReplays(quar.Has, after); err != nil {
		t.Fatal(err)
	}
	if after[key] {
		t.Fatal("the key the part never queued shares was remembered: the next replay drops that part as a resend")
	}
}

// TestReplayHeldPartSharingKeyHeldOnce: a replay killed after the
// policy held one part of an input and before the queue's commit of the
// other, which shares its dedup key, is run again after a start. The held
// part must end held once and the other queued once: the held part's
// first entry stayed in the held store, and the next replay, which cannot
// drop it as a duplicate (its key must stay forgotten for the other
// part), held it a second time, two entries a person releasing both sent
// twice. The first replay runs in a child process (this test binary
// again), which exits as the queue is handed the other part.
func TestReplayHeldPartSharingKeyHeldOnce(t *testing.T) {
	dir := os.Getenv("FERRY_TEST_HELD_SHARED")
	child := dir != ""
	if !child {
		if testing.Short() {
			t.Skip("runs the replay in a child process")
		}
		dir = t.TempDir()
	}
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	held, err := OpenHeld(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	key := sha256.Sum256([]byte("message 1"))
	conv := map[string]Converter{"hl7v2": ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		return []Unit{
			{Name: "message 1", Bundle: []byte(`{"resourceType":"Bundle","id":"held"}`), Key: "p1", Dedup: key,
				Labels: []fhir.Coding{{Code: "R"}}, LabelsKnown: true},
			{Name: "message 1 status change", Bundle: []byte(`{"resourceType":"Bundle","id":"queued"}`), Key: "p1", Dedup: key, LabelsKnown: true},
		}, nil
	})}
	ctx := context.Background()
	in := adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "msg", Body: []byte("MSH|1"), Received: time.Now().Truncate(time.Second)}
	replay := func(q Putter, seen memSeen) error {
		ids, err := quar.List()
		if err != nil || len(ids) != 1 {
			t.Fatalf("quarantine: %v %v", ids, err)
		}
		e, err := quar.Get(ids[0])
		if err != nil {
			t.Fatal(err)
		}
		p := New(q, seen, quar, conv, nil)
		p.SetPolicy(Policy{Hold: []string{"R"}}, held, nil)
		quar.Replaying(e)
		held.Replaying(e.ID)
		defer func() { quar.Replaying(nil); held.Replaying("") }()
		return p.Consume(ctx, in)
	}
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if child {
		replay(exitAtPut{q}, memSeen{})
		os.Exit(4)
	}
	if _, err := quar.Put(in, in.Body, queue.Permanent(errors.New("not convertible then"))); err != nil {
		t.Fatal(err)
	}
	q.Close(ctx)
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplayHeldPartSharingKeyHeldOnce$")
	cmd.Env = append(os.Environ(), "FERRY_TEST_HELD_SHARED="+dir)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("the replay ended (%v) before it was killed:\n%s", err, out)
	}
	if ids, _ := held.List(); len(ids) != 1 {
		t.Fatalf("the killed replay left %v held, want the held part", ids)
	}

	// The next start, with the duplicate filter as it was on disk (the
	// killed replay's keys were not): the stores are finished as
	// ingestPipeline finishes them, then the entry is replayed again.
	q, err = diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	seen := memSeen{}
	if _, err := quar.FinishReplays(q.Holds, seen); err != nil {
		t.Fatal(err)
	}
	if _, _, err := held.FinishReplays(quar.Has, seen); err != nil {
		t.Fatal(err)
	}
	if err := replay(q, seen); err != nil {
		t.Fatalf("second replay: %v", err)
	}
	if ids, _ := held.List(); len(ids) != 1 {
		t.Errorf("held: %v, want the held part once", ids)
	}
	if n := q.Len(); n != 1 {
		t.Errorf("queue holds %d item(s), want the status change once", n)
	}
}

// exitAtPut is a queue whose process ends (as if killed) when it is
// handed items, before they are committed.
type exitAtPut struct{ *diskq.Queue }

func (exitAtPut) Put(context.Context, *queue.Item) error      { os.Exit(3); return nil }
func (exitAtPut) PutAll(context.Context, []*queue.Item) error { os.Exit(3); return nil }

// TestHeldPartSharingKeyRetriedHeldOnce: an input one part of which the
// policy holds, and whose other part, sharing its dedup key, the queue
// refuses for now (full), is tried again (the MLLP sender resends it on
// the AE). The held part must end held once: its entry stayed, and the
// retry, which cannot drop it as a duplicate (the key stays forgotten for
// the other part), held it a second time.
func TestHeldPartSharingKeyRetriedHeldOnce(t *testing.T) {
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{MaxItems: 1})
	if err != nil {
		t.Fatal(err)
	}
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	held, err := OpenHeld(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	key := sha256.Sum256([]byte("message 1"))
	conv := map[string]Converter{"hl7v2": ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		return []Unit{
			{Name: "message 1", Bundle: []byte(`{"resourceType":"Bundle","id":"held"}`), Key: "p1", Dedup: key,
				Labels: []fhir.Coding{{Code: "R"}}, LabelsKnown: true},
			{Name: "message 1 status change", Bundle: []byte(`{"resourceType":"Bundle","id":"queued"}`), Key: "p1", Dedup: key, LabelsKnown: true},
		}, nil
	})}
	ctx := context.Background()
	seen := memSeen{}
	in := adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "msg", Body: []byte("MSH|1"), Received: time.Now()}
	if err := q.Put(ctx, &queue.Item{Key: "other", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	p := New(q, seen, quar, conv, nil)
	p.SetPolicy(Policy{Hold: []string{"R"}}, held, nil)
	if err := p.Consume(ctx, in); err == nil || queue.IsPermanent(err) {
		t.Fatalf("Consume into a full queue: %v, want an error to try again", err)
	}
	q.Close(ctx)
	// Room in the queue (a larger max_items), and the resend.
	q, err = diskq.Open(filepath.Join(dir, "queue"), diskq.Options{MaxItems: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	p = New(q, seen, quar, conv, nil)
	p.SetPolicy(Policy{Hold: []string{"R"}}, held, nil)
	if err := p.Consume(ctx, in); err != nil {
		t.Fatalf("resend: %v", err)
	}
	if ids, _ := held.List(); len(ids) != 1 {
		t.Errorf("held: %v, want the held part once", ids)
	}
	if n := q.Len(); n != 2 {
		t.Errorf("queue holds %d item(s), want the other input's and the status change", n)
	}
}
