package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestSupersedeReplacedSpilledBody: a document version whose bundle was
// spilled to a file (a C-CDA or MDM with its PDF, over the spill
// threshold), dead-lettered and retried after its replacement was
// accepted, goes back superseded like one held in memory; before, the
// retry edit skipped file bodies and the old version went current again
// beside its replacement. The edited body is a new body file (sealed
// when the queue seals), its other bytes unchanged.
func TestSupersedeReplacedSpilledBody(t *testing.T) {
	ctx := context.Background()
	pdf := strings.Repeat("JVBERi0xLjQK", 400_000) // 4.8 MB of base64
	body := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"DocumentReference","status":"current",` +
		`"content":[{"attachment":{"contentType":"application/pdf","data":"` + pdf + `"}}]},"request":{"method":"PUT","url":"DocumentReference/d1"}}]}`
	for _, sealed := range []bool{false, true} {
		var opts diskq.Options
		if sealed {
			k, err := seal.NewKey([]byte("ferry spill edit test key, 32 b!"))
			if err != nil {
				t.Fatal(err)
			}
			opts.Key = k
		}
		dir := filepath.Join(t.TempDir(), "queue")
		q, err := diskq.Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		w, err := q.CreateBody()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		it := &queue.Item{Key: "p", Source: "mllp/a", BodyFile: w.Name(), Attrs: map[string]string{AttrDocumentVersion: "v1"}}
		if err := q.Put(ctx, it); err != nil {
			t.Fatal(err)
		}
		_, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ack(ctx, queue.Permanent(errors.New("HTTP 422"))); err != nil {
			t.Fatal(err)
		}
		q.SetRetryEdit(SupersedeReplaced(func(k string) bool { return k == "v1" }, q.CreateBody))
		if err := q.Retry(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
		if sealed {
			// No plaintext reaches the disk: the edited copy is sealed too.
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				if err == nil && bytes.Contains(b, []byte("DocumentReference")) {
					t.Errorf("%s holds the bundle in plaintext", path)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		got, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Open == nil {
			t.Fatalf("sealed %v: the retried body is not a file", sealed)
		}
		rc, err := got.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Replace(body, `"status":"current"`, `"status":"superseded"`, 1)
		if string(b) != want || !json.Valid(b) {
			t.Errorf("sealed %v: retried body differs from the superseded original (%d bytes, want %d)", sealed, len(b), len(want))
		}
		if got.Attrs[AttrSupersededAtRetry] != "true" {
			t.Errorf("sealed %v: attrs %v", sealed, got.Attrs)
		}
		if err := ack(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := q.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
