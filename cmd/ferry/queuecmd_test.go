package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// deadLetterQueue opens the queue of cfg and dead-letters n items in it.
func deadLetterQueue(t *testing.T, cfg *config.Config, n int) (*diskq.Queue, []string) {
	t.Helper()
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []string
	for i := 0; i < n; i++ {
		it := &queue.Item{Source: "mllp/main", Body: []byte(fmt.Sprintf(`{"resourceType":"Bundle","id":"b%d"}`, i)), Attrs: map[string]string{"type": "ADT^A01"}}
		if err := q.Put(ctx, it); err != nil {
			t.Fatal(err)
		}
		got, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ack(ctx, queue.Permanent(errors.New("exchange answered 422: Patient.birthDate invalid"))); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got.ID)
	}
	return q, ids
}

// deadLetter stores it in the queue of cfg, dead-letters it (a 422) and
// closes the queue again, for the offline commands; it returns its id.
func deadLetter(t *testing.T, cfg *config.Config, it *queue.Item) string {
	t.Helper()
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	ctx := context.Background()
	if err := q.Put(ctx, it); err != nil {
		t.Fatal(err)
	}
	got, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("exchange answered 422"))); err != nil {
		t.Fatal(err)
	}
	return got.ID
}

func writeCfg(t *testing.T, dir, statusAddr string) (string, *config.Config) {
	t.Helper()
	p := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf("data_dir: %q\nstatus:\n  listen: %q\n", filepath.Join(dir, "data"), statusAddr)), 0o600)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.DataDir, 0o700)
	return p, cfg
}

func runQueue(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cmdQueue(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), err
}

func TestQueueCommandsOffline(t *testing.T) {
	cfgFile, cfg := writeCfg(t, t.TempDir(), freeAddr(t))
	q, ids := deadLetterQueue(t, cfg, 3)
	q.Close(context.Background())

	out, err := runQueue(t, "list", "--config", cfgFile)
	if err != nil || !strings.Contains(out, "3 dead letter(s)") || !strings.Contains(out, ids[0]) || !strings.Contains(out, "422: Patient.birthDate invalid") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runQueue(t, "show", ids[1], "--config", cfgFile, "--body")
	if err != nil || !strings.Contains(out, "type:      ADT^A01") || !strings.Contains(out, `"id": "b1"`) {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if out, err = runQueue(t, "retry", ids[0], "--config", cfgFile); err != nil || !strings.Contains(out, "1 of 1 dead letter(s) back in the queue") {
		t.Fatalf("retry: %v\n%s", err, out)
	}
	if _, err = runQueue(t, "purge", "--all", "--config", cfgFile); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("purge --all without --yes: %v", err)
	}
	if out, err = runQueue(t, "purge", "--all", "--yes", "--config", cfgFile); err != nil || !strings.Contains(out, "2 of 2 dead letter(s) deleted") {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	if out, err = runQueue(t, "retry", "01NOSUCHID0000000000000000", "--config", cfgFile); err == nil || !strings.Contains(out, "01NOSUCHID") {
		t.Fatalf("retry unknown: %v\n%s", err, out)
	}
	snap, err := diskq.Inspect(cfg.Path("queue"), "", 10)
	if err != nil || snap.Stats.Depth != 1 || snap.Stats.DeadLetters != 0 || snap.Pending[0].ID != ids[0] {
		t.Fatalf("after: %+v %v", snap, err)
	}
}

// TestQueueCommandsThroughRunningGateway: while a gateway holds the queue
// lock, retry, purge and show --body go through its ops endpoints.
func TestQueueCommandsThroughRunningGateway(t *testing.T) {
	dir := t.TempDir()
	// The status listener is started first so its address can go into
	// the config file the commands read.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cfgFile, cfg := writeCfg(t, dir, strings.TrimPrefix(srv.URL, "http://"))
	q, ids := deadLetterQueue(t, cfg, 2)
	defer q.Close(context.Background())
	g := &gateway{cfg: cfg, log: newLogger(io.Discard, "error"), q: q}
	g.registerOps(mux)

	out, err := runQueue(t, "show", ids[0], "--body", "--config", cfgFile)
	if err != nil || !strings.Contains(out, `"id": "b0"`) {
		t.Fatalf("show through gateway: %v\n%s", err, out)
	}
	if out, err := runQueue(t, "retry", ids[0], "--config", cfgFile); err != nil || !strings.Contains(out, "1 of 1") {
		t.Fatalf("retry through gateway: %v\n%s", err, out)
	}
	if out, err := runQueue(t, "purge", ids[1], "--config", cfgFile); err != nil || !strings.Contains(out, "1 of 1 dead letter(s) deleted") {
		t.Fatalf("purge through gateway: %v\n%s", err, out)
	}
	if st := q.Stats(); st.Depth != 1 || st.DeadLetters != 0 {
		t.Fatalf("queue after: %+v", st)
	}
	// Without the token (another account), the operator is told plainly.
	os.Remove(filepath.Join(cfg.DataDir, "ops.token"))
	if _, err := runQueue(t, "purge", ids[0], "--config", cfgFile); err == nil || !strings.Contains(err.Error(), "the gateway is running and holds the queue") {
		t.Fatalf("no token: %v", err)
	}
}

// TestQueueShowHidesPatient: a dead letter keeps the patient's
// identifier for the audit trail (pipeline.AttrPatient, in clear without
// an encryption key); `ferry queue show` prints the item's other
// attributes, never that one.
func TestQueueShowHidesPatient(t *testing.T) {
	cfgFile, cfg := writeCfg(t, t.TempDir(), freeAddr(t))
	id := deadLetter(t, cfg, &queue.Item{Source: "mllp/main", Body: []byte(`{"resourceType":"Bundle"}`),
		Attrs: map[string]string{"type": "ADT^A01", pipeline.AttrPatient: `{"system":"urn:oid:1.2.3","value":"MRN-SECRET-77"}`}})
	out, err := runQueue(t, "show", id, "--config", cfgFile)
	if err != nil {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if !strings.Contains(out, "ADT^A01") || strings.Contains(out, "MRN-SECRET-77") {
		t.Fatalf("queue show prints the patient's identifier, or not the other attributes:\n%s", out)
	}
}

// TestQueueShowAfter: a dead-lettered merge (ADT^A40, ordered after the
// retired patient's backlog) shows the keys it is ordered after, which a
// retry waits for again, so an operator can tell what it waits for.
func TestQueueShowAfter(t *testing.T) {
	cfgFile, cfg := writeCfg(t, t.TempDir(), freeAddr(t))
	id := deadLetter(t, cfg, &queue.Item{Key: "5f2b9c0e7d1a4b3c8e6f0a1b2c3d4e5f", After: []string{"0a1b2c3d4e5f60718293a4b5c6d7e8f9"}, Source: "mllp/main",
		Body: []byte(`{"resourceType":"Bundle"}`), Attrs: map[string]string{"type": "ADT^A40"}})
	out, err := runQueue(t, "show", id, "--config", cfgFile)
	if err != nil {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if !strings.Contains(out, "key:       5f2b9c0e7d1a4b3c8e6f0a1b2c3d4e5f") || !strings.Contains(out, "after:     0a1b2c3d4e5f60718293a4b5c6d7e8f9 (also delivered after") {
		t.Fatalf("queue show does not tell the keys the item is ordered after:\n%s", out)
	}
}

// TestQueueShowBehind: `ferry queue show` names a key an item only waits
// behind (queue.Behind: the FHIR pass-through's directory resources) on a
// line of its own, without the mark's NUL byte, apart from the keys it
// comes after.
func TestQueueShowBehind(t *testing.T) {
	cfgFile, cfg := writeCfg(t, t.TempDir(), freeAddr(t))
	id := deadLetter(t, cfg, &queue.Item{Key: "p", After: []string{queue.Behind(pipeline.DirectoryKey), "m"}, Source: "folder/ehr", Body: []byte(`{"resourceType":"Bundle"}`)})
	out, err := runQueue(t, "show", id, "--config", cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "behind:    "+pipeline.DirectoryKey+" (") || !strings.Contains(out, "after:     m (") || strings.ContainsRune(out, 0) {
		t.Errorf("show:\n%q", out)
	}
}

// TestRetryPurgeWithoutIDsIsUsage: `ferry queue retry` with neither IDs
// nor --all (or with both), and the same for quarantine replay and purge,
// is a usage mistake: exit status 2 with the reason and the usage, as
// `ferry held release` without IDs is, not 1, which scripts take for a
// retry or purge that failed.
func TestRetryPurgeWithoutIDsIsUsage(t *testing.T) {
	cfgFile, cfg := writeCfg(t, t.TempDir(), freeAddr(t))
	q, ids := deadLetterQueue(t, cfg, 1)
	q.Close(context.Background())
	for _, args := range [][]string{
		{"queue", "retry"},
		{"queue", "purge"},
		{"queue", "retry", "--all", ids[0]},
		{"queue", "purge", "--all", "--yes", ids[0]},
		{"quarantine", "replay"},
		{"quarantine", "purge", "--all", "--yes", "01J0000000000000000000000A"},
	} {
		var out, errb bytes.Buffer
		code := runMain(context.Background(), append(args, "--config", cfgFile), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "or --all (one or the other)") || !strings.Contains(errb.String(), "usage: ferry "+args[0]) {
			t.Errorf("%v: exit %d, want 2 with the reason and the usage\n%s%s", args, code, out.String(), errb.String())
		}
	}
	if st, err := diskq.Inspect(cfg.Path("queue"), "", 10); err != nil || st.Stats.DeadLetters != 1 {
		t.Fatalf("the dead letter was touched: %+v %v", st, err)
	}
}

// outcomeErr is a rejection that carries the receiver's answer.
type outcomeErr struct{ text, outcome string }

func (e outcomeErr) Error() string           { return e.text }
func (e outcomeErr) Outcome() ([]byte, bool) { return []byte(e.outcome), false }

// TestQueueListShowNoTerminalControls: a dead letter's reason is the
// exchange's text (an OperationOutcome's diagnostics, decoded from JSON,
// where "\u001b" is an escape character; a proxy's error page), and the
// answer kept with it may not be JSON. `ferry queue list` and `show`
// print them on the operator's terminal without their control
// characters, which would otherwise clear it, retitle it or hide lines,
// as `ferry quarantine show --raw` keeps an input's out.
func TestQueueListShowNoTerminalControls(t *testing.T) {
	cfgFile, cfg := writeCfg(t, t.TempDir(), freeAddr(t))
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := q.Put(ctx, &queue.Item{Source: "mllp/main", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rej := outcomeErr{text: "exchange answered 422: error processing: \x1b[2J\x1b]0;owned\x07birthDate\rinvalid\x1b[8m",
		outcome: "<html>\x1b[2Jbad gateway\u009b31m</html>"}
	if err := ack(ctx, queue.Permanent(rej)); err != nil {
		t.Fatal(err)
	}
	q.Close(ctx)
	for _, args := range [][]string{{"list"}, {"show", it.ID}} {
		out, err := runQueue(t, append(args, "--config", cfgFile)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if strings.ContainsAny(out, "\x1b\x07\r\u009b") || !strings.Contains(out, "birthDate") {
			t.Errorf("queue %s prints the exchange's control characters:\n%q", args[0], out)
		}
	}
}
