package v2fhir

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// exchange applies transaction bundles as a FHIR server does (Medplum's
// router: every entry's identity is resolved first, then the entries are
// written with urn:uuid references rewritten): PUT Type/id replaces, PUT
// Type?identifier= updates the one match or creates, POST with
// ifNoneExist creates only when nothing matches. References that name
// nothing are kept, as Medplum keeps them (Project.checkReferencesOnWrite
// is off by default).
type exchange struct {
	store map[string]map[string]any // "Type/id" -> resource
	next  int
}

func newExchange() *exchange { return &exchange{store: map[string]map[string]any{}} }

// find returns the "Type/id" of the resources of type typ holding the
// identifier the query "identifier=system|value" names.
func (x *exchange) find(t *testing.T, typ, query string) []string {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	want := q.Get("identifier")
	var out []string
	for k, r := range x.store {
		if !strings.HasPrefix(k, typ+"/") {
			continue
		}
		ids, _ := r["identifier"].([]any)
		for _, id := range ids {
			m := id.(map[string]any)
			if fmt.Sprint(m["system"], "|", m["value"]) == want {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

func (x *exchange) apply(t *testing.T, b *fhir.Bundle) {
	t.Helper()
	ids := map[string]string{} // fullUrl -> "Type/id"
	target := make([]string, len(b.Entry))
	for i, e := range b.Entry {
		u := e.Request.URL
		typ, query, conditional := strings.Cut(u, "?")
		switch {
		case e.Request.Method == "POST":
			typ, query = u, e.Request.IfNoneExist
			fallthrough
		case conditional:
			switch m := x.find(t, typ, query); len(m) {
			case 0:
				x.next++
				target[i] = fmt.Sprintf("%s/server-%d", typ, x.next)
			case 1:
				if e.Request.Method == "POST" {
					target[i] = "" // found: written no further
					ids[e.FullURL] = m[0]
					continue
				}
				target[i] = m[0]
			default:
				t.Fatalf("%s %s matches %d resources", e.Request.Method, u, len(m))
			}
		default:
			target[i] = u
		}
		ids[e.FullURL] = target[i]
	}
	for i, e := range b.Entry {
		if target[i] == "" {
			continue
		}
		js, err := json.Marshal(e.Resource)
		if err != nil {
			t.Fatal(err)
		}
		s := string(js)
		for urn, ref := range ids {
			s = strings.ReplaceAll(s, `"`+urn+`"`, `"`+ref+`"`)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatal(err)
		}
		r["id"] = target[i][strings.IndexByte(target[i], '/')+1:]
		x.store[target[i]] = r
	}
}

// of returns the stored resources of one type.
func (x *exchange) of(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for k, r := range x.store {
		if strings.HasPrefix(k, typ+"/") {
			out[k] = r
		}
	}
	return out
}

const (
	visitA01 = "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101120000||ADT^A01^ADT_A01|A1|P|2.5.1\n" +
		"EVN|A01|20240101120000\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1|I|W1^101^A|E|||1234^Smith^John^^^^^^HOSP|||MED||||7|||||V77^^^HOSP^VN|||||||||||||||||||||||||20240101110000\n"
	// A result whose PV1 says the visit number alone, as labs send it.
	visitORU = "MSH|^~\\&|LAB|HOSP|HIE|HIE|20240101140000||ORU^R01^ORU_R01|R1|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1||||||||||||||||||V77^^^HOSP^VN\n" +
		"OBR|1|P-1^CPOE|F-1^LAB|718-7^Hemoglobin^LN|||20240101130000|||||||||||||||20240101140000|||F\n" +
		"OBX|1|NM|718-7^Hemoglobin^LN||13.2|g/dL|||||F\n"
)

// TestNonADTKeepsVisit: an A01 with a rich PV1, then a result whose PV1
// names the visit number alone. In every write mode, and whether or not
// PatientFromADTOnly is set, the exchange ends with the one Encounter the
// A01 wrote, its status, period, location, participant and
// hospitalization intact, and the result's resources refer to it. In the
// other order (the result first) the A01 still leaves one Encounter, its
// own.
func TestNonADTKeepsVisit(t *testing.T) {
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		for _, adtOnly := range []bool{false, true} {
			for _, resultFirst := range []bool{false, true} {
				name := fmt.Sprintf("%s/adt-only=%v/result-first=%v", mode, adtOnly, resultFirst)
				c := testConverter(t)
				c.Mode, c.PatientFromADTOnly = mode, adtOnly
				x := newExchange()
				order := []string{visitA01, visitORU}
				if resultFirst {
					order = []string{visitORU, visitA01}
				}
				for _, m := range order {
					x.apply(t, mustConvert(t, c, m))
				}
				encs := x.of("Encounter")
				if len(encs) != 1 {
					t.Errorf("%s: the exchange holds %d Encounters, want 1", name, len(encs))
					continue
				}
				var key string
				var enc map[string]any
				for k, e := range encs {
					key, enc = k, e
				}
				for _, f := range []string{"status", "period", "location", "participant", "hospitalization", "type"} {
					if enc[f] == nil {
						t.Errorf("%s: the Encounter lost the A01's %s: %v", name, f, enc)
					}
				}
				if enc["status"] != "in-progress" {
					t.Errorf("%s: Encounter status %v, want the A01's in-progress", name, enc["status"])
				}
				reports := x.of("DiagnosticReport")
				for _, r := range reports {
					if ref, _ := r["encounter"].(map[string]any); ref == nil || ref["reference"] != key {
						t.Errorf("%s: the report's encounter %v, want %s", name, r["encounter"], key)
					}
				}
				if len(reports) != 1 {
					t.Errorf("%s: %d reports", name, len(reports))
				}
			}
		}
	}
}

// TestNonADTKeylessVisit: a result whose PV1 has neither a visit number
// (PV1-19) nor an admit time (PV1-44) names no visit the exchange can
// find again: it writes no Encounter, so a second result (or the same
// one re-sent under a new MSH-10) does not add one more Encounter for
// the same visit. An ADT message with such a PV1 still writes one.
func TestNonADTKeylessVisit(t *testing.T) {
	const oru = "MSH|^~\\&|LAB|HOSP|HIE|HIE|20240101140000||ORU^R01^ORU_R01|%s|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1|O|CLINIC^^^HOSP|||||||||||||||\n" +
		"OBR|1|P-1^CPOE|F-1^LAB|718-7^Hemoglobin^LN|||20240101130000|||||||||||||||20240101140000|||F\n" +
		"OBX|1|NM|718-7^Hemoglobin^LN||13.2|g/dL|||||F\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		x := newExchange()
		for _, id := range []string{"R1", "R2"} {
			b := mustConvert(t, c, fmt.Sprintf(oru, id))
			if n := len(entriesOf[fhir.Encounter](b)); n != 0 {
				t.Errorf("%s: result %s writes %d Encounters", mode, id, n)
			}
			if strings.Contains(string(marshal(t, b)), `"encounter"`) {
				t.Errorf("%s: result %s refers to an Encounter", mode, id)
			}
			x.apply(t, b)
		}
		if n := len(x.of("Encounter")); n != 0 {
			t.Errorf("%s: two results leave %d Encounters at the exchange", mode, n)
		}
		const a04 = "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101140000||ADT^A04^ADT_A01|A9|P|2.5.1\n" +
			"EVN|A04|20240101140000\n" +
			"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
			"PV1|1|O|CLINIC^^^HOSP|||||||||||||||\n"
		if n := len(entriesOf[fhir.Encounter](mustConvert(t, c, a04))); n != 1 {
			t.Errorf("%s: an A04 with a keyless PV1 writes %d Encounters, want 1", mode, n)
		}
	}
}
