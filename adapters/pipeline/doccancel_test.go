package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestCancelledDocumentNotCurrentAtRetry: a document whose bundle was
// dead-lettered, then cancelled (MDM^T11) with the cancel delivered, is
// retried entered-in-error, never current: an original (T02) and a
// replacement (T10) alike, with data at rest sealed or not. Retried
// current, it would undo the cancel's PATCH at the exchange and file a
// withdrawn document (one filed to the wrong patient) as valid again.
func TestCancelledDocumentNotCurrentAtRetry(t *testing.T) {
	ctx := context.Background()
	for _, sealed := range []bool{false, true} {
		for _, tc := range []struct {
			name, first, cancel string
		}{
			{"T02", mdmVersion("T02", "C-1", "", "D-1", ""), mdmVersion("T11", "C-2", "", "D-1", "")},
			{"T10", mdmVersion("T10", "C-3", "", "D-2", "D-1"), mdmVersion("T11", "C-4", "", "D-2", "")},
		} {
			p, q, _, reg := versionPipeline(t)
			if sealed {
				p.SetPseudonym(func(k string) string { return "ps:" + k })
			}
			q.SetRetryEdit(SupersedeReplaced(reg.Replaced, q.CreateBody))
			status := func(it *queue.Item) string {
				body := it.Body
				if body == nil && it.Open != nil {
					rc, err := it.Open()
					if err != nil {
						t.Fatal(err)
					}
					body, err = io.ReadAll(rc)
					rc.Close()
					if err != nil {
						t.Fatal(err)
					}
				}
				var b struct {
					Entry []struct {
						Resource struct{ ResourceType, Status string }
					}
				}
				if err := json.Unmarshal(body, &b); err != nil {
					t.Fatal(err)
				}
				for _, e := range b.Entry {
					if e.Resource.ResourceType == "DocumentReference" {
						return e.Resource.Status
					}
				}
				return ""
			}

			if err := p.Consume(ctx, adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: tc.name, Body: []byte(tc.first), Received: time.Now()}); err != nil {
				t.Fatal(err)
			}
			// The document's transaction is refused (a dead letter);
			// a replacement's supersede batch goes through.
			id := ""
			for q.Len() > 0 {
				it, ack, err := q.Get(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var res error
				if status(it) == "current" {
					id, res = it.ID, queue.Permanent(errors.New("HTTP 422"))
				}
				if err := ack(ctx, res); err != nil {
					t.Fatal(err)
				}
			}
			if id == "" {
				t.Fatalf("sealed %v, %s: no item writes the document current", sealed, tc.name)
			}
			// The cancel, delivered.
			if err := p.Consume(ctx, adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: "T11", Body: []byte(tc.cancel), Received: time.Now()}); err != nil {
				t.Fatal(err)
			}
			for q.Len() > 0 {
				_, ack, err := q.Get(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := ack(ctx, nil); err != nil {
					t.Fatal(err)
				}
			}

			if err := q.Retry(ctx, id); err != nil {
				t.Fatal(err)
			}
			again, ack, err := q.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := status(again); got != "entered-in-error" {
				t.Errorf("sealed %v, %s retried after its cancel: written %q, want entered-in-error (attrs %v)", sealed, tc.name, got, again.Attrs)
			}
			ack(ctx, nil)
		}
	}
}
