package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestPatientOrderAcrossKeyRotation: ARCHITECTURE invariant 4 (an A08
// never overtakes its A01) across a rotation of the data-at-rest key. The
// patient key in clear is the patient's pseudonym under the current key,
// so the A01 queued before the rotation (still waiting: the exchange was
// down, or it is being delivered) was keyed by the old key's pseudonym
// and the A08 queued after it by the new key's: two keys, so the A08 was
// handed out beside the A01, and could reach the exchange first. It now
// waits behind what is queued under the patient's previous pseudonyms.
func TestPatientOrderAcrossKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldKey, err := seal.GenerateKeyFile(filepath.Join(dir, "old.key"))
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := seal.GenerateKeyFile(filepath.Join(dir, "new.key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	qdir := filepath.Join(dir, "queue")
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	consume := func(p *Pipeline, line string) {
		t.Helper()
		if err := p.Consume(ctx, adapters.Raw{Source: "mllp/lab", Format: "lines", Name: line, Body: []byte(line), Received: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}

	// Before the rotation: the A01 is queued under the old key.
	q, err := diskq.Open(qdir, diskq.Options{Key: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	p := New(q, memSeen{}, quar, map[string]Converter{"lines": splitConv}, nil)
	p.SetPseudonym(oldKey.Pseudonym)
	consume(p, "a01")
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The rotation: the new key, the old one as a previous key, as the
	// gateway sets them up (components.go).
	rotated := newKey.WithPrevious(oldKey)
	q, err = diskq.Open(qdir, diskq.Options{Key: rotated})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	p = New(q, memSeen{}, quar, map[string]Converter{"lines": splitConv}, nil)
	p.SetPseudonym(rotated.Pseudonym)
	p.SetPreviousPseudonyms(rotated.PreviousPseudonyms)

	// The A01 is being delivered when the A08 comes in.
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(it.Body) != `{"resourceType":"Bundle","type":"transaction","id":"a01"}` {
		t.Fatalf("first item %s, want the A01", it.Body)
	}
	consume(p, "a08")
	// A Get with its context done returns an item only if one is ready.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if it2, ack2, err := q.Get(done); err == nil {
		ack2(ctx, nil)
		t.Fatalf("the A08 (%s) was handed out while the patient's A01 queued before the key rotation was being delivered", it2.Body)
	} else if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	// Delivered, the A01 lets the A08 go.
	if err := ack(ctx, nil); err != nil {
		t.Fatal(err)
	}
	it, ack, err = q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(it.Body) != `{"resourceType":"Bundle","type":"transaction","id":"a08"}` {
		t.Fatalf("second item %s, want the A08", it.Body)
	}
	ack(ctx, nil)
}
