package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestLargeDeadLetterShown: `ferry queue show ID --body` of a dead letter
// while the gateway runs asks the gateway for it. The gateway read the
// body whole and encoded the dead letter with it into one more buffer, so
// showing a fax's dead letter (an exchange's 413 for a 90-page fax) took
// about five times the bundle of the service's memory: a 48 MB bundle
// allocated 239 MB. The body is now base64-encoded as it is read, and the
// answer is the same JSON.
func TestLargeDeadLetterShown(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	const id = "01DEAD0000000000000000000L"
	body := append([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary","data":"`),
		bytes.Repeat([]byte("JVBERi0xLjQK"), 4<<20)...)
	body = append(body, `"}}]}`...)
	w, err := r.q.CreateBody()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
	w.Close()
	if err := r.q.Put(ctx, &queue.Item{ID: id, BodyFile: w.Name(), Attrs: map[string]string{"format": "fax"}}); err != nil {
		t.Fatal(err)
	}
	_, ack, err := r.q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("413 request entity too large"))); err != nil {
		t.Fatal(err)
	}
	small := "01DEAD0000000000000000000S"
	if err := r.q.Put(ctx, &queue.Item{ID: small, Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, ack, err = r.q.Get(ctx); err != nil {
		t.Fatal(err)
	}
	ack(ctx, queue.Permanent(errors.New("422 unprocessable")))

	mux := http.NewServeMux()
	RegisterOpsHandlers(mux, r.q, "tok", func(err error) bool { return errors.Is(err, diskq.ErrNotFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(id string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/ops/deadletters/"+id, nil)
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set(OperatorHeader, "test")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp := get(id)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MB dead letter: %d MB answer, %.1f MB allocated", len(body)>>20, n>>20, float64(alloc)/(1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %s, %v", resp.Status, err)
	}
	if alloc > 8<<20 {
		t.Errorf("showing a %d MB dead letter allocated %.0f MB in the gateway", len(body)>>20, float64(alloc)/(1<<20))
	}

	// The answer is the dead letter's JSON, body included.
	for _, c := range []struct {
		id   string
		body []byte
	}{{id, body}, {small, []byte(`{"resourceType":"Bundle"}`)}} {
		resp := get(c.id)
		var dl diskq.DeadLetter
		err := json.NewDecoder(resp.Body).Decode(&dl)
		resp.Body.Close()
		if err != nil || dl.ID != c.id || !bytes.Equal(dl.Body, c.body) || !strings.Contains(dl.Reason, "unprocessable") && !strings.Contains(dl.Reason, "413") {
			t.Fatalf("%s: %v; id %s, body %d bytes (want %d), reason %q", c.id, err, dl.ID, len(dl.Body), len(c.body), dl.Reason)
		}
	}
	if resp := get("01NOSUCH000000000000000000"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown id: %s", resp.Status)
	}
}
