package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// overtakenDeadLetter dead-letters an A01 of patient key and delivers
// the A08 queued after it, as the dispatcher does: the dead letter no
// longer holds the key, so newer data reaches the exchange first.
func overtakenDeadLetter(t *testing.T, q *diskq.Queue, key string) string {
	t.Helper()
	ctx := context.Background()
	for _, typ := range []string{"ADT^A01", "ADT^A08"} {
		if err := q.Put(ctx, &queue.Item{Key: key, Body: []byte(`{"resourceType":"Bundle"}`), Attrs: map[string]string{"type": typ}}); err != nil {
			t.Fatal(err)
		}
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("exchange answered 422"))); err != nil {
		t.Fatal(err)
	}
	_, ack, err = q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return it.ID
}

// TestQueueRetryOfOvertakenDeadLetterNeedsForce: `queue show` says how
// many later items of the patient were delivered after the dead letter,
// and `queue retry` refuses it without --force, offline and through a
// running gateway's ops API; with --force it is queued and the operator
// is told it follows newer data.
func TestQueueRetryOfOvertakenDeadLetterNeedsForce(t *testing.T) {
	check := func(t *testing.T, cfgFile string, cfg *config.Config, id string) {
		t.Helper()
		out, err := runQueue(t, "show", id, "--config", cfgFile)
		if err != nil || !strings.Contains(out, "newer data: 1 later item(s) of this patient were delivered after it") {
			t.Fatalf("show: %v\n%s", err, out)
		}
		out, err = runQueue(t, "retry", id, "--config", cfgFile)
		if err == nil || !strings.Contains(out, "1 later item(s) of the same patient were delivered after it") || !strings.Contains(out, "--force") {
			t.Fatalf("retry without --force: %v\n%s", err, out)
		}
		if dls, _ := diskq.InspectDeadLetters(cfg.Path("queue"), ""); len(dls) != 1 {
			t.Fatalf("refused retry changed the dead letters: %+v", dls)
		}
		out, err = runQueue(t, "retry", id, "--force", "--config", cfgFile)
		if err != nil || !strings.Contains(out, "1 of 1 dead letter(s) back in the queue") || !strings.Contains(out, "sent after 1 newer item(s) of the same patient") {
			t.Fatalf("retry --force: %v\n%s", err, out)
		}
	}

	t.Run("offline", func(t *testing.T) {
		cfgFile, cfg := writeCfg(t, t.TempDir(), freeAddr(t))
		q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		id := overtakenDeadLetter(t, q, "patient-1")
		q.Close(context.Background())
		check(t, cfgFile, cfg, id)
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
		id := overtakenDeadLetter(t, q, "patient-2")
		check(t, cfgFile, cfg, id)
		if q.Len() != 1 {
			t.Fatalf("forced retry through the gateway: queue holds %d", q.Len())
		}
	})
}
