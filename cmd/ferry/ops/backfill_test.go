package ops

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
)

type rig struct {
	q    *diskq.Queue
	pipe *pipeline.Pipeline
	j    *dedup.Set
	data string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	data := t.TempDir()
	q, err := diskq.Open(filepath.Join(data, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen, err := dedup.Open(filepath.Join(data, "dedup.log"), dedup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	quar, err := pipeline.OpenQuarantine(filepath.Join(data, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := dedup.Open(filepath.Join(data, "backfill.seen"), dedup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conv := map[string]pipeline.Converter{"hl7v2": pipeline.HL7{Conv: &v2fhir.Converter{}}}
	r := &rig{q: q, pipe: pipeline.New(q, seen, quar, conv, nil), j: j, data: data}
	t.Cleanup(func() {
		q.Close(context.Background())
		seen.Close()
		j.Close()
	})
	return r
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

func TestBackfillFeedsResumesAndLeavesOriginals(t *testing.T) {
	exp := t.TempDir()
	copyFile(t, "../../../testdata/hl7v2/adt-a01.hl7", filepath.Join(exp, "2019", "a01.hl7"))
	copyFile(t, "../../../testdata/hl7v2/oru-r01.hl7", filepath.Join(exp, "2019", "lab", "oru.txt"))
	copyFile(t, "../../../testdata/hl7v2/adt-a01.hl7", filepath.Join(exp, "2020", "a01-again.hl7")) // same content: fed, and dropped by the pipeline
	os.WriteFile(filepath.Join(exp, "notes.docx"), []byte("PK\x03\x04 not a message"), 0o644)
	os.WriteFile(filepath.Join(exp, "broken.hl7"), []byte("MSH|^~\\&|X\rPID|garbage"), 0o644)
	os.WriteFile(filepath.Join(exp, "Thumbs.db"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(exp, "copy.hl7.part"), []byte("MSH|"), 0o644)
	os.MkdirAll(filepath.Join(exp, ".ferry", "done"), 0o755)
	copyFile(t, "../../../testdata/hl7v2/oru-r01.hl7", filepath.Join(exp, ".ferry", "done", "x.hl7"))
	before := snapshotDir(t, exp)

	r := newRig(t)
	formats := map[string]bool{"hl7v2": true}
	var calls []string
	res, err := Backfill(context.Background(), exp, r.pipe, r.j, BackfillOptions{Formats: formats,
		Progress: func(done, total int, name string) { calls = append(calls, name) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 5 || res.Queued != 3 || res.AlreadyDone != 0 || res.Quarantined != 1 || len(res.Skipped) != 1 || res.Skipped[0] != "notes.docx" {
		t.Fatalf("result %+v", res)
	}
	if r.q.Len() != 2 {
		t.Fatalf("queue holds %d items, want 2", r.q.Len())
	}
	if len(calls) != 6 || calls[5] != "" {
		t.Fatalf("progress calls %q", calls)
	}
	after := snapshotDir(t, exp)
	if len(after) != len(before) {
		t.Fatalf("originals changed: %d files before, %d after", len(before), len(after))
	}
	for p, b := range before {
		if after[p] != b {
			t.Fatalf("%s changed", p)
		}
	}
	// A second run finds everything done and queues nothing.
	res, err = Backfill(context.Background(), exp, r.pipe, r.j, BackfillOptions{Formats: formats})
	if err != nil {
		t.Fatal(err)
	}
	if res.Queued != 0 || res.AlreadyDone != 4 || r.q.Len() != 2 {
		t.Fatalf("second run %+v, queue %d", res, r.q.Len())
	}
}

// failingConsumer fails with a retryable error on one file.
type failingConsumer struct {
	next   adapters.Consumer
	failOn string
}

func (f *failingConsumer) Consume(ctx context.Context, in adapters.Raw) error {
	if in.Name == f.failOn {
		return errors.New("queue: disk full")
	}
	return f.next.Consume(ctx, in)
}

func TestBackfillStopsOnRetryableErrorAndResumes(t *testing.T) {
	exp := t.TempDir()
	copyFile(t, "../../../testdata/hl7v2/adt-a01.hl7", filepath.Join(exp, "1.hl7"))
	copyFile(t, "../../../testdata/hl7v2/oru-r01.hl7", filepath.Join(exp, "2.hl7"))
	r := newRig(t)
	formats := map[string]bool{"hl7v2": true}
	res, err := Backfill(context.Background(), exp, &failingConsumer{next: r.pipe, failOn: "2.hl7"}, r.j, BackfillOptions{Formats: formats})
	if err == nil || !strings.Contains(err.Error(), "2.hl7") || res.Queued != 1 {
		t.Fatalf("want a stop at 2.hl7 after one queued: %+v %v", res, err)
	}
	res, err = Backfill(context.Background(), exp, r.pipe, r.j, BackfillOptions{Formats: formats})
	if err != nil || res.AlreadyDone != 1 || res.Queued != 1 || r.q.Len() != 2 {
		t.Fatalf("resume: %+v %v, queue %d", res, err, r.q.Len())
	}
	// Large files are streamed rather than read whole.
	var sawOpen bool
	copyFile(t, "../../../testdata/hl7v2/batch-two-messages.hl7", filepath.Join(exp, "3.hl7"))
	_, err = Backfill(context.Background(), exp, adapters.ConsumerFunc(func(ctx context.Context, in adapters.Raw) error {
		sawOpen = in.Body == nil && in.Open != nil && in.Size > 0
		return nil
	}), r.j, BackfillOptions{Formats: formats, MaxInMemory: 1})
	if err != nil || !sawOpen {
		t.Fatalf("streaming: %v %v", err, sawOpen)
	}
}

func TestPrune(t *testing.T) {
	root := t.TempDir()
	done := filepath.Join(root, "done")
	for _, d := range []string{"2026-01-01", "2026-01-30", "2026-01-31", "2026-02-01", "keep-me", "2026-13-01"} {
		os.MkdirAll(filepath.Join(done, d), 0o755)
		os.WriteFile(filepath.Join(done, d, "f.xml"), []byte("x"), 0o644)
	}
	n, err := PruneDatedDirs(done, time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	left, _ := os.ReadDir(done)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "2026-01-31,2026-02-01,2026-13-01,keep-me" {
		t.Fatalf("left %v", names)
	}
	if n, err := PruneDatedDirs(filepath.Join(root, "missing"), time.Now()); n != 0 || err != nil {
		t.Fatalf("missing root: %d %v", n, err)
	}

	out := filepath.Join(root, "outbox")
	os.MkdirAll(out, 0o755)
	old := time.Now().Add(-40 * 24 * time.Hour)
	for _, f := range []string{"01J5Z8Q4V7R2M3N6P9T0W1X2Y3.json", "01J5Z8Q4V7R2M3N6P9T0W1X2Y4.json", ".01J5Z8Q4V7R2M3N6P9T0W1X2Y5.json.tmp", "readme.txt"} {
		p := filepath.Join(out, f)
		os.WriteFile(p, []byte("{}"), 0o644)
		os.Chtimes(p, old, old)
	}
	os.WriteFile(filepath.Join(out, "01J5Z8Q4V7R2M3N6P9T0W1X2Y6.json"), []byte("{}"), 0o644)
	n, err = PruneOldFiles(context.Background(), out, time.Now().Add(-30*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d files, %v", n, err)
	}
	for _, f := range []string{".01J5Z8Q4V7R2M3N6P9T0W1X2Y5.json.tmp", "readme.txt", "01J5Z8Q4V7R2M3N6P9T0W1X2Y6.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s removed", f)
		}
	}
}

// TestOpsEndpoints retries and purges real dead letters through the
// token-guarded endpoints, as `ferry queue` does while the gateway runs.
func TestOpsEndpoints(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, id := range []string{"01DEAD0000000000000000000A", "01DEAD0000000000000000000B"} {
		if err := r.q.Put(ctx, &queue.Item{ID: id, Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
			t.Fatal(err)
		}
		_, ack, err := r.q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ack(ctx, queue.Permanent(errors.New("422 unprocessable"))); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.q.Stats(); st.DeadLetters != 2 || st.Depth != 0 {
		t.Fatalf("setup: %+v", st)
	}
	tok, err := WriteToken(r.data)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(r.data, TokenFile)); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 { // Windows: the data folder's ACL decides
		t.Fatalf("token mode %v", fi.Mode())
	}
	mux := http.NewServeMux()
	RegisterOpsHandlers(mux, r.q, tok, func(err error) bool { return errors.Is(err, diskq.ErrNotFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	read, err := ReadToken(r.data)
	if err != nil || read != tok {
		t.Fatalf("read token %q %v", read, err)
	}
	dl, err := RemoteDeadLetter(ctx, addr, read, "01DEAD0000000000000000000A")
	if err != nil || string(dl.Body) != `{"resourceType":"Bundle"}` || !strings.Contains(dl.Reason, "422") {
		t.Fatalf("show: %+v %v", dl, err)
	}
	if err := RemoteOp(ctx, addr, "wrong", "retry", "01DEAD0000000000000000000A"); err == nil || !strings.Contains(err.Error(), "refused the ops token") {
		t.Fatalf("wrong token: %v", err)
	}
	if err := RemoteOp(ctx, addr, read, "retry", "01DEAD0000000000000000000A"); err != nil {
		t.Fatal(err)
	}
	if err := RemoteOp(ctx, addr, read, "purge", "01DEAD0000000000000000000B"); err != nil {
		t.Fatal(err)
	}
	if err := RemoteOp(ctx, addr, read, "purge", "01NOSUCH000000000000000000"); !errors.Is(err, ErrNoSuchItem) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := RemoteDeadLetter(ctx, addr, read, "01DEAD0000000000000000000A"); !errors.Is(err, ErrNoSuchItem) {
		t.Fatalf("retried item still a dead letter: %v", err)
	}
	if st := r.q.Stats(); st.DeadLetters != 0 || st.Depth != 1 {
		t.Fatalf("after ops: %+v", st)
	}
	// A browser-style POST without the header is refused.
	resp, err := http.Post(srv.URL+"/api/ops/deadletters/x/purge", "text/plain", nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %v %v", resp.Status, err)
	}
}

// TestBackfillGoesOnPastUnreadableFiles: a file that cannot be read (gone
// since the folder was listed, no permission) stopped the whole backfill
// at that file, and every run after it stopped there again, so the 40,000
// files behind it were never fed. It is now listed with the error, the
// others are fed, and the run ends with an error naming how many could
// not be read, so a script sees it; the file is not remembered as done.
func TestBackfillGoesOnPastUnreadableFiles(t *testing.T) {
	exp := t.TempDir()
	copyFile(t, "../../../testdata/hl7v2/adt-a01.hl7", filepath.Join(exp, "1.hl7"))
	copyFile(t, "../../../testdata/hl7v2/oru-r01.hl7", filepath.Join(exp, "2.hl7"))
	copyFile(t, "../../../testdata/hl7v2/batch-two-messages.hl7", filepath.Join(exp, "3.hl7"))
	r := newRig(t)
	formats := map[string]bool{"hl7v2": true}
	res, err := Backfill(context.Background(), exp, r.pipe, r.j, BackfillOptions{Formats: formats,
		Progress: func(done, total int, name string) {
			if name == "1.hl7" {
				os.Remove(filepath.Join(exp, "2.hl7")) // an EHR clean-up job, mid-run
			}
		}})
	if err == nil || !strings.Contains(err.Error(), "1 file(s) could not be read") {
		t.Fatalf("err %v", err)
	}
	if res.Queued != 2 || len(res.Unreadable) != 1 || res.Unreadable[0] != "2.hl7" || !gone(res.Reasons["2.hl7"]) {
		t.Fatalf("result %+v", res)
	}
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		return // root reads a 0000 file
	}
	copyFile(t, "../../../testdata/hl7v2/oru-r01.hl7", filepath.Join(exp, "2.hl7"))
	os.Chmod(filepath.Join(exp, "2.hl7"), 0)
	res, err = Backfill(context.Background(), exp, r.pipe, r.j, BackfillOptions{Formats: formats})
	if err == nil || res.AlreadyDone != 2 || len(res.Unreadable) != 1 {
		t.Fatalf("unreadable: %+v %v", res, err)
	}
}

// gone reports whether reason is the system's "no such file" (Linux) or
// "File not found." (Windows).
func gone(reason string) bool {
	r := strings.ToLower(reason)
	return strings.Contains(r, "no such file") || strings.Contains(r, "not found")
}

// TestBackfillNumberedFilesInNumberOrder: exports number their files
// without leading zeros (ADT_9.hl7, ADT_10.hl7) and their folders by
// month (2019/2, 2019/12). Fed in byte order, ADT_10 (an A08 with the
// patient's new name) was queued before ADT_9 (the A01 with the old
// one), and the exchange kept the old name; the files are now fed in
// number order, folder by folder, as a file manager lists them.
func TestBackfillNumberedFilesInNumberOrder(t *testing.T) {
	exp := t.TempDir()
	msg := func(id, event, name string) []byte {
		return []byte("MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20190101120000||ADT^" + event + "|" + id + "|P|2.5\rEVN|" + event + "|20190101120000\rPID|1||4711^^^HOSP^MR||" + name + "^Jane||19800101|F\rPV1|1|O\r")
	}
	files := map[string][]byte{
		"2019/2/ADT_9.hl7":    msg("M9", "A01", "Old"),
		"2019/2/ADT_10.hl7":   msg("M10", "A08", "New"),
		"2019/12/ADT_1.hl7":   msg("M11", "A08", "Newer"),
		"2019/12/ADT_01b.hl7": msg("M12", "A08", "Newest"),
	}
	for rel, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(exp, rel)), 0o755)
		os.WriteFile(filepath.Join(exp, rel), b, 0o644)
	}
	r := newRig(t)
	if _, err := Backfill(context.Background(), exp, r.pipe, r.j, BackfillOptions{Formats: map[string]bool{"hl7v2": true}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for r.q.Len() > 0 {
		it, ack, err := r.q.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"Old", "New", "Newer", "Newest"} {
			if strings.Contains(string(it.Body), `"family":"`+n+`"`) {
				got = append(got, n)
			}
		}
		ack(context.Background(), nil)
	}
	if strings.Join(got, ",") != "Old,New,Newer,Newest" {
		t.Fatalf("delivered in the order %v", got)
	}
}

// TestBackfillListsSymlinks: a symbolic link in the export (a "latest"
// link, a folder linked in from elsewhere) is not followed, which could
// leave the folder or feed a file twice; it was left out without a word
// and not counted, so a folder of links was "done" with nothing sent. It
// is now listed as skipped.
func TestBackfillListsSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need a privilege on Windows")
	}
	exp := t.TempDir()
	elsewhere := t.TempDir()
	copyFile(t, "../../../testdata/hl7v2/adt-a01.hl7", filepath.Join(elsewhere, "a01.hl7"))
	copyFile(t, "../../../testdata/hl7v2/oru-r01.hl7", filepath.Join(exp, "oru.hl7"))
	if err := os.Symlink(filepath.Join(elsewhere, "a01.hl7"), filepath.Join(exp, "latest.hl7")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(exp, "linked")); err != nil {
		t.Fatal(err)
	}
	r := newRig(t)
	res, err := Backfill(context.Background(), exp, r.pipe, r.j, BackfillOptions{Formats: map[string]bool{"hl7v2": true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Queued != 1 || strings.Join(res.Skipped, ",") != "latest.hl7,linked" || res.Reasons["linked"] != "a symbolic link" {
		t.Fatalf("result %+v", res)
	}
}
