package diskq

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestPutBodyReusable: Put copies the body into the log, so a caller that
// reuses its buffer after Put returned (the pipeline's pooled bundles)
// cannot change what is stored, in memory or after a reopen.
func TestPutBodyReusable(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	if !q.CopiesBody() {
		t.Fatal("CopiesBody = false")
	}
	buf := make([]byte, 0, 64)
	for i := range 3 {
		buf = fmt.Appendf(buf[:0], "bundle %d", i)
		if err := q.Put(context.Background(), &queue.Item{Key: "k", Body: buf}); err != nil {
			t.Fatal(err)
		}
		copy(buf, "XXXXXXXX") // the caller reuses its buffer
	}
	check := func(q *Queue) {
		t.Helper()
		for i := range 3 {
			it, a := get(t, q)
			if want := fmt.Sprintf("bundle %d", i); string(it.Body) != want {
				t.Fatalf("item %d body %q, want %q", i, it.Body, want)
			}
			ack(t, a, nil)
		}
	}
	// Read back after a reopen: what is on disk is the original bytes.
	closeQ(t, q)
	q = open(t, dir, Options{})
	defer closeQ(t, q)
	check(q)
}

// TestInlineAndPipelinedPuts mixes a lone producer (written inline) with
// bursts of concurrent ones (batched by the writer) and checks that every
// item survives a reopen, each key in the order it was put, and that the
// lone producer did take the inline path (one sync per Put, no batching
// needed).
func TestInlineAndPipelinedPuts(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 64 << 10}) // rotate often
	ctx := context.Background()
	want := map[string][]string{}
	var mu sync.Mutex
	putOne := func(key string, n int) {
		body := fmt.Sprintf("%s-%04d-%s", key, n, bytes.Repeat([]byte("x"), 300))
		if err := q.Put(ctx, &queue.Item{Key: key, Body: []byte(body)}); err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		want[key] = append(want[key], body)
		mu.Unlock()
	}
	for round := range 20 {
		before := q.commits.Load()
		for n := range 5 {
			putOne("lone", round*5+n)
		}
		if got := q.commits.Load() - before; got != 5 {
			t.Fatalf("round %d: 5 lone Puts took %d syncs, want 5", round, got)
		}
		var wg sync.WaitGroup
		for p := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range 10 {
					putOne(fmt.Sprintf("p%d", p), round*10+n)
				}
			}()
		}
		wg.Wait()
	}
	if t.Failed() {
		return
	}
	closeQ(t, q)
	q = open(t, dir, Options{SegmentBytes: 64 << 10})
	defer closeQ(t, q)
	got := map[string][]string{}
	total := 0
	for _, v := range want {
		total += len(v)
	}
	for range total {
		it, a := get(t, q)
		got[it.Key] = append(got[it.Key], string(it.Body))
		ack(t, a, nil)
	}
	for k, v := range want {
		if len(got[k]) != len(v) {
			t.Fatalf("key %s: %d items after reopen, want %d", k, len(got[k]), len(v))
		}
		for i := range v {
			if got[k][i] != v[i] {
				t.Fatalf("key %s item %d out of order or changed", k, i)
			}
		}
	}
}
