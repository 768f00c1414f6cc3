package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestQueuePurgeWithLostKey: the refusal openQueue gives while data_dir
// holds data sealed with a key the configuration does not name tells the
// operator, when that key is lost for good, to purge what it sealed with
// `ferry queue purge`. Purging stores nothing, so it must not be refused
// by the same check: before, it was, and the items sealed with a lost key
// could not be removed at all (the gateway does not start beside them).
func TestQueuePurgeWithLostKey(t *testing.T) {
	dir := t.TempDir()
	k, err := seal.GenerateKeyFile(filepath.Join(dir, "ferry.key"))
	if err != nil {
		t.Fatal(err)
	}
	_, cfg := backfillCfg(t, dir, "")
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: k, DeadLetterDir: ops.DeadLetterDir(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := q.PutAll(ctx, []*queue.Item{
		{Key: "p1", Body: []byte(`{"resourceType":"Bundle","id":"dead"}`)},
		{Key: "p2", Body: []byte(`{"resourceType":"Bundle","id":"queued"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range q.Pending(10) {
		ids = append(ids, p.ID)
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("refused"))); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The key file is lost: the configuration names no key.
	var stdout, stderr bytes.Buffer
	if err := queueOp(ctx, cfg, "purge", ids, false, false, &stdout, &stderr); err != nil {
		t.Fatalf("queue purge of the dead letter %s and the item %s sealed with a lost key: %v\n%s%s", it.ID, ids, err, stdout.String(), stderr.String())
	}
	q, err = diskq.Open(cfg.Path("queue"), diskq.Options{DeadLetterDir: ops.DeadLetterDir(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	dls, err := q.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || len(dls) != 0 {
		t.Fatalf("after the purge: %d queued, %d dead letters; want none", q.Len(), len(dls))
	}
}

// TestQueueRetryAfterKeyRotation: with a new key and the old one listed
// as previous, `ferry queue retry` passes the sealed-key check and puts
// the dead letter sealed with the old key back.
func TestQueueRetryAfterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	old, _, _, cfg := rotatedKeys(t, dir)
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{Key: old, DeadLetterDir: ops.DeadLetterDir(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := q.Put(ctx, &queue.Item{Key: "p1", Body: []byte(`{"resourceType":"Bundle","id":"dead"}`)}); err != nil {
		t.Fatal(err)
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("refused"))); err != nil {
		t.Fatal(err)
	}
	q.Close(ctx)
	var stdout, stderr bytes.Buffer
	if err := queueOp(ctx, cfg, "retry", []string{it.ID}, false, true, &stdout, &stderr); err != nil {
		t.Fatalf("queue retry after a key rotation: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	key, err := cfg.LoadKey()
	if err != nil {
		t.Fatal(err)
	}
	q, err = diskq.Open(cfg.Path("queue"), diskq.Options{Key: key, DeadLetterDir: ops.DeadLetterDir(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	got, ack, err := q.Get(ctx)
	if err != nil || string(got.Body) != `{"resourceType":"Bundle","id":"dead"}` {
		t.Fatalf("retried item: %v %q", err, got.Body)
	}
	ack(ctx, nil)
}
