package diskq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/seal"
)

// rejection is a receiver's refusal the way a sink reports it: a short
// error text and the whole answer behind queue.Outcomer.
type rejection struct {
	text    string
	outcome []byte
	cut     bool
}

func (r *rejection) Error() string           { return r.text }
func (r *rejection) Outcome() ([]byte, bool) { return r.outcome, r.cut }
func (r *rejection) Summary() string         { return "exchange answered 422" }

var _ queue.Outcomer = (*rejection)(nil)

// outcome15 is an OperationOutcome with 15 issues that quote patient data.
func outcome15() string {
	var issues []string
	for i := range 15 {
		issues = append(issues, fmt.Sprintf(`{"severity":"error","code":"invariant","diagnostics":"issue %02d: %s"}`, i, phi))
	}
	return `{"resourceType":"OperationOutcome","issue":[` + strings.Join(issues, ",") + `]}`
}

// deadLetterWithOutcome puts one item and dead-letters it with the
// receiver's answer; it returns the item's ID.
func deadLetterWithOutcome(t *testing.T, q *Queue, oo string) string {
	t.Helper()
	put(t, q, "k", 1)
	it, a := get(t, q)
	ack(t, a, queue.Permanent(fmt.Errorf("deliver: %w", &rejection{text: "exchange answered 422: invariant: issue 00 …", outcome: []byte(oo)})))
	return it.ID
}

// TestDeadLetterKeepsOutcome: a permanent error that carries the
// receiver's answer leaves it whole in the dead letter, beside the short
// reason; it survives reopening, is left out of listings, is read by
// InspectDeadLetter beside a running queue, and never reaches the log.
func TestDeadLetterKeepsOutcome(t *testing.T) {
	dir := t.TempDir()
	var logs logBuf
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	q := open(t, dir, Options{Logger: log})
	oo := outcome15()
	id := deadLetterWithOutcome(t, q, oo)
	closeQ(t, q)

	q = open(t, dir, Options{Logger: log})
	defer closeQ(t, q)
	dl, err := q.DeadLetter(id)
	if err != nil {
		t.Fatal(err)
	}
	if dl.Outcome != oo || dl.OutcomeTruncated || !strings.HasPrefix(dl.Reason, "deliver: exchange answered 422") {
		t.Fatalf("dead letter after reopen: outcome %d bytes (want %d), truncated %v, reason %q", len(dl.Outcome), len(oo), dl.OutcomeTruncated, dl.Reason)
	}
	list, err := q.DeadLetters()
	if err != nil || len(list) != 1 || list[0].Outcome != "" {
		t.Fatalf("listing: %v, %+v", err, list)
	}
	got, err := InspectDeadLetter(dir, "", nil, id)
	if err != nil || got.Outcome != oo || got.Body != nil {
		t.Fatalf("InspectDeadLetter: %v, outcome %d bytes, body %d bytes", err, len(got.Outcome), len(got.Body))
	}
	if _, err := InspectDeadLetter(dir, "", nil, "01NOSUCH"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("InspectDeadLetter of an unknown ID: %v", err)
	}
	if strings.Contains(logs.String(), "MRN-4711") {
		t.Fatalf("the outcome reached the log:\n%s", logs.String())
	}
}

// TestDeadLetterOutcomeCapped: a sink that hands over more than
// queue.MaxOutcomeBytes gets it cut and marked, whatever it claimed.
func TestDeadLetterOutcomeCapped(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	id := deadLetterWithOutcome(t, q, strings.Repeat("x", queue.MaxOutcomeBytes+10))
	dl, err := q.DeadLetter(id)
	if err != nil || len(dl.Outcome) != queue.MaxOutcomeBytes || !dl.OutcomeTruncated {
		t.Fatalf("capped outcome: %v, %d bytes, truncated %v", err, len(dl.Outcome), dl.OutcomeTruncated)
	}
}

// TestDeadLetterOutcomeSealed: with a key the outcome is sealed with the
// dead letter (no plaintext of it on disk) and reads back with the key,
// after reopening too; without the key it is not readable.
func TestDeadLetterOutcomeSealed(t *testing.T) {
	dir := t.TempDir()
	key, err := seal.GenerateKeyFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	q := open(t, dir, Options{Key: key})
	oo := outcome15()
	id := deadLetterWithOutcome(t, q, oo)
	closeQ(t, q)

	files, _ := filepath.Glob(filepath.Join(dir, "dead", "*"))
	if len(files) == 0 {
		t.Fatal("no dead-letter file")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "MRN-4711") || strings.Contains(string(b), "OperationOutcome") {
			t.Fatalf("%s holds the outcome in plaintext", filepath.Base(f))
		}
	}
	q = open(t, dir, Options{Key: key})
	defer closeQ(t, q)
	dl, err := q.DeadLetter(id)
	if err != nil || dl.Outcome != oo {
		t.Fatalf("sealed dead letter after reopen: %v, outcome %d bytes", err, len(dl.Outcome))
	}
	if got, err := InspectDeadLetter(dir, "", key, id); err != nil || got.Outcome != oo {
		t.Fatalf("InspectDeadLetter with the key: %v", err)
	}
	if _, err := InspectDeadLetter(dir, "", nil, id); !errors.Is(err, ErrNoKey) {
		t.Fatalf("InspectDeadLetter without the key: %v, want ErrNoKey", err)
	}
}

// TestDeadLetterOldFormat: a dead letter written before outcomes were
// kept (no outcome fields) still reads, lists and retries.
func TestDeadLetterOldFormat(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	closeQ(t, q)
	old := map[string]any{
		"id": "01OLDFORMAT0000000000000000", "source": "mllp/main", "attempts": 1,
		"enqueued": "2026-01-02T03:04:05Z", "dead_at": "2026-01-02T03:05:00Z",
		"reason": "exchange answered 400 Bad Request", "seq": 7, "body": []byte(`{"resourceType":"Bundle"}`), "size": 25,
	}
	b, _ := json.MarshalIndent(old, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "dead", "0000000000000007-01OLDFORMAT0000000000000000.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	q = open(t, dir, Options{})
	defer closeQ(t, q)
	dl, err := q.DeadLetter("01OLDFORMAT0000000000000000")
	if err != nil || dl.Outcome != "" || dl.Reason != "exchange answered 400 Bad Request" || string(dl.Body) != `{"resourceType":"Bundle"}` {
		t.Fatalf("old dead letter: %v, %+v", err, dl)
	}
	if err := q.Retry(context.Background(), dl.ID); err != nil {
		t.Fatalf("retry old dead letter: %v", err)
	}
	if q.Len() != 1 {
		t.Fatalf("Len after retry = %d", q.Len())
	}
}
