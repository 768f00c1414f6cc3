package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/ccdafhir"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/replaced"
)

// versionPipeline is the gateway's ingest over a real data directory:
// diskq queue, quarantine, held store (holding label R), and the
// registry of replaced documents wired into the converters and the
// pipeline as cmd/ferry wires them.
func versionPipeline(t *testing.T) (*Pipeline, *diskq.Queue, *Held, *replaced.Registry) {
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
	held, err := OpenHeld(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := replaced.Open(filepath.Join(dir, replaced.FileName), replaced.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	h := HL7{Conv: &v2fhir.Converter{Replaced: reg.Replaced}}
	p := New(q, memSeen{}, quar, map[string]Converter{
		"ccda":        CCDA{Options: ccdafhir.Options{Replaced: reg.Replaced}},
		"hl7v2":       h,
		"hl7v2-batch": h,
	}, nil)
	p.SetReplaced(reg)
	p.SetPolicy(Policy{Hold: []string{"R"}}, held, nil)
	return p, q, held, reg
}

// mdmVersion is an MDM message of patient MRN-V: a T02 of document
// txa12, or a T10 of txa12 replacing txa13; security "R" (MSH-8) makes
// it restricted.
func mdmVersion(trigger, ctl, security, txa12, txa13 string) string {
	if txa13 != "" {
		txa13 += "^EHR"
	}
	return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000|" + security + "|MDM^" + trigger + "^MDM_T02|" + ctl + "|P|2.5.1\r" +
		"EVN|" + trigger + "|20261125083000\r" +
		"PID|1||MRN-V^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
		"TXA|1|PN|TX|20261125080000||20261125081000||||||" + txa12 + "^EHR|" + txa13 + "||||AU||AV\r" +
		"OBX|1|TX|11506-3^Progress note^LN||Note " + txa12 + ".||||||F\r"
}

// exchangeStatuses delivers what q holds, in the order the dispatcher
// would, to a model of the exchange's DocumentReferences: a written
// DocumentReference takes the status it was written with; a PATCH of
// the supersede batch a replacement ends with (queue.AttrMissingOK)
// makes the one at its URL superseded, and finds nothing (404, done)
// when the exchange has none there. It returns each document's status
// by its master identifier.
func exchangeStatuses(t *testing.T, q *diskq.Queue) map[string]string {
	t.Helper()
	ctx := context.Background()
	atURL := map[string]string{}
	out := map[string]string{}
	for q.Len() > 0 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Request  struct{ Method, URL string }
				Resource struct {
					ResourceType     string
					Status           string
					MasterIdentifier struct{ Value string }
				}
			}
		}
		if err := json.Unmarshal(it.Body, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			switch {
			case e.Resource.ResourceType == "DocumentReference":
				atURL[e.Request.URL] = e.Resource.MasterIdentifier.Value
				out[e.Resource.MasterIdentifier.Value] = e.Resource.Status
			case e.Request.Method == "PATCH" && strings.HasPrefix(e.Request.URL, "DocumentReference") && it.Attrs[queue.AttrMissingOK] == "true":
				if id, ok := atURL[e.Request.URL]; ok {
					out[id] = "superseded"
				}
			}
		}
		ack(ctx, nil)
	}
	return out
}

// batchFile wraps msgs in FHS/BHS ... BTS/FTS.
func batchFile(msgs ...string) []byte {
	var b strings.Builder
	b.WriteString("FHS|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000\rBHS|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000\r")
	for _, m := range msgs {
		b.WriteString(m)
	}
	b.WriteString("BTS|" + string(rune('0'+len(msgs))) + "\rFTS|1\r")
	return []byte(b.String())
}

// TestBatchFileVersionsEitherOrder: one HL7 batch file holding the T02 of
// D-1 and the T10 of D-2 that replaces it leaves the exchange with D-1
// superseded and D-2 current whichever comes first in the file. With
// the T10 first, its replacement is recorded only when the file is
// stored, after every message of it was converted: the T02 after it
// must still see it, as a T02 in a later file does.
func TestBatchFileVersionsEitherOrder(t *testing.T) {
	t02 := mdmVersion("T02", "B-1", "", "D-1", "")
	t10 := mdmVersion("T10", "B-2", "", "D-2", "D-1")
	for name, body := range map[string][]byte{
		"T02 then T10": batchFile(t02, t10),
		"T10 then T02": batchFile(t10, t02),
	} {
		t.Run(name, func(t *testing.T) {
			p, q, _, _ := versionPipeline(t)
			if err := p.Consume(context.Background(), adapters.Raw{Source: "folder/hl7", Format: "hl7v2-batch", Name: "batch.hl7", Body: body, Received: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if got := exchangeStatuses(t, q); got["D-1"] != "superseded" || got["D-2"] != "current" {
				t.Errorf("exchange ends with %v, want D-1 superseded and D-2 current", got)
			}
		})
	}
}

// TestRacingVersionsTwoConnections: the T02 of D-1 and the T10 that
// replaces it arrive on two MLLP connections at once. The T02 is
// converted before the T10's replacement is recorded, and stored after
// the T10: it is delivered after the T10's supersede PATCH, so as
// converted (current) it would make D-1 current again beside D-2. The
// test holds the T02 between conversion and storing to make that
// interleaving certain.
func TestRacingVersionsTwoConnections(t *testing.T) {
	p, q, _, _ := versionPipeline(t)
	ctx := context.Background()
	real := p.converters["hl7v2"]
	converted, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	p.converters["hl7v2"] = ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		units, err := real.Convert(ctx, in)
		if in.Name == "conn 1" {
			once.Do(func() { close(converted); <-resume })
		}
		return units, err
	})
	errc := make(chan error, 1)
	go func() {
		errc <- p.Consume(ctx, adapters.Raw{Source: "mllp/a", Format: "hl7v2", Name: "conn 1", Body: []byte(mdmVersion("T02", "R-1", "", "D-1", "")), Received: time.Now()})
	}()
	<-converted
	if err := p.Consume(ctx, adapters.Raw{Source: "mllp/b", Format: "hl7v2", Name: "conn 2", Body: []byte(mdmVersion("T10", "R-2", "", "D-2", "D-1")), Received: time.Now()}); err != nil {
		t.Fatal(err)
	}
	close(resume)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := exchangeStatuses(t, q); got["D-1"] != "superseded" || got["D-2"] != "current" {
		t.Errorf("exchange ends with %v, want D-1 superseded and D-2 current", got)
	}
}

// TestHeldReplacementSupersedesNothing: a replacement held by policy has
// not reached the exchange, so the version it replaces stays current
// there: an MDM T10 held does not make a T02 of its parent arriving
// after it superseded (the registry is not told of a held replacement),
// and a C-CDA replacement held does not send its supersede batch. Held
// entries keep the keys to record when a person releases them.
func TestHeldReplacementSupersedesNothing(t *testing.T) {
	ctx := context.Background()
	t.Run("mdm", func(t *testing.T) {
		p, q, held, reg := versionPipeline(t)
		for _, in := range []adapters.Raw{
			{Source: "mllp/a", Format: "hl7v2", Name: "T10", Body: []byte(mdmVersion("T10", "H-2", "R", "D-2", "D-1")), Received: time.Now()},
			{Source: "mllp/a", Format: "hl7v2", Name: "T02", Body: []byte(mdmVersion("T02", "H-1", "", "D-1", "")), Received: time.Now()},
		} {
			if err := p.Consume(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		if got := exchangeStatuses(t, q); got["D-1"] != "current" || got["D-2"] != "" {
			t.Errorf("exchange ends with %v, want D-1 current (its replacement is held)", got)
		}
		if reg.Len() != 0 {
			t.Errorf("registry holds %d keys of a held replacement", reg.Len())
		}
		// Both bundles of the T10 are held: its document, and the batch
		// superseding D-1 to release with it. They share the message's
		// duplicate key, which must not make the second look like a
		// resend of the first.
		if ids, _ := held.List(); len(ids) != 2 {
			t.Errorf("%d held entries, want the T10's document and its supersede batch", len(ids))
		}
		checkHeldReplaces(t, held)
	})
	t.Run("ccda", func(t *testing.T) {
		p, q, held, reg := versionPipeline(t)
		orig, err := os.ReadFile(filepath.Join("..", "..", "testdata", "convert", "ccda-problem", "input.xml"))
		if err != nil {
			t.Fatal(err)
		}
		repl := strings.Replace(string(orig), `extension="PRB1"/>`, `extension="PRB1-v2"/>`, 1)
		repl = strings.Replace(repl, `<confidentialityCode code="N"`, `<confidentialityCode code="R"`, 1)
		repl = strings.Replace(repl, "<component>", `<relatedDocument typeCode="RPLC"><parentDocument>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="PRB1"/></parentDocument></relatedDocument>
  <component>`, 1)
		if err := p.Consume(ctx, adapters.Raw{Source: "folder/ccda", Format: "ccda", Name: "v1.xml", Body: orig, Received: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := p.Consume(ctx, adapters.Raw{Source: "folder/ccda", Format: "ccda", Name: "v2.xml", Body: []byte(repl), Received: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if got := exchangeStatuses(t, q); got["PRB1"] != "current" || got["PRB1-v2"] != "" {
			t.Errorf("exchange ends with %v, want PRB1 current (its replacement is held)", got)
		}
		if reg.Len() != 0 {
			t.Errorf("registry holds %d keys of a held replacement", reg.Len())
		}
		checkHeldReplaces(t, held)
	})
}

// checkHeldReplaces checks that exactly one held entry keeps the
// registry keys its replacement is to record on release.
func checkHeldReplaces(t *testing.T, held *Held) {
	t.Helper()
	ids, err := held.List()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, id := range ids {
		e, err := held.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Replaces) > 0 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of %d held entries keep the replacement's registry keys, want 1", n, len(ids))
	}
}

// TestSupersedeReplacedAtRetry: an item carries the registry keys of the
// document versions its bundle writes current (AttrDocumentVersion), in
// HL7 v2 and C-CDA alike, as pseudonyms when data at rest is sealed; once
// a replacement of that version is recorded, the retry edit writes the
// bundle's DocumentReference superseded and changes nothing else. An
// item whose version was not replaced is left as it is.
func TestSupersedeReplacedAtRetry(t *testing.T) {
	ctx := context.Background()
	orig, err := os.ReadFile(filepath.Join("..", "..", "testdata", "convert", "ccda-problem", "input.xml"))
	if err != nil {
		t.Fatal(err)
	}
	repl := strings.Replace(string(orig), `extension="PRB1"/>`, `extension="PRB1-v2"/>`, 1)
	repl = strings.Replace(repl, "<component>", `<relatedDocument typeCode="RPLC"><parentDocument>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="PRB1"/></parentDocument></relatedDocument>
  <component>`, 1)
	for _, sealed := range []bool{false, true} {
		p, q, _, reg := versionPipeline(t)
		if sealed {
			p.SetPseudonym(func(k string) string { return "ps:" + k })
		}
		// The first versions, as the exchange refused them (dead letters).
		var first []*queue.Item
		for _, in := range []adapters.Raw{
			{Source: "mllp/a", Format: "hl7v2", Name: "T02", Body: []byte(mdmVersion("T02", "S-1", "", "D-1", "")), Received: time.Now()},
			{Source: "mllp/a", Format: "hl7v2", Name: "T02 other", Body: []byte(mdmVersion("T02", "S-3", "", "D-7", "")), Received: time.Now()},
			{Source: "folder/ccda", Format: "ccda", Name: "v1.xml", Body: orig, Received: time.Now()},
		} {
			if err := p.Consume(ctx, in); err != nil {
				t.Fatal(err)
			}
			for q.Len() > 0 {
				it, ack, err := q.Get(ctx)
				if err != nil {
					t.Fatal(err)
				}
				c := *it
				c.Body = append([]byte(nil), it.Body...)
				if v := c.Attrs[AttrDocumentVersion]; v != "" {
					if strings.HasPrefix(v, "ps:") != sealed {
						t.Fatalf("sealed %v: version attribute %q", sealed, v)
					}
					first = append(first, &c)
				}
				ack(ctx, nil)
			}
		}
		if len(first) != 3 {
			t.Fatalf("%d items name the version they write, want 3", len(first))
		}
		for _, in := range []adapters.Raw{
			{Source: "mllp/a", Format: "hl7v2", Name: "T10", Body: []byte(mdmVersion("T10", "S-2", "", "D-2", "D-1")), Received: time.Now()},
			{Source: "folder/ccda", Format: "ccda", Name: "v2.xml", Body: []byte(repl), Received: time.Now()},
		} {
			if err := p.Consume(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		edit := SupersedeReplaced(reg.Replaced, nil)
		want := []string{"superseded", "current", "superseded"}
		for i, it := range first {
			before := string(it.Body)
			if err := edit(it); err != nil {
				t.Fatal(err)
			}
			var b struct {
				Entry []struct {
					Resource struct{ ResourceType, Status string }
				}
			}
			if err := json.Unmarshal(it.Body, &b); err != nil {
				t.Fatal(err)
			}
			for _, e := range b.Entry {
				if e.Resource.ResourceType == "DocumentReference" && e.Resource.Status != want[i] {
					t.Errorf("sealed %v, item %d: retried as %s, want %s", sealed, i, e.Resource.Status, want[i])
				}
			}
			changed := strings.Replace(before, `"status":"current"`, `"status":"superseded"`, -1)
			if want[i] == "superseded" && (string(it.Body) == before || it.Attrs[AttrSupersededAtRetry] != "true") {
				t.Errorf("sealed %v, item %d: not rewritten (%v)", sealed, i, it.Attrs)
			}
			if want[i] == "current" && string(it.Body) != before {
				t.Errorf("sealed %v, item %d: a version not replaced was rewritten", sealed, i)
			}
			if want[i] == "superseded" && strings.Count(before, `"status":"current"`) == 1 && string(it.Body) != changed {
				t.Errorf("sealed %v, item %d: the edit changed more than the status", sealed, i)
			}
		}
	}
}

// TestSupersedeDocumentsOnlyDocumentReferences: only the status of a
// DocumentReference is rewritten, wherever it sits in the bundle; the
// statuses of other resources, and of objects inside a
// DocumentReference, stay, as do all other bytes.
func TestSupersedeDocumentsOnlyDocumentReferences(t *testing.T) {
	in := `{"resourceType":"Bundle","entry":[` +
		`{"resource":{"resourceType":"Encounter","status":"current"}},` +
		`{"resource":{"status":"current","content":[{"status":"current","x":"<&>"}],"resourceType":"DocumentReference","n":1.50}},` +
		`{"resource":{"resourceType":"DocumentReference","status":"superseded"}}]}`
	want := strings.Replace(in, `{"status":"current","content"`, `{"status":"superseded","content"`, 1)
	out, n, err := supersedeDocuments([]byte(in), statusSuperseded, statusCurrent)
	if err != nil || n != 1 || string(out) != want {
		t.Errorf("supersedeDocuments: %d, %v\n got %s\nwant %s", n, err, out, want)
	}
}
