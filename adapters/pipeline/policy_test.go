package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/diskq"
)

// newPolicyPipeline is a real v2 pipeline (diskq queue, quarantine, held
// store on disk) with the given hold list.
func newPolicyPipeline(t *testing.T, hold ...string) (*Pipeline, *diskq.Queue, *Held, *[]string) {
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
	p := New(q, memSeen{}, quar, map[string]Converter{"hl7v2": HL7{Conv: &v2fhir.Converter{}}}, nil)
	var decisions []string
	p.SetPolicy(Policy{Hold: hold}, held, func(_ adapters.Raw, u *Unit, label string) {
		decisions = append(decisions, u.Name+": "+label)
	})
	return p, q, held, &decisions
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "convert", name, "input.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPolicyHoldsRestrictedADT: a protected visit (PV2-22 Y → R) is stored
// in the held store, not queued, and Consume returns nil (the MLLP
// listener answers AA: the input is safe on disk). An unlabelled ADT flows.
func TestPolicyHoldsRestrictedADT(t *testing.T) {
	p, q, held, decisions := newPolicyPipeline(t, "V", "R")
	ctx := context.Background()
	if err := p.Consume(ctx, adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "restricted", Body: golden(t, "v2-adt-a01-restricted")}); err != nil {
		t.Fatalf("held input not accepted: %v", err)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("restricted ADT queued (%d items)", n)
	}
	ids, err := held.List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("held entries %v, %v", ids, err)
	}
	e, err := held.Get(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.Reason != "held by policy: R" || e.Label != "R" || !strings.Contains(string(e.Bundle), `"Bundle"`) {
		t.Fatalf("held entry: reason %q label %q bundle %d bytes", e.Reason, e.Label, len(e.Bundle))
	}
	if got := p.Stats().Held.Load(); got != 1 {
		t.Fatalf("Stats.Held = %d", got)
	}
	if len(*decisions) != 1 {
		t.Fatalf("decisions %v", *decisions)
	}

	if err := p.Consume(ctx, adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "plain", Body: golden(t, "v2-adt-a01")}); err != nil {
		t.Fatal(err)
	}
	if n := q.Len(); n != 1 {
		t.Fatalf("unlabelled ADT not queued (%d items)", n)
	}
	if got := p.Stats().Held.Load(); got != 1 {
		t.Fatalf("unlabelled ADT held (Stats.Held = %d)", got)
	}
}

// TestPolicyHoldsPart2: an ADT labelled SUD and 42CFRPart2 (MSH-26/27,
// v2.8) is held when the policy lists 42CFRPart2, even though nothing in
// the policy names its confidentiality; a policy listing only HIV lets it
// through.
func TestPolicyHoldsPart2(t *testing.T) {
	msg := "MSH|^~\\&|APP|FAC|FERRY|HIE|20240315083000||ADT^A04^ADT_A01|P2-1|P|2.8|||AL|NE|||||||||" +
		"SUD^substance use disorder^HL70952|42CFRPart2^Part 2^HL70953\r" +
		"EVN|A04|20240315082955\rPID|1||M1^^^FAC^MR||Doe^Ann||19800101|F\rPV1|1|O|CLINIC\r"
	p, q, held, _ := newPolicyPipeline(t, "42CFRPart2")
	if err := p.Consume(context.Background(), adapters.Raw{Format: "hl7v2", Name: "p2", Body: []byte(msg)}); err != nil {
		t.Fatal(err)
	}
	ids, _ := held.List()
	if q.Len() != 0 || len(ids) != 1 {
		t.Fatalf("queued %d, held %d", q.Len(), len(ids))
	}
	if e, _ := held.Get(ids[0]); e.Label != "42CFRPart2" {
		t.Fatalf("label %q", e.Label)
	}

	p, q, held, _ = newPolicyPipeline(t, "HIV")
	if err := p.Consume(context.Background(), adapters.Raw{Format: "hl7v2", Name: "p2", Body: []byte(msg)}); err != nil {
		t.Fatal(err)
	}
	ids, _ = held.List()
	if q.Len() != 1 || len(ids) != 0 {
		t.Fatalf("HIV-only policy: queued %d, held %d", q.Len(), len(ids))
	}
}

// TestPolicyLabels: confidentiality holds cover higher levels; labels on
// an entry resource count; unreadable bundles are held; spilled bundles
// are judged by the bundle's own meta, read before the entries.
func TestPolicyLabels(t *testing.T) {
	pol := Policy{Hold: []string{"R"}}
	cases := []struct {
		bundle string
		label  string
		held   bool
	}{
		{`{"resourceType":"Bundle","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"V"}]}}`, "V", true},
		{`{"resourceType":"Bundle","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"N"}]}}`, "", false},
		{`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Binary","meta":{"security":[{"code":"R"}]},"data":"AAAA"}}]}`, "R", true},
		{`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient"}}]}`, "", false},
		{`{"resourceType":"Bund`, "unreadable labels", true},
	}
	for _, c := range cases {
		if l, h := pol.Held([]byte(c.bundle)); l != c.label || h != c.held {
			t.Errorf("Held(%s) = %q, %v; want %q, %v", c.bundle, l, h, c.label, c.held)
		}
		f := filepath.Join(t.TempDir(), "b.json")
		os.WriteFile(f, []byte(c.bundle), 0o600)
		l, h := pol.HeldFile(f)
		if strings.Contains(c.bundle, `"entry"`) && !strings.Contains(c.bundle, `"meta":{"security":[{"system"`) {
			// Only entry labels: HeldFile reads the bundle meta alone.
			continue
		}
		if l != c.label || h != c.held {
			t.Errorf("HeldFile(%s) = %q, %v; want %q, %v", c.bundle, l, h, c.label, c.held)
		}
	}
	if _, h := (Policy{}).Held([]byte("garbage")); h {
		t.Error("an empty policy holds")
	}
}

// TestPolicyHoldsDS4PDocument: a C-CDA document whose privacy annotations
// (DS4P R1) name 42 CFR Part 2 is held by a policy that lists only
// 42CFRPart2, although nothing in its confidentialityCode says so; the
// same document without its Privacy Markings section flows.
func TestPolicyHoldsDS4PDocument(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "testdata", "convert", "ccda-ds4p", "input.xml"))
	if err != nil {
		t.Fatal(err)
	}
	p, q, held, decisions := newPolicyPipeline(t, "42CFRPart2")
	p.converters["ccda"] = CCDA{}
	in := adapters.Raw{Source: "folder/ehr", Format: "ccda", Name: "part2.xml", Body: doc}
	if err := p.Consume(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	ids, _ := held.List()
	if q.Len() != 0 || len(ids) != 1 {
		t.Fatalf("queued %d, held %d", q.Len(), len(ids))
	}
	if e, _ := held.Get(ids[0]); e.Label != "42CFRPart2" {
		t.Fatalf("held with label %q, want 42CFRPart2 (decisions %v)", e.Label, *decisions)
	}

	start := strings.Index(string(doc), "<component>\n        <section>\n          <templateId root=\"2.16.840.1.113883.3.3251.1.5\"/>")
	end := strings.Index(string(doc), "</section>\n      </component>") + len("</section>\n      </component>")
	if start < 0 || end < start {
		t.Fatal("test document changed: no Privacy Markings section")
	}
	plain := append(append([]byte{}, doc[:start]...), doc[end:]...)
	p, q, held, _ = newPolicyPipeline(t, "42CFRPart2")
	p.converters["ccda"] = CCDA{}
	in.Body = plain
	if err := p.Consume(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if ids, _ := held.List(); q.Len() != 1 || len(ids) != 0 {
		t.Fatalf("without privacy markings: queued %d, held %d", q.Len(), len(ids))
	}
}

// TestPolicyConfidentialityAnyCase: a v3-Confidentiality code written in
// lower case ("r", as some exports write it) is the rank ferry itself
// gives it everywhere else (fhir.ConfidentialityOf: "written in any
// case": it outranks an envelope's N and raises a high-water mark), so
// the policy holds it as R too, on a Bundle, on an entry, in a spilled
// file and in a converter's list: when in doubt, nothing leaves.
func TestPolicyConfidentialityAnyCase(t *testing.T) {
	pol := Policy{Hold: []string{"R"}}
	for _, code := range []string{"r", "v"} {
		for _, b := range []string{
			`{"resourceType":"Bundle","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"` + code + `"}]}}`,
			`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Condition","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"` + code + `"}]}}}]}`,
		} {
			if _, h := pol.Held([]byte(b)); !h {
				t.Errorf("Held(%s) not held", b)
			}
			f := filepath.Join(t.TempDir(), "b.json")
			if err := os.WriteFile(f, []byte(b), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, h := pol.HeldFile(f); !h {
				t.Errorf("HeldFile(%s) not held", b)
			}
		}
		if _, h := pol.HeldLabels([]fhir.Coding{{System: fhir.SystemConfidentiality, Code: code}}); !h {
			t.Errorf("HeldLabels(%s) not held", code)
		}
	}
	if _, h := pol.Held([]byte(`{"resourceType":"Bundle","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"n"}]}}`)); h {
		t.Error("n held by a policy of R")
	}
}

// TestPolicyConfidentialityOldSystems: a v3-Confidentiality code written
// under the system's older names, FHIR STU3's
// http://hl7.org/fhir/v3/Confidentiality and its OID
// (urn:oid:2.16.840.1.113883.5.25, as an XDM package's confidentialityCode
// may name it), is that code: a policy of R holds V so written, in a
// Bundle, a spilled file and a converter's list alike, and an envelope's
// N added to a resource so labelled V does not stand beside it as a
// second, lower confidentiality.
func TestPolicyConfidentialityOldSystems(t *testing.T) {
	pol := Policy{Hold: []string{"R"}}
	for _, sys := range []string{"http://hl7.org/fhir/v3/Confidentiality", "urn:oid:2.16.840.1.113883.5.25"} {
		for _, code := range []string{"V", "v", "R"} {
			for _, b := range []string{
				`{"resourceType":"Bundle","meta":{"security":[{"system":"` + sys + `","code":"` + code + `"}]}}`,
				`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Condition","meta":{"security":[{"system":"` + sys + `","code":"` + code + `"}]}}}]}`,
			} {
				if _, h := pol.Held([]byte(b)); !h {
					t.Errorf("Held(%s) not held", b)
				}
				f := filepath.Join(t.TempDir(), "b.json")
				if err := os.WriteFile(f, []byte(b), 0o600); err != nil {
					t.Fatal(err)
				}
				if _, h := pol.HeldFile(f); !h {
					t.Errorf("HeldFile(%s) not held", b)
				}
			}
			if _, h := pol.HeldLabels([]fhir.Coding{{System: sys, Code: code}}); !h {
				t.Errorf("HeldLabels(%s %s) not held", sys, code)
			}
		}
		if _, h := pol.Held([]byte(`{"resourceType":"Bundle","meta":{"security":[{"system":"` + sys + `","code":"N"}]}}`)); h {
			t.Errorf("%s N held by a policy of R", sys)
		}
		if r := fhir.ConfidentialityOf(fhir.Coding{System: sys, Code: "V"}); r != fhir.ConfidentialityRank("V") {
			t.Errorf("ConfidentialityOf(%s V) = %d", sys, r)
		}
		in := `{"resourceType":"Condition","meta":{"security":[{"system":"` + sys + `","code":"V"}]}}`
		out, err := labelResource([]byte(in), []fhir.Coding{fhir.ConfidentialityCoding(fhir.ConfidentialityRank("N"))})
		if err != nil || string(out) != in {
			t.Errorf("envelope N on %s V: %s, %v; want it as it was", sys, out, err)
		}
	}
}
