package fhirhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// fileItem is a queue item whose body is streamed from a file, as
// diskq.Get returns a spilled one.
func fileItem(t *testing.T, id string, body []byte) *queue.Item {
	t.Helper()
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return &queue.Item{ID: id, Size: int64(len(body)), Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// TestStreamedBodyIsBoundedByProgress checks that a body streamed from a
// file is not cut off by the request Timeout while it keeps moving (a
// large fax over a slow uplink takes minutes), but that an upload that
// stops moving fails after Timeout, as a retryable error.
func TestStreamedBodyIsBoundedByProgress(t *testing.T) {
	// 32 MiB of base64 in one JSON string, like a fax's Binary.
	body := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary","contentType":"application/pdf","data":"` +
		strings.Repeat("0123456789abcdef", 1<<21) + `"},"request":{"method":"POST","url":"Binary"}},{"resource":{"resourceType":"DocumentReference","status":"current"},"request":{"method":"POST","url":"DocumentReference"}}]}`)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Request-Id") == "stall" {
			select { // read nothing until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		// Slow but steady: 256 KiB every 40 ms, about 5 s in all,
		// more than twice the Timeout. (A 500 ms Timeout was cut once
		// by a pause of the race detector under a full parallel run,
		// and a 1 s one at a load average of 30.)
		buf := make([]byte, 256<<10)
		var got bytes.Buffer
		for {
			n, err := io.ReadFull(r.Body, buf)
			got.Write(buf[:n])
			if err != nil {
				break
			}
			time.Sleep(40 * time.Millisecond)
		}
		if !bytes.Equal(got.Bytes(), body) || r.ContentLength != int64(len(body)) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", MediaType)
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}},{"response":{"status":"201 Created"}}]}`)
	}))
	defer srv.Close()
	defer close(release)
	s := newSink(t, Config{URL: srv.URL + "/fhir", Timeout: 2 * time.Second})

	if err := s.Send(context.Background(), fileItem(t, "slow", body)); err != nil {
		t.Fatalf("slow but steady upload: %v", err)
	}
	big := bytes.Repeat([]byte("x"), 64<<20) // more than the socket buffers take
	err := s.Send(context.Background(), fileItem(t, "stall", big))
	if err == nil || queue.IsPermanent(err) || !strings.Contains(err.Error(), "no progress") {
		t.Fatalf("stalled upload: %v; want a retryable no-progress error", err)
	}
}
