package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/replaced"
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
			if err := p.Consume(ctx, adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: tc.name, Body: []byte(tc.first), Received: time.Now()}); err != nil {
				t.Fatal(err)
			}
			// The document's transaction is refused (a dead letter);
			// a replacement's supersede batch goes through.
			id := deadLetterDoc(ctx, t, q, "current")
			if id == "" {
				t.Fatalf("sealed %v, %s: no item writes the document current", sealed, tc.name)
			}
			// The cancel, delivered.
			if err := p.Consume(ctx, adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: "T11", Body: []byte(tc.cancel), Received: time.Now()}); err != nil {
				t.Fatal(err)
			}
			deliverAll(ctx, t, q)

			if err := q.Retry(ctx, id); err != nil {
				t.Fatal(err)
			}
			again, ack, err := q.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := docStatus(t, again); got != "entered-in-error" {
				t.Errorf("sealed %v, %s retried after its cancel: written %q, want entered-in-error (attrs %v)", sealed, tc.name, got, again.Attrs)
			}
			ack(ctx, nil)
		}
	}
}

// mdmStatus is an MDM status change of document txa12 of patient MRN-V
// with availability avail (TXA-19): a T03 without the document, or, with
// content, a T04 carrying it.
func mdmStatus(trigger, ctl, txa12, avail string, content bool) string {
	m := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125090000||MDM^" + trigger + "^MDM_T02|" + ctl + "|P|2.5.1\r" +
		"EVN|" + trigger + "|20261125090000\r" +
		"PID|1||MRN-V^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
		"TXA|1|PN|TX|20261125080000||20261125081000||||||" + txa12 + "^EHR|||||AU||" + avail + "\r"
	if content {
		m += "OBX|1|TX|11506-3^Progress note^LN||Note " + txa12 + ".||||||F\r"
	}
	return m
}

// TestRetiredByStatusNotCurrentAtRetry: a document dead-lettered, then
// retired by a status change (TXA-19 CA, deleted; OB, obsolete), with or
// without its content, is retried as the status change left it, not
// current; and an original arriving after such a status change is not
// filed current either.
func TestRetiredByStatusNotCurrentAtRetry(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, change, want string
	}{
		{"T03 CA", mdmStatus("T03", "S-2", "D-1", "CA", false), "entered-in-error"},
		{"T04 CA", mdmStatus("T04", "S-2", "D-1", "CA", true), "entered-in-error"},
		{"T03 OB", mdmStatus("T03", "S-2", "D-1", "OB", false), "superseded"},
	} {
		p, q, _, reg := versionPipeline(t)
		q.SetRetryEdit(SupersedeReplaced(reg.Replaced, q.CreateBody))
		consume := func(name, msg string) {
			if err := p.Consume(ctx, adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: name, Body: []byte(msg), Received: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		consume("T02", mdmVersion("T02", "S-1", "", "D-1", ""))
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		id := it.ID
		if err := ack(ctx, queue.Permanent(errors.New("HTTP 422"))); err != nil {
			t.Fatal(err)
		}
		consume(tc.name, tc.change)
		deliverAll(ctx, t, q)
		if err := q.Retry(ctx, id); err != nil {
			t.Fatal(err)
		}
		again, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := docStatus(t, again); got != tc.want {
			t.Errorf("T02 retried after a %s: written %q, want %s", tc.name, got, tc.want)
		}
		ack(ctx, nil)
		// The same original arriving late (resent under a new control id).
		consume("T02 late", mdmVersion("T02", "S-3", "", "D-1", ""))
		late, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := docStatus(t, late); got != tc.want {
			t.Errorf("T02 arriving after a %s: written %q, want %s", tc.name, got, tc.want)
		}
		ack(ctx, nil)
	}
}

// TestCancelledSupersededDocumentAtRetry: a document written superseded
// when it was converted (its replacement, T10, accepted first; or TXA-19
// OB), dead-lettered, then cancelled (MDM^T11) with the cancel delivered,
// is retried entered-in-error: the cancel wins over the replacement at
// retry as it does at conversion. Retried superseded, it would undo the
// cancel's PATCH and file the withdrawn document (one filed to the wrong
// patient's record) as that patient's history again.
func TestCancelledSupersededDocumentAtRetry(t *testing.T) {
	ctx := context.Background()
	for _, sealed := range []bool{false, true} {
		for _, tc := range []struct {
			name, before, first string
		}{
			{"T02 after its T10", mdmVersion("T10", "C-1", "", "D-2", "D-1"), mdmVersion("T02", "C-2", "", "D-1", "")},
			{"T04 OB", "", mdmStatus("T04", "C-2", "D-1", "OB", true)},
		} {
			p, q, _, reg := versionPipeline(t)
			if sealed {
				p.SetPseudonym(func(k string) string { return "ps:" + k })
			}
			q.SetRetryEdit(SupersedeReplaced(reg.Replaced, q.CreateBody))
			deliver := func(name, msg string) {
				t.Helper()
				if err := p.Consume(ctx, adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: name, Body: []byte(msg), Received: time.Now()}); err != nil {
					t.Fatal(err)
				}
				deliverAll(ctx, t, q)
			}
			if tc.before != "" {
				deliver("T10", tc.before)
			}
			if err := p.Consume(ctx, adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: tc.name, Body: []byte(tc.first), Received: time.Now()}); err != nil {
				t.Fatal(err)
			}
			// The document's transaction is refused (a dead letter).
			id := deadLetterDoc(ctx, t, q, "superseded")
			if id == "" {
				t.Fatalf("sealed %v, %s: no item writes the document superseded", sealed, tc.name)
			}
			deliver("T11", mdmVersion("T11", "C-3", "", "D-1", ""))

			if err := q.Retry(ctx, id); err != nil {
				t.Fatal(err)
			}
			again, ack, err := q.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := docStatus(t, again); got != "entered-in-error" {
				t.Errorf("sealed %v, %s retried after its cancel: written %q, want entered-in-error (attrs %v)", sealed, tc.name, got, again.Attrs)
			}
			ack(ctx, nil)
		}
	}
}

// docStatus is the status of the first DocumentReference the item's bundle
// writes, "" when it writes none.
func docStatus(t *testing.T, it *queue.Item) string {
	t.Helper()
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

// TestCancelAfterMergeAtRetry: a document dead-lettered, then its
// patient's record merged into another (ADT^A40), then the document
// cancelled (MDM^T11, naming the retired record or the survivor) with the
// cancel delivered, is retried entered-in-error; replaced (T10) instead,
// superseded. The document's bundle knows the cancel or replacement by
// the key of the patient it was converted for; the message, converted
// after the merge, is of the survivor: it is to be recorded under the
// merged record's key too.
func TestCancelAfterMergeAtRetry(t *testing.T) {
	ctx := context.Background()
	const a40 = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125084000||ADT^A40^ADT_A39|M-1|P|2.5.1\r" +
		"EVN|A40|20261125084000\r" +
		"PID|1||MRN-S^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
		"MRG|MRN-V^^^CLINIC^MR\r"
	for _, tc := range []struct{ names, retire, want string }{
		{"MRN-V", mdmVersion("T11", "C-2", "", "D-1", ""), "entered-in-error"},
		{"MRN-S", mdmVersion("T11", "C-2", "", "D-1", ""), "entered-in-error"},
		{"MRN-S", mdmVersion("T10", "C-2", "", "D-2", "D-1"), "superseded"},
	} {
		names := tc.names
		dir := t.TempDir()
		q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close(context.Background()) })
		quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
		if err != nil {
			t.Fatal(err)
		}
		reg, err := replaced.Open(filepath.Join(dir, replaced.FileName), replaced.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reg.Close() })
		mreg, err := merges.Open(filepath.Join(dir, "merges.log"), merges.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mreg.Close() })
		h := HL7{Conv: &v2fhir.Converter{Replaced: reg.Replaced, Merges: mreg}}
		p := New(q, memSeen{}, quar, map[string]Converter{"hl7v2": h, "hl7v2-batch": h}, nil)
		p.SetReplaced(reg)
		p.SetMerges(mreg)
		q.SetRetryEdit(SupersedeReplaced(reg.Replaced, q.CreateBody))
		consume := func(name, msg string) {
			t.Helper()
			if err := p.Consume(ctx, adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: name, Body: []byte(msg), Received: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		consume("T02", mdmVersion("T02", "C-1", "", "D-1", ""))
		id := deadLetterDoc(ctx, t, q, "current")
		if id == "" {
			t.Fatalf("%s: no item writes the document current", names)
		}
		consume("A40", a40)
		deliverAll(ctx, t, q)
		consume("retire", strings.Replace(tc.retire, "MRN-V", names, 1))
		deliverAll(ctx, t, q)

		if err := q.Retry(ctx, id); err != nil {
			t.Fatal(err)
		}
		again, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := docStatus(t, again); got != tc.want {
			t.Errorf("%.7s naming %s, T02 retried after it: written %q, want %s (attrs %v)", tc.retire[strings.Index(tc.retire, "MDM^"):], names, got, tc.want, again.Attrs)
		}
		ack(ctx, nil)
	}
}

// deliverAll takes every item from q as delivered.
func deliverAll(ctx context.Context, t *testing.T, q *diskq.Queue) {
	t.Helper()
	for q.Len() > 0 {
		_, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ack(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// deadLetterDoc takes every item from q: the one whose DocumentReference
// is written with status is refused for good (a 422, a dead letter), the
// others delivered. It returns the refused item's id, "" when none.
func deadLetterDoc(ctx context.Context, t *testing.T, q *diskq.Queue, status string) string {
	t.Helper()
	id := ""
	for q.Len() > 0 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var res error
		if docStatus(t, it) == status {
			id, res = it.ID, queue.Permanent(errors.New("HTTP 422"))
		}
		if err := ack(ctx, res); err != nil {
			t.Fatal(err)
		}
	}
	return id
}
