package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// memSeen is a seen-set for tests of the pipeline's own logic; the durable
// one (queue/dedup) has its own tests.
type memSeen map[[32]byte]bool

func (m memSeen) Seen(k [32]byte) bool      { return m[k] }
func (m memSeen) Remember(k [32]byte) error { m[k] = true; return nil }
func (m memSeen) Add(k [32]byte) error      { m[k] = true; return nil }

// splitConv turns each line of the body into a unit; a line "bad" fails.
var splitConv = ConverterFunc(func(_ context.Context, in adapters.Raw) ([]Unit, error) {
	if len(in.Body) == 0 {
		return nil, errors.New("empty input")
	}
	var units []Unit
	for i, line := range splitLines(in.Body) {
		u := Unit{Name: "line " + string(rune('1'+i)), Raw: line, Key: "k", Dedup: sha256.Sum256(line)}
		if string(line) == "bad" {
			u.Err = errors.New("PID-3: patient identifier list is empty")
		} else {
			u.Bundle = []byte(`{"resourceType":"Bundle","type":"transaction","id":"` + string(line) + `"}`)
		}
		units = append(units, u)
	}
	return units, nil
})

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

func newTestPipeline(t *testing.T) (*Pipeline, *diskq.Queue, *Quarantine) {
	t.Helper()
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
	return New(q, memSeen{}, quar, map[string]Converter{"lines": splitConv}, nil), q, quar
}

func TestConsumeQueuesEachUnitOnce(t *testing.T) {
	p, q, _ := newTestPipeline(t)
	ctx := context.Background()
	in := adapters.Raw{Source: "test", Format: "lines", Name: "f1", Body: []byte("a\nb"), Received: time.Now()}
	if err := p.Consume(ctx, in); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 2 {
		t.Fatalf("queued %d, want 2", q.Len())
	}
	// The same input again is acknowledged and not queued twice.
	if err := p.Consume(ctx, in); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 2 || p.Stats().Duplicates.Load() != 2 {
		t.Fatalf("after resend: queued %d, duplicates %d", q.Len(), p.Stats().Duplicates.Load())
	}
	// Both conversions are timed, under their format.
	// (Windows' monotonic clock moves in steps of up to 15.6 ms: a sum of 0 is possible there.)
	if c := p.Stats().ConvertLatency()["lines"]; c.Count() != 2 || c.Sum <= 0 && runtime.GOOS != "windows" {
		t.Errorf("convert latency %+v after two inputs", c)
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if it.Key != "k" || it.Source != "test" {
		t.Errorf("item %+v", it)
	}
	ack(ctx, nil)
}

func TestConsumeQuarantinesBadUnitsAndKeepsTheRest(t *testing.T) {
	p, q, quar := newTestPipeline(t)
	err := p.Consume(context.Background(), adapters.Raw{Source: "test", Format: "lines", Name: "batch.hl7", Body: []byte("a\nbad\nc")})
	if !queue.IsPermanent(err) {
		t.Fatalf("want a permanent error, got %v", err)
	}
	if q.Len() != 2 {
		t.Errorf("good units queued: %d, want 2", q.Len())
	}
	ids, err := quar.List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("quarantine: %v %v", ids, err)
	}
	e, err := quar.Get(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Raw) != "bad" || e.Name != "batch.hl7" || e.Reason != "PID-3: patient identifier list is empty" {
		t.Errorf("quarantine entry %+v", e)
	}
}

// TestQuarantineKeepsOneCopyOfAResentInput: a sender told to resend
// (AR: an unsupported message type) sends the same bytes again and again;
// each is refused again, but the quarantine keeps one copy, not one per
// resend. Another input, or the same one for another reason, gets its own.
func TestQuarantineKeepsOneCopyOfAResentInput(t *testing.T) {
	p, _, quar := newTestPipeline(t)
	ctx := context.Background()
	for range 3 {
		if err := p.Consume(ctx, adapters.Raw{Source: "test", Format: "x12", Name: "claim.x12", Body: []byte("ISA*00")}); !queue.IsPermanent(err) {
			t.Fatalf("unknown format: %v", err)
		}
	}
	if err := p.Consume(ctx, adapters.Raw{Source: "test", Format: "x12", Name: "claim.x12", Body: []byte("ISA*01")}); !queue.IsPermanent(err) {
		t.Fatalf("unknown format: %v", err)
	}
	if err := p.Consume(ctx, adapters.Raw{Source: "test", Format: "lines", Name: "f", Body: []byte("bad")}); !queue.IsPermanent(err) {
		t.Fatalf("bad unit: %v", err)
	}
	if ids, _ := quar.List(); len(ids) != 3 {
		t.Errorf("quarantined %d, want 3 (one per distinct input)", len(ids))
	}
}

// TestQuarantineStoredAndRemove: SetStored is told the entry each Put
// returns, a resend's first entry included, and Remove deletes an entry
// (an unknown one is fs.ErrNotExist).
func TestQuarantineStoredAndRemove(t *testing.T) {
	p, _, quar := newTestPipeline(t)
	var stored []string
	quar.SetStored(func(id string) { stored = append(stored, id) })
	for range 2 {
		if err := p.Consume(context.Background(), adapters.Raw{Source: "test", Format: "lines", Name: "f", Body: []byte("bad")}); !queue.IsPermanent(err) {
			t.Fatalf("bad unit: %v", err)
		}
	}
	ids, _ := quar.List()
	if len(ids) != 1 || len(stored) != 2 || stored[0] != ids[0] || stored[1] != ids[0] {
		t.Fatalf("stored %v, entries %v", stored, ids)
	}
	if err := quar.Remove(ids[0]); err != nil {
		t.Fatal(err)
	}
	if ids, _ := quar.List(); len(ids) != 0 {
		t.Fatalf("after Remove: %v", ids)
	}
	if err := quar.Remove(stored[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove of a removed entry: %v", err)
	}
}

func TestConsumeUnreadableAndUnknownFormat(t *testing.T) {
	p, _, quar := newTestPipeline(t)
	ctx := context.Background()
	if err := p.Consume(ctx, adapters.Raw{Format: "lines", Name: "empty"}); !queue.IsPermanent(err) {
		t.Errorf("empty input: %v", err)
	}
	err := p.Consume(ctx, adapters.Raw{Format: "x12", Name: "claim.x12", Body: []byte("ISA*00")})
	if !queue.IsPermanent(err) || !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown format: %v", err)
	}
	ids, _ := quar.List()
	if len(ids) != 2 {
		t.Errorf("quarantined %d, want 2", len(ids))
	}
}

func TestConsumeStoreFailureIsRetryable(t *testing.T) {
	p, q, _ := newTestPipeline(t)
	q.Close(context.Background())
	err := p.Consume(context.Background(), adapters.Raw{Format: "lines", Name: "f", Body: []byte("a")})
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("a closed queue must give a retryable error, got %v", err)
	}
}

func TestQuarantineUnwritableIsRetryable(t *testing.T) {
	dir := t.TempDir()
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, "quarantine"))
	os.WriteFile(filepath.Join(dir, "quarantine"), []byte("not a dir"), 0o600)
	p := New(nil, nil, quar, map[string]Converter{"lines": splitConv}, nil)
	err = p.Consume(context.Background(), adapters.Raw{Format: "lines", Name: "f", Body: []byte("bad")})
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("unwritable quarantine must give a retryable error, got %v", err)
	}
}

func TestDetect(t *testing.T) {
	cases := map[string]string{
		"\xef\xbb\xbfMSH|^~\\&|": "hl7v2",
		"FHS|^~\\&|":             "hl7v2",
		"<?xml version=\"1.0\"?>\n<ClinicalDocument>": "ccda",
		`{"resourceType":"Bundle"}`:                   "fhir-json",
		"{\"a\":1}\n{\"b\":2}\n":                      "fhir-ndjson",
		"%PDF-1.4":                                    "fax",
		"II*\x00":                                     "fax",
		"hello":                                       "",
	}
	for body, want := range cases {
		if got := Detect("x", []byte(body)); got != want {
			t.Errorf("Detect(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestHL7ReportsZSegments(t *testing.T) {
	msg := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|Z-1|P|2.5.1\rEVN|A01|20261125083000\r" +
		"PID|1||MRN-1^^^CLINIC^MR||Doe^Pat||19800101|F\rPV1|1|O\rZPI|1|VIP\rZAL|1|x\rZPI|2|y\r"
	units, err := HL7{Conv: &v2fhir.Converter{}}.Convert(context.Background(), adapters.Raw{Body: []byte(msg)})
	if err != nil || len(units) != 1 || units[0].Err != nil {
		t.Fatalf("convert: %v %+v", err, units)
	}
	if got := units[0].Attrs["z_segments"]; got != "ZPI,ZAL" {
		t.Errorf("z_segments = %q, want ZPI,ZAL", got)
	}
}

// TestHL7SplitsLargeResults: an ORU with more results than an exchange
// takes in one transaction becomes ordered parts under one patient key,
// each within the limit of the converter's write mode (50 updates, or 8
// entries with a conditional Patient), and every part carries the
// message's dedup key.
func TestHL7SplitsLargeResults(t *testing.T) {
	var b strings.Builder
	b.WriteString("MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20261125083000||ORU^R01^ORU_R01|BIG-1|P|2.5.1\r" +
		"PID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
		"OBR|1|ORD-1|FIL-1|24323-8^Panel^LN|||20261125080000|||||||||||||||20261125083000|||F\r")
	for i := 1; i <= 70; i++ {
		fmt.Fprintf(&b, "OBX|%d|NM|%d-1^Analyte %d^LN||%d|mg/dL|||||F\r", i, 10000+i, i, i)
	}
	for _, mode := range []v2fhir.Mode{v2fhir.ModeID, v2fhir.ModePatientConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			limit := fhir.MaxTransactionEntries
			if mode == v2fhir.ModePatientConditional {
				limit = fhir.MaxConditionalEntries
			}
			units, err := HL7{Conv: &v2fhir.Converter{Mode: mode}}.Convert(context.Background(), adapters.Raw{Body: []byte(b.String())})
			if err != nil {
				t.Fatal(err)
			}
			if len(units) < 2 {
				t.Fatalf("got %d unit(s), want the bundle split", len(units))
			}
			var zero [32]byte
			for i, u := range units {
				if u.Err != nil {
					t.Fatalf("unit %d: %v", i, u.Err)
				}
				var bundle struct {
					Entry []json.RawMessage `json:"entry"`
				}
				if err := json.Unmarshal(u.Bundle, &bundle); err != nil {
					t.Fatal(err)
				}
				if len(bundle.Entry) > limit {
					t.Errorf("unit %d has %d entries, limit %d", i, len(bundle.Entry), limit)
				}
				if u.Key != units[0].Key || u.Key == "" {
					t.Errorf("unit %d key %q, want the patient key %q", i, u.Key, units[0].Key)
				}
				if u.Dedup == zero || u.Dedup != units[0].Dedup {
					t.Errorf("unit %d does not carry the message's dedup key", i)
				}
			}
		})
	}
}

// TestHL7StatusChangeUnit: results that only turn final (OBX-11 U without
// a value) follow the report as a last unit of their own, a batch of
// PATCHes under the message's patient and dedup keys, in every write mode.
func TestHL7StatusChangeUnit(t *testing.T) {
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20261125083000||ORU^R01^ORU_R01|FIN-1|P|2.5.1\r" +
		"PID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
		"OBR|1|ORD-1|FIL-1|24323-8^Panel^LN|||20261125080000|||||||||||||||20261125083000|||F\r" +
		"OBX|1|NM|2345-7^Glucose^LN||||||||U\r" +
		"OBX|2|NM|2160-0^Creatinine^LN||1.1|mg/dL|||||F\r" +
		"OBX|3|NM|2823-3^Potassium^LN||\"\"||||||U\r"
	for _, mode := range []v2fhir.Mode{v2fhir.ModeID, v2fhir.ModePatientConditional, v2fhir.ModeConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			units, err := HL7{Conv: &v2fhir.Converter{Mode: mode}}.Convert(context.Background(), adapters.Raw{Body: []byte(msg)})
			if err != nil {
				t.Fatal(err)
			}
			if len(units) < 2 {
				t.Fatalf("got %d unit(s), want the report and its status change", len(units))
			}
			last := units[len(units)-1]
			if last.Err != nil || !strings.HasSuffix(last.Name, " status change") {
				t.Fatalf("last unit %q: %v", last.Name, last.Err)
			}
			var b struct {
				Type  string `json:"type"`
				Entry []struct {
					Resource struct {
						ResourceType string `json:"resourceType"`
						ContentType  string `json:"contentType"`
					} `json:"resource"`
					Request struct{ Method, URL string } `json:"request"`
				} `json:"entry"`
			}
			if err := json.Unmarshal(last.Bundle, &b); err != nil {
				t.Fatal(err)
			}
			if b.Type != "batch" || len(b.Entry) != 2 {
				t.Fatalf("status change: type %q, %d entries", b.Type, len(b.Entry))
			}
			for _, e := range b.Entry {
				if e.Request.Method != "PATCH" || !strings.HasPrefix(e.Request.URL, "Observation") || e.Resource.ContentType != "application/json-patch+json" {
					t.Errorf("entry %+v", e)
				}
			}
			for i, u := range units {
				if u.Key != units[0].Key || u.Key == "" || u.Dedup != units[0].Dedup {
					t.Errorf("unit %d does not carry the message's keys", i)
				}
				if i < len(units)-1 && strings.Contains(string(u.Bundle), `"PATCH"`) {
					t.Errorf("unit %d (a transaction) has a PATCH", i)
				}
			}
			if last.Attrs["obx_status_only"] != "2" {
				t.Errorf("obx_status_only = %q", last.Attrs["obx_status_only"])
			}
		})
	}
}

// failingQueue is the real disk queue with one fault injected: its n-th
// Put fails. It hides diskq's PutAll, so the pipeline stores unit by unit.
type failingQueue struct {
	queue.Queue // only the interface's methods: no PutAll
	n, puts     int
}

func (f *failingQueue) Put(ctx context.Context, it *queue.Item) error {
	f.puts++
	if f.puts == f.n {
		return errors.New("injected: disk full")
	}
	return f.Queue.Put(ctx, it)
}

// TestConsumeRemembersKeysOnlyOnceAllUnitsAreStored: when a later unit of
// an input cannot be stored, the input is refused (retryable) and none of
// its dedup keys is remembered, so the resend stores every unit again
// instead of being taken for a duplicate with a unit missing.
func TestConsumeRemembersKeysOnlyOnceAllUnitsAreStored(t *testing.T) {
	_, q, quar := newTestPipeline(t)
	seen := memSeen{}
	fq := &failingQueue{Queue: q, n: 2}
	p := New(fq, seen, quar, map[string]Converter{"lines": splitConv}, nil)
	ctx := context.Background()
	in := adapters.Raw{Source: "test", Format: "lines", Name: "f1", Body: []byte("a\nb"), Received: time.Now()}
	err := p.Consume(ctx, in)
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("Consume = %v, want a retryable error", err)
	}
	if len(seen) != 0 {
		t.Fatalf("%d dedup key(s) remembered for an input not wholly stored", len(seen))
	}
	if err := p.Consume(ctx, in); err != nil {
		t.Fatal(err)
	}
	// "a" from the first attempt (at-least-once), then "a" and "b".
	if q.Len() != 3 || len(seen) != 2 {
		t.Fatalf("after the resend: %d queued, %d keys; want 3 and 2", q.Len(), len(seen))
	}
}

// TestHL7MaxEntriesKeepsMessageWhole: with a cap the exchange allows
// (hl7v2.max_entries), a message that the default cap of 8 would cut stays
// one transaction, the conditional Patient included.
func TestHL7MaxEntriesKeepsMessageWhole(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/convert/v2-oru-r01-cbc/input.hl7")
	if err != nil {
		t.Fatal(err)
	}
	in := adapters.Raw{Source: "t", Format: "hl7v2", Name: "m", Body: raw}
	for _, tc := range []struct {
		max, parts int
	}{{0, 2}, {50, 1}} {
		units, err := HL7{Conv: &v2fhir.Converter{Mode: v2fhir.ModePatientConditional, MaxEntries: tc.max}}.Convert(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(units) != tc.parts {
			t.Errorf("max_entries %d: %d transaction(s), want %d", tc.max, len(units), tc.parts)
		}
	}
}

// TestConsumePseudonymizesKeys: with SetPseudonym, every unit's ordering
// key is replaced before it is stored; one patient's units keep one key.
func TestConsumePseudonymizesKeys(t *testing.T) {
	p, q, _ := newTestPipeline(t)
	p.SetPseudonym(func(k string) string { return "pseudo-" + k })
	ctx := context.Background()
	if err := p.Consume(ctx, adapters.Raw{Source: "test", Format: "lines", Name: "f1", Body: []byte("a\nb"), Received: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if it.Key != "pseudo-k" {
			t.Errorf("item key %q, want the pseudonym of %q", it.Key, "k")
		}
		ack(ctx, nil)
	}
}

// A converter's panic quarantines the input like a conversion error; the
// returned error says only that it panicked. A panic while storing is not
// the input's fault and is left to the source (a retryable failure).
func TestConverterPanicIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	boom := ConverterFunc(func(context.Context, adapters.Raw) ([]Unit, error) { panic("PID-5 \"DOE^JANE\"") })
	p := New(nil, nil, quar, map[string]Converter{"lines": boom}, nil)
	in := adapters.Raw{Source: "mllp/x", Format: "lines", Name: "conn 1 msg 1", Body: []byte("odd"), Received: time.Now()}
	err = p.Consume(context.Background(), in)
	var cp *adapters.ConvertPanic
	if !queue.IsPermanent(err) || !errors.As(err, &cp) || strings.Contains(err.Error(), "DOE") {
		t.Fatalf("err = %v", err)
	}
	ids, _ := quar.List()
	if len(ids) != 1 {
		t.Fatalf("quarantine: %v", ids)
	}
	e, err := quar.Get(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Raw) != "odd" || !strings.Contains(e.Reason, `PID-5 "DOE^JANE"`) || !strings.Contains(e.Reason, "goroutine") {
		t.Errorf("entry: raw %q, reason:\n%s", e.Raw, e.Reason)
	}
	// Resent, it panics again (another stack), and is kept once.
	if err := p.Consume(context.Background(), in); !queue.IsPermanent(err) {
		t.Fatalf("resend: %v", err)
	}
	if ids, _ := quar.List(); len(ids) != 1 {
		t.Errorf("quarantine after a resend: %v, want one entry", ids)
	}

	p = New(panicQueue{}, nil, quar, map[string]Converter{"lines": splitConv}, nil)
	defer func() {
		if recover() == nil {
			t.Error("a panic while storing was recovered as the input's fault")
		}
	}()
	_ = p.Consume(context.Background(), adapters.Raw{Format: "lines", Name: "n", Body: []byte("a")})
}

type panicQueue struct{}

func (panicQueue) Put(context.Context, *queue.Item) error { panic("queue bug") }

// TestBatchPanicQuarantinesOneMessage: in an HL7 batch file, a message
// that trips a converter bug is quarantined alone, with the panic and its
// stack as the reason; the file's other messages are converted and queued.
func TestBatchPanicQuarantinesOneMessage(t *testing.T) {
	orig := v2convert
	t.Cleanup(func() { v2convert = orig })
	v2convert = func(c *v2fhir.Converter, m *hl7v2.Message, raw []byte) (*fhir.Bundle, v2fhir.Result, v2fhir.Lease, error) {
		if m.ControlID() == "B2" {
			panic("converter bug on B2")
		}
		return orig(c, m, raw)
	}
	p, q, quar := newTestPipeline(t)
	p.converters["hl7v2"] = HL7{Conv: &v2fhir.Converter{}}
	var batch strings.Builder
	for _, id := range []string{"B1", "B2", "B3"} {
		batch.WriteString("MSH|^~\\&|APP|FAC|R|RF|20240101120000||ADT^A01|" + id + "|P|2.5.1\rEVN|A01\rPID|1||" + id + "^^^HOSP^MR||Doe^Jane\r")
	}
	err := p.Consume(context.Background(), adapters.Raw{Source: "folder/x", Format: "hl7v2", Name: "batch.hl7", Body: []byte(batch.String())})
	var cp *adapters.ConvertPanic
	if !queue.IsPermanent(err) || !errors.As(err, &cp) {
		t.Fatalf("consume: %v", err)
	}
	if q.Len() != 2 {
		t.Errorf("%d queued, want the 2 messages without the bug", q.Len())
	}
	ids, _ := quar.List()
	if len(ids) != 1 {
		t.Fatalf("quarantine %v, want one entry", ids)
	}
	e, _ := quar.Get(ids[0])
	if !strings.Contains(string(e.Raw), "|B2|") || strings.Contains(string(e.Raw), "|B1|") || !strings.Contains(e.Reason, "converter bug on B2") || !strings.Contains(e.Reason, "goroutine") {
		t.Errorf("entry: raw %q, reason %q", e.Raw, e.Reason)
	}
}

// TestPseudonymKeepsBehindKeys: with SetPseudonym, a key a unit waits
// behind (queue.Behind) is pseudonymized inside its mark, so the unit
// still only waits behind the pseudonymized directory key instead of
// joining a key of its own; and the directory resource's own key is the
// same pseudonym.
func TestPseudonymKeepsBehindKeys(t *testing.T) {
	_, q, quar := newTestPipeline(t)
	p := New(q, memSeen{}, quar, map[string]Converter{"fhir-ndjson": FHIRJSON{}}, nil)
	p.SetPseudonym(func(k string) string { return "pseudo-" + k })
	ctx := context.Background()
	body := `{"resourceType":"Practitioner","id":"d"}` + "\n" + `{"resourceType":"Encounter","id":"e","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p"}}`
	if err := p.Consume(ctx, adapters.Raw{Source: "ehr", Format: "fhir-ndjson", Name: "f.ndjson", Body: []byte(body), Received: time.Now()}); err != nil {
		t.Fatal(err)
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if it.Key != "pseudo-"+DirectoryKey {
		t.Errorf("Practitioner keyed %q, want the pseudonym of %q", it.Key, DirectoryKey)
	}
	ack(ctx, nil)
	it, ack, err = q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{queue.Behind("pseudo-" + DirectoryKey)}; !slices.Equal(it.After, want) {
		t.Errorf("Encounter after %q, want %q", it.After, want)
	}
	ack(ctx, nil)
}
