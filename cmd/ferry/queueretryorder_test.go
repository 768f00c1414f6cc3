package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestQueueRetryNamedNewestFirst: a patient's two dead letters (an A01
// and the A08 after it, both refused) named newest first, as one may
// copy them from an alert or the end of `ferry queue list`, go back to
// the queue in the order they were queued, as `--all` puts them, without
// --force: the A01 was refused as one that the A08, put back first,
// waited behind, and with --force went after it, older data over newer.
func TestQueueRetryNamedNewestFirst(t *testing.T) {
	t.Run("offline", func(t *testing.T) {
		cfgFile, cfg := writeCfg(t, t.TempDir(), freeAddr(t))
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ids := refusedTwice(t, q, "patient-1")
		q.Close(context.Background())
		retryNewestFirst(t, cfgFile, ids)
		q, err = diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(context.Background())
		checkQueuedInOrder(t, q)
	})
	t.Run("gateway", func(t *testing.T) {
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		defer srv.Close()
		cfgFile, cfg := writeCfg(t, t.TempDir(), strings.TrimPrefix(srv.URL, "http://"))
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(context.Background())
		g := &gateway{cfg: cfg, log: newLogger(io.Discard, "error"), q: q}
		g.registerOps(mux)
		retryNewestFirst(t, cfgFile, refusedTwice(t, q, "patient-2"))
		checkQueuedInOrder(t, q)
	})
}

// refusedTwice queues an A01 and an A08 of patient key and dead-letters
// both, returning their IDs in that order.
func refusedTwice(t *testing.T, q *diskq.Queue, key string) []string {
	t.Helper()
	ctx := context.Background()
	for _, typ := range []string{"ADT^A01", "ADT^A08"} {
		if err := q.Put(ctx, &queue.Item{Key: key, Body: []byte(`{"resourceType":"Bundle"}`), Attrs: map[string]string{"type": typ}}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for range 2 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ack(ctx, queue.Permanent(errors.New("exchange answered 422"))); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}
	return ids
}

// retryNewestFirst runs ferry queue retry A08 A01, which must put both
// back without --force.
func retryNewestFirst(t *testing.T, cfgFile string, ids []string) {
	t.Helper()
	out, err := runQueue(t, "retry", ids[1], ids[0], "--config", cfgFile)
	if err != nil || !strings.Contains(out, "2 of 2 dead letter(s) back in the queue") {
		t.Fatalf("retry A08 A01: %v\n%s", err, out)
	}
}

// checkQueuedInOrder wants q to give the A01, then the A08.
func checkQueuedInOrder(t *testing.T, q *diskq.Queue) {
	t.Helper()
	ctx := context.Background()
	for _, want := range []string{"ADT^A01", "ADT^A08"} {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := it.Attrs["type"]; got != want {
			t.Fatalf("the queue gives %s (%s) where the %s was queued first", got, it.ID, want)
		}
		ack(ctx, nil)
	}
}
