package xdmfhir

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
)

// TestExchangeSupersedesReplacedXDMDocument files an XDM PDF at the
// Medplum stand-in exchange (.ci/exchange, over mutual TLS), then its
// replacement (an RPLC association naming the original's entryUUID, with
// the original's uniqueId), then the replacement's supersede batch, as the
// pipeline queues them, under each Binary method: the exchange holds the
// original superseded and the replacement current, relating to the
// original by its masterIdentifier. The batch sent again changes
// nothing; the batch of a replacement whose original the exchange never
// received answers 404 for that entry alone. Skipped when node or the
// exchange's node_modules are missing.
func TestExchangeSupersedesReplacedXDMDocument(t *testing.T) {
	ex := standin.Start(t)
	const oldUUID = "urn:uuid:0b5c3f7e-6a1d-4c2e-9f0a-1d2e3f4a5b6c"
	for i, method := range []string{faxfhir.BinaryPost, faxfhir.BinaryPut} {
		docs, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1", BinaryMethod: method})
		if err != nil {
			t.Fatal(err)
		}
		c := &Converter{Docs: docs}
		n := strconv.Itoa(i + 1)
		orig := Entry{EntryUUID: oldUUID, UniqueID: "1.2.840.99999.8." + n + ".1", MimeType: "application/pdf", SubmissionTime: "20260301090000",
			PatientID: "MRN-9" + n + "^^^&2.16.840.1.113883.3.999.1&ISO"}
		repl := orig
		repl.EntryUUID, repl.UniqueID, repl.SubmissionTime = "Document01", "1.2.840.99999.8."+n+".2", "20260305090000"
		repl.Related = []Relation{{Type: "urn:ihe:iti:2007:AssociationType:RPLC", TargetUUID: oldUUID, TargetUniqueID: orig.UniqueID}}
		write := func(e Entry, pdf string) ([]byte, faxfhir.Result) {
			var body bytes.Buffer
			res, err := c.WriteRaw(context.Background(), &body, adapters.Raw{Name: "direct.zip: DOC0001.PDF", Body: []byte(pdf), Meta: e.Meta()})
			if err != nil {
				t.Fatal(err)
			}
			return body.Bytes(), res
		}
		ob, ores := write(orig, "%PDF-1.4\n% original\n%%EOF\n")
		if ores.Supersede != nil {
			t.Fatalf("the original has a supersede batch")
		}
		rb, rres := write(repl, "%PDF-1.4\n% corrected\n%%EOF\n")
		if rres.Supersede == nil {
			t.Fatalf("the replacement has no supersede batch")
		}
		sb, err := json.Marshal(rres.Supersede)
		if err != nil {
			t.Fatal(err)
		}
		ex.Do(t, "POST", ex.URL, ob)
		ex.Do(t, "POST", ex.URL, rb)
		for range 2 {
			if got := ex.Do(t, "POST", ex.URL, sb); !strings.HasPrefix(str(got, "entry", 0, "response", "status"), "200") {
				t.Errorf("binary %s: supersede batch answered %v", method, got)
			}
		}
		find := func(uid string) any {
			b := ex.Do(t, "GET", ex.URL+"/DocumentReference?identifier=urn:ietf:rfc:3986%7Curn:oid:"+uid, nil)
			e, _ := b["entry"].([]any)
			if len(e) != 1 {
				t.Fatalf("binary %s: %d DocumentReferences with uniqueId %s, want 1", method, len(e), uid)
			}
			return e[0].(map[string]any)["resource"]
		}
		if st := str(find(orig.UniqueID), "status"); st != "superseded" {
			t.Errorf("binary %s: the original is %q at the exchange, want superseded", method, st)
		}
		r := find(repl.UniqueID)
		if str(r, "status") != "current" || str(r, "relatesTo", 0, "code") != "replaces" ||
			str(r, "relatesTo", 0, "target", "identifier", "value") != "urn:oid:"+orig.UniqueID {
			t.Errorf("binary %s: the replacement at the exchange: %v", method, r)
		}
	}

	// A replacement of a document the exchange never received: the
	// batch's PATCH fails alone and the batch itself is answered. FHIR
	// servers answer a conditional PATCH that matches nothing 404;
	// Medplum, and so the stand-in, answers 400 "Conditional PATCH did
	// not match any resources". The sink counts both done under
	// queue.AttrMissingOK (transport/fhirhttp matchedNothing, whose
	// wording this pins to the stand-in's).
	docs, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1"})
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{UniqueID: "1.2.840.99999.8.9.2", MimeType: "application/pdf", SubmissionTime: "20260305090000",
		Related: []Relation{{Type: "RPLC", TargetUUID: "urn:uuid:9b5c3f7e-6a1d-4c2e-9f0a-1d2e3f4a5b6c"}}}
	var body bytes.Buffer
	res, err := (&Converter{Docs: docs}).WriteRaw(context.Background(), &body, adapters.Raw{Name: "x", Body: []byte("%PDF-1.4\n%%EOF\n"), Meta: e.Meta()})
	if err != nil || res.Supersede == nil {
		t.Fatalf("err %v, supersede %v", err, res.Supersede)
	}
	before := ex.Count(t, "DocumentReference")
	sb, _ := json.Marshal(res.Supersede)
	got := ex.Do(t, "POST", ex.URL, sb)
	switch st := str(got, "entry", 0, "response", "status"); {
	case strings.HasPrefix(st, "404"):
	case strings.HasPrefix(st, "400"):
		if text := str(got, "entry", 0, "response", "outcome", "issue", 0, "details", "text"); !strings.Contains(text, "did not match any resources") {
			t.Errorf("the stand-in's 400 says %q: transport/fhirhttp matchedNothing would dead-letter it", text)
		}
	default:
		t.Errorf("PATCH of a document the exchange never received answered %q, want 404 (or Medplum's 400)", st)
	}
	if after := ex.Count(t, "DocumentReference"); after != before {
		t.Errorf("the batch changed the DocumentReferences: %d -> %d", before, after)
	}
}

// str walks a decoded JSON value by keys and indexes to a string.
func str(v any, path ...any) string {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return ""
			}
			v = a[k]
		}
	}
	s, _ := v.(string)
	return s
}
