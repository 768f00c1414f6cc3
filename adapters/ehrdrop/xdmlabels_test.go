package ehrdrop

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
)

// TestZipXDMLabelsReachConvertedDocuments: a Direct sender labels a
// document in METADATA.XML (DS4P's XDM metadata profile), whatever the
// document says of itself. A C-CDA whose own confidentialityCode is N, an
// HL7 v2 file and a FHIR resource, each labelled R and 42CFRPart2 there,
// go out labelled so: the Bundle, and each resource; a policy holding
// 42CFRPart2 holds all three. The HL7 v2 file unlabelled is queued.
func TestZipXDMLabelsReachConvertedDocuments(t *testing.T) {
	ccda, err := os.ReadFile("../../testdata/convert/ccda-problem/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := os.ReadFile("../../testdata/convert/v2-adt-a01/input.hl7")
	if err != nil {
		t.Fatal(err)
	}
	conf := [3]string{"R", "2.16.840.1.113883.5.25", "restricted"}
	doc := xdmEntry{xdmDoc: xdmDoc{"DOC0001.XML", "text/xml", "1.2.840.99999.9.1"}, patientID: "MRN-PRB1^^^&2.16.840.1.113883.19.5.99999.2&ISO", confidential: conf}
	msg := xdmEntry{xdmDoc: xdmDoc{"DOC0002.HL7", "x-application/hl7-v2+er7", "1.2.840.99999.9.2"}, patientID: "MRN-PRB1^^^&2.16.840.1.113883.19.5.99999.2&ISO", confidential: conf}
	res := xdmEntry{xdmDoc: xdmDoc{"DOC0003.JSON", "application/fhir+json", "1.2.840.99999.9.3"}, patientID: "MRN-PRB1^^^&2.16.840.1.113883.19.5.99999.2&ISO", confidential: conf}
	condition := []byte(`{"resourceType":"Condition","id":"prb1-sud","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"N"}]},"subject":{"reference":"Patient/prb1"}}`)
	md := string(metadataXMLOf("20260305090000", doc, msg, res))
	// A second confidentialityCode on each document: the Part 2 policy.
	part2 := `   <rim:Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f" classifiedObject="DocumentXX" nodeRepresentation="42CFRPart2">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.5.4</rim:Value></rim:ValueList></rim:Slot>
   </rim:Classification>
`
	for _, id := range []string{"Document01", "Document02", "Document03"} {
		at := strings.Index(md, `<rim:ExtrinsicObject id="`+id+`"`)
		end := at + strings.Index(md[at:], "\n") + 1
		md = md[:end] + strings.Replace(part2, "DocumentXX", id, 1) + md[end:]
	}
	pkg := buildZip(t, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", []byte(md)},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", ccda},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.HL7", v2},
		zipFile{"IHE_XDM/SUBSET01/DOC0003.JSON", condition},
	)
	pipe, q := newPipeline(t)
	held, err := pipeline.OpenHeld(filepath.Join(t.TempDir(), "held"))
	if err != nil {
		t.Fatal(err)
	}
	pipe.SetPolicy(pipeline.Policy{Hold: []string{"42CFRPart2"}}, held, nil)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "labelled.zip", Body: pkg, Meta: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	// Each bundle carries its envelope's labels, and the policy holds it
	// for them.
	ids, err := held.List()
	if err != nil || len(ids) != 3 || len(q.all()) != 0 {
		t.Fatalf("held %d (%v), queued %d; want all three held", len(ids), err, len(q.all()))
	}
	for _, id := range ids {
		e, err := held.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Label != "42CFRPart2" {
			t.Errorf("%s held for %q", e.Name, e.Label)
		}
		var b struct {
			Meta  fhir.Meta
			Entry []struct{ Resource json.RawMessage }
		}
		if err := json.Unmarshal(e.Bundle, &b); err != nil {
			t.Fatal(err)
		}
		if got := codes(b.Meta.Security); got != "R,42CFRPart2" {
			t.Errorf("%s: Bundle labelled %s, want R,42CFRPart2", e.Name, got)
		}
		for _, en := range b.Entry {
			var r struct {
				ResourceType string
				Meta         *fhir.Meta
			}
			_ = json.Unmarshal(en.Resource, &r)
			if r.Meta == nil || codes(r.Meta.Security) != "R,42CFRPart2" {
				t.Errorf("%s: %s not labelled R,42CFRPart2: %+v", e.Name, r.ResourceType, r.Meta)
			}
		}
	}

	// Unlabelled, the message is queued.
	plain := buildZip(t, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXMLOf("20260305090000",
			xdmEntry{xdmDoc: msg.xdmDoc, patientID: msg.patientID})},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.HL7", v2},
	)
	pipe, q = newPipeline(t) // a fresh one: the first remembers the message
	if held, err = pipeline.OpenHeld(filepath.Join(t.TempDir(), "held")); err != nil {
		t.Fatal(err)
	}
	pipe.SetPolicy(pipeline.Policy{Hold: []string{"42CFRPart2"}}, held, nil)
	src.next = pipe
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "plain.zip", Body: plain, Meta: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := held.List(); len(ids) != 0 || len(q.all()) != 1 {
		t.Fatalf("unlabelled: held %d, queued %d; want 0 and 1", len(ids), len(q.all()))
	}
}

func codes(cs []fhir.Coding) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.Code
	}
	return strings.Join(s, ",")
}
