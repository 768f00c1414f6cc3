package v2fhir

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// mustConvert converts a message written with "\n" between segments.
func mustConvert(t *testing.T, c *Converter, msg string) *fhir.Bundle {
	t.Helper()
	b, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// entriesOf returns the bundle's resources of type T.
func entriesOf[T any](b *fhir.Bundle) []*T {
	var out []*T
	for _, e := range b.Entry {
		if r, ok := e.Resource.(*T); ok {
			out = append(out, r)
		}
	}
	return out
}

// patientOf returns the bundle's one Patient and its request URL.
func patientOf(t *testing.T, b *fhir.Bundle) (*fhir.Patient, string) {
	t.Helper()
	for _, e := range b.Entry {
		if p, ok := e.Resource.(*fhir.Patient); ok {
			return p, e.Request.URL
		}
	}
	t.Fatal("no Patient in the bundle")
	return nil, ""
}

const (
	siteADT = `MSH|^~\&|ADT|CLINICA|HIE|HIE|20240105101500-0500||ADT^A04^ADT_A01|A100|P|2.5.1
EVN|A04|20240105101500-0500
PID|1||123^^^MRN^MR||Roe^Rick||19700101|M
PV1|1|O`
	siteORU = `MSH|^~\&|LABAPP|CLINICLAB|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|M100|P|2.5.1
PID|1||123^^^MRN^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^LAB|2345-7^Glucose^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|NM|2345-7^Glucose^LN||105|mg/dL^mg/dL^UCUM|70-99|H|||F`
)

// TestMintedSystemsPerSite: a named assigning authority without an OID
// ("MRN") gets a system unique to the site's base, so two clinics sending
// 123^^^MRN^MR do not merge at the exchange, while one site's ADT and lab
// feeds (different MSH-4) still agree on one patient.
func TestMintedSystemsPerSite(t *testing.T) {
	site := func(base string) *Converter {
		c := testConverter(t)
		c.Base, c.Mode = base, ModePatientConditional
		return c
	}
	a, b := site("urn:ferry:site:aaaa"), site("urn:ferry:site:bbbb")
	pa, urlA := patientOf(t, mustConvert(t, a, siteADT))
	pb, urlB := patientOf(t, mustConvert(t, b, siteADT))
	if pa.Identifier[0].System == pb.Identifier[0].System || urlA == urlB {
		t.Errorf("two sites share a minted system: %s / %s", urlA, urlB)
	}
	if got, want := pa.Identifier[0].System, "urn:ferry:site:aaaa:id:mrn"; got != want {
		t.Errorf("system %q, want %q", got, want)
	}
	if !strings.HasPrefix(urlA, "Patient?identifier=urn%3Aferry%3Asite%3Aaaaa%3Aid%3Amrn%7C123") {
		t.Errorf("conditional update %q", urlA)
	}
	// Same site, ADT from CLINICA and ORU from CLINICLAB: one Patient.
	lab, urlLab := patientOf(t, mustConvert(t, a, siteORU))
	if lab.Identifier[0].System != pa.Identifier[0].System || urlLab != urlA {
		t.Errorf("one site's ADT and ORU disagree: %s / %s", urlA, urlLab)
	}
}

// TestStatusOnlyResult: an OBX-11 "U" without a value (the preliminary
// result sent before is now final) must not replace the stored
// Observation with a valueless one. Where references are literal it is
// left out and the report still points at the earlier Observation's id;
// in ModeConditional it is a conditional create that changes nothing
// when the exchange has it.
func TestStatusOnlyResult(t *testing.T) {
	const head = `MSH|^~\&|LABAPP|CLINICLAB|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|%s|P|2.5.1
PID|1||555^^^HOSP^MR||Doe^Jane||19800101|F
OBR|1|P1^EHR|F1^LAB|2345-7^Glucose^LN|||20240105080000-0500||||||||||||||||||%s
`
	prelim := fmt.Sprintf(head, "M1", "P") + "OBX|1|NM|2345-7^Glucose^LN||105|mg/dL^mg/dL^UCUM|70-99|H|||P"
	final := fmt.Sprintf(head, "M2", "F") + "OBX|1|NM|2345-7^Glucose^LN||||||||U"
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			c := testConverter(t)
			c.Mode = mode
			first := mustConvert(t, c, prelim)
			var earlier fhir.BundleEntry
			for _, e := range first.Entry {
				if _, ok := e.Resource.(*fhir.Observation); ok {
					earlier = e
				}
			}
			b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(final, "\n", "\r")))
			if err != nil {
				t.Fatal(err)
			}
			// One status-only result; its new status travels as a
			// PATCH of the URL the preliminary result was written under.
			if len(res.Finals) != 1 || res.Finals[0] != earlier.Request.URL {
				t.Fatalf("Finals = %q, want [%q]", res.Finals, earlier.Request.URL)
			}
			sb := StatusBatch(b, res)
			if sb == nil || sb.Type != "batch" || len(sb.Entry) != 1 {
				t.Fatalf("status batch: %+v", sb)
			}
			if sb.Identifier == nil || sb.Identifier.System != b.Identifier.System || sb.Identifier.Value != b.Identifier.Value+"#status-final" {
				t.Errorf("status batch identifier %+v, bundle's %+v", sb.Identifier, b.Identifier)
			}
			e := sb.Entry[0]
			bin, ok := e.Resource.(*fhir.Binary)
			if !ok || e.Request.Method != "PATCH" || e.Request.URL != earlier.Request.URL || bin.ContentType != "application/json-patch+json" {
				t.Fatalf("status entry: %+v %+v", e.Request, e.Resource)
			}
			var patch []map[string]any
			if err := json.Unmarshal(bin.Data, &patch); err != nil || len(patch) != 1 ||
				patch[0]["op"] != "replace" || patch[0]["path"] != "/status" || patch[0]["value"] != "final" {
				t.Errorf("patch %s (%v)", bin.Data, err)
			}
			if StatusBatch(first, Result{}) != nil {
				t.Error("a message without status-only results has a status batch")
			}
			dr := entriesOf[fhir.DiagnosticReport](b)
			if len(dr) != 1 || len(dr[0].Result) != 1 || dr[0].Status != "final" {
				t.Fatalf("report: %+v", dr)
			}
			var obs []fhir.BundleEntry
			for _, e := range b.Entry {
				if _, ok := e.Resource.(*fhir.Observation); ok {
					obs = append(obs, e)
				}
			}
			switch mode {
			case ModeConditional:
				if len(obs) != 1 || obs[0].Request.Method != "POST" || obs[0].Request.IfNoneExist == "" || obs[0].Request.URL != "Observation" {
					t.Fatalf("want one conditional create, got %+v", obs)
				}
				if dr[0].Result[0].Reference != obs[0].FullURL || obs[0].FullURL != earlier.FullURL {
					t.Errorf("report refers to %s, entry %s, earlier %s", dr[0].Result[0].Reference, obs[0].FullURL, earlier.FullURL)
				}
			default:
				if len(obs) != 0 {
					t.Fatalf("a valueless Observation is written: %+v", obs[0].Request)
				}
				if got := dr[0].Result[0].Reference; got != earlier.Request.URL {
					t.Errorf("report refers to %s, want the earlier %s", got, earlier.Request.URL)
				}
				for _, p := range entriesOf[fhir.Provenance](b) {
					for _, tg := range p.Target {
						if strings.HasPrefix(tg.Reference, "Observation/") {
							t.Errorf("Provenance names an Observation it did not write: %s", tg.Reference)
						}
					}
				}
			}
		})
	}
}

// TestObservationStatus pins OBX-11 → Observation.status (IG ConceptMap
// table-hl70085-to-observation-status, plus ferry's choices where it is
// silent).
func TestObservationStatus(t *testing.T) {
	for _, tc := range []struct {
		obx11, value, want string
		written            bool
	}{
		{"F", "7", "final", true},
		{"P", "7", "preliminary", true},
		{"C", "7", "corrected", true},
		{"A", "7", "amended", true},
		{"D", "", "entered-in-error", true},
		{"X", "", "cancelled", true},
		{"U", "7", "final", true},   // the value travels again: a full final result
		{"U", "", "", false},        // status only: not written
		{"U", `""`, "", false},      // explicit null: no value either
		{"V", "7", "final", true},   // verified: final, reviewed and confirmed (v2.8)
		{"B", "7", "amended", true}, // appended: final, with information added (v2.8)
		{"Q", "7", "unknown", true},
	} {
		t.Run(tc.obx11+"/"+tc.value, func(t *testing.T) {
			msg := `MSH|^~\&|LAB|L|||20240105101500||ORU^R01|C1|P|2.5.1
PID|1||555^^^HOSP^MR||Doe^Jane||19800101|F
OBR|1||F1^LAB|2345-7^Glucose^LN
OBX|1|NM|2345-7^Glucose^LN||` + tc.value + `||||||` + tc.obx11
			obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
			if !tc.written {
				if len(obs) != 0 {
					t.Fatalf("written: %+v", obs[0])
				}
				return
			}
			if len(obs) != 1 || obs[0].Status != tc.want {
				t.Fatalf("got %+v, want status %s", obs, tc.want)
			}
		})
	}
}

// TestMaritalStatus: PID-16 follows ConceptMap
// table-hl70002-to-v3-maritalstatus; a v2 code never lands unmapped in
// the v3 system, where several letters mean something else.
func TestMaritalStatus(t *testing.T) {
	const v3, nf, v2 = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "http://terminology.hl7.org/CodeSystem/v2-0002"
	for _, tc := range []struct {
		pid16      string
		sys, code  string // first coding
		withOrigin bool   // followed by the v2-0002 original
	}{
		{"A", v3, "L", true}, // Separated, not v3 A Annulled
		{"E", v3, "L", true},
		{"G", v3, "T", true},
		{"P", v3, "T", true}, // Domestic partner, not v3 P Polygamous
		{"R", v3, "T", true},
		{"N", v3, "A", true},
		{"B", v3, "U", true},
		{"D", v3, "D", true},
		{"M", v3, "M", true},
		{"S", v3, "S", true},
		{"W", v3, "W", true},
		{"C", v3, "C", true},
		{"I", v3, "I", true},
		{"U", nf, "UNK", true}, // Unknown, not v3 U unmarried
		{"T", nf, "NAVU", true},
		{"O", nf, "OTH", true},
		{"M^Married^HL70002", v3, "M", true},
		{"X", v2, "X", false},               // not in the map: stays v2-0002
		{"M^Married^LOCAL", "", "M", false}, // another system: left alone
	} {
		t.Run(tc.pid16, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F||||||||" + tc.pid16
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			ms := p.MaritalStatus
			if ms == nil || len(ms.Coding) == 0 {
				t.Fatal("no marital status")
			}
			if ms.Coding[0].Code != tc.code || (tc.sys != "" && ms.Coding[0].System != tc.sys) {
				t.Errorf("first coding %s|%s, want %s|%s", ms.Coding[0].System, ms.Coding[0].Code, tc.sys, tc.code)
			}
			if got := len(ms.Coding) == 2 && ms.Coding[1].System == v2; got != tc.withOrigin {
				t.Errorf("codings %+v: original v2-0002 kept = %v, want %v", ms.Coding, got, tc.withOrigin)
			}
		})
	}
}

// TestReportCategory: US Core DiagnosticReport-Lab needs the category
// v2-0074#LAB; laboratory sections keep their own code beside it, imaging
// and other non-lab sections do not get it.
func TestReportCategory(t *testing.T) {
	for _, tc := range []struct {
		obr24  string
		want   []string // category codes, in order
		obsCat string
	}{
		{"", []string{"LAB"}, "laboratory"},
		{"LAB", []string{"LAB"}, "laboratory"},
		{"HM", []string{"LAB", "HM"}, "laboratory"},
		{"CH", []string{"LAB", "CH"}, "laboratory"},
		{"MB", []string{"LAB", "MB"}, "laboratory"},
		{"RAD", []string{"RAD"}, "imaging"},
		{"CT", []string{"CT"}, "imaging"},
		{"MR", []string{"MR"}, "imaging"},
		{"US", []string{"US"}, "imaging"},
		{"NMR", []string{"NMR"}, "imaging"},
		{"XRY", []string{"XRY"}, "imaging"},
		{"EC", []string{"EC"}, ""}, // electrocardiac: not lab; its Observations' category is not pinned
	} {
		t.Run(tc.obr24, func(t *testing.T) {
			msg := `MSH|^~\&|LAB|L|||20240105101500||ORU^R01|C1|P|2.5.1
PID|1||555^^^HOSP^MR||Doe^Jane||19800101|F
OBR|1||F1^LAB|2345-7^Glucose^LN||||||||||||||||||||` + tc.obr24 + `|F
OBX|1|NM|2345-7^Glucose^LN||7||||||F`
			b := mustConvert(t, testConverter(t), msg)
			dr := entriesOf[fhir.DiagnosticReport](b)[0]
			var got []string
			for _, c := range dr.Category {
				if len(c.Coding) != 1 || c.Coding[0].System != "http://terminology.hl7.org/CodeSystem/v2-0074" {
					t.Fatalf("category %+v", c)
				}
				got = append(got, c.Coding[0].Code)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("categories %v, want %v", got, tc.want)
			}
			if o := entriesOf[fhir.Observation](b)[0]; tc.obsCat != "" && o.Category[0].Coding[0].Code != tc.obsCat {
				t.Errorf("observation category %s, want %s", o.Category[0].Coding[0].Code, tc.obsCat)
			}
		})
	}
}

// TestEthnicity0189: PID-22 given as HL7 table 0189 letters lands in the
// US Core ethnicity ombCategory (CDC codes, or the null flavor UNK).
func TestEthnicity0189(t *testing.T) {
	const cdc, nf = "urn:oid:2.16.840.1.113883.6.238", "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
	for _, tc := range []struct {
		pid22     string
		sys, code string // "" code: no ombCategory
		text      string
	}{
		{"H^Hispanic or Latino^HL70189", cdc, "2135-2", "Hispanic or Latino"},
		{"N^Not Hispanic^HL70189", cdc, "2186-5", "Not Hispanic"},
		{"U^Unknown^HL70189", nf, "UNK", "Unknown"},
		{"H", cdc, "2135-2", "H"},
		{"2186-5^Not Hispanic or Latino^CDCREC", cdc, "2186-5", "Not Hispanic or Latino"},
		{"H^Hispanic^HL70189~2135-2^Hispanic or Latino^CDCREC", cdc, "2135-2", "Hispanic, Hispanic or Latino"}, // one ombCategory only
		{"H^Hispanic^LOCAL", "", "", "Hispanic"},                                                               // a local H is not table 0189's
	} {
		t.Run(tc.pid22, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F||||||||||||||" + tc.pid22
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			var eth *fhir.Extension
			for i := range p.Extension {
				if p.Extension[i].URL == "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity" {
					eth = &p.Extension[i]
				}
			}
			if eth == nil {
				t.Fatal("no ethnicity extension")
			}
			var omb []fhir.Coding
			text := ""
			for _, e := range eth.Extension {
				switch e.URL {
				case "ombCategory":
					omb = append(omb, *e.ValueCoding)
				case "text":
					text = e.ValueString
				}
			}
			if tc.code == "" {
				if len(omb) != 0 {
					t.Errorf("ombCategory %+v, want none", omb)
				}
			} else if len(omb) != 1 || omb[0].System != tc.sys || omb[0].Code != tc.code {
				t.Errorf("ombCategory %+v, want one %s|%s", omb, tc.sys, tc.code)
			}
			if text != tc.text {
				t.Errorf("text %q, want %q", text, tc.text)
			}
		})
	}
}

// TestPID40Telecom: PID-40 (v2.7+) telecoms are read like PID-13/14, and a
// number sent in both is written once.
func TestPID40Telecom(t *testing.T) {
	for _, tc := range []struct {
		name, pid13, pid40 string
		want               []string // system|value|use
	}{
		{"home phone", "", "^PRN^PH^^1^555^1234567", []string{"phone|+1 (555) 123-4567|home"}},
		{"work and mobile", "", "^WPN^PH^^^555^7654321~^PRS^CP^^^555^1112222", []string{"phone|(555) 765-4321|work", "phone|(555) 111-2222|mobile"}},
		{"email", "", "^NET^Internet^jane@example.org", []string{"email|jane@example.org|"}},
		{"no use given", "", "^^PH^^^555^3334444", []string{"phone|(555) 333-4444|"}},
		{"same as PID-13", "^PRN^PH^^^555^1234567", "^PRN^PH^^^555^1234567~^NET^Internet^j@example.org", []string{"phone|(555) 123-4567|home", "email|j@example.org|"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := make([]string, 41)
			fields[0], fields[1], fields[3], fields[5], fields[7], fields[8] = "PID", "1", "123^^^HOSP^MR", "Doe^Jane", "19900101", "F"
			fields[13], fields[40] = tc.pid13, tc.pid40
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.7\n" + strings.Join(fields, "|")
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			var got []string
			for _, c := range p.Telecom {
				got = append(got, c.System+"|"+c.Value+"|"+c.Use)
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("telecom %v, want %v", got, tc.want)
			}
		})
	}
}

// TestResultsInterpreter: OBR-32 is an NDL whose CNN keeps id and name in
// subcomponents; it becomes a Practitioner the report's resultsInterpreter
// refers to, and no junk Practitioner is made of the whole component.
func TestResultsInterpreter(t *testing.T) {
	for _, tc := range []struct {
		name, obr32 string
		system, id  string // "" id: display only
		display     string
	}{
		{"id and name", "9999&Reader&Rita&M&Jr&Dr&MD", "urn:ferry:l:practitioner", "9999", "Dr Rita M Reader"},
		{"with authority", "9999&Reader&Rita&&&&&&NPI&2.16.840.1.113883.4.6&ISO^20240105", "http://hl7.org/fhir/sid/us-npi", "9999", "Rita Reader"},
		{"name only", "&Reader&Rita", "", "", "Rita Reader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := `MSH|^~\&|LAB|L|||20240105101500||ORU^R01|C1|P|2.5.1
PID|1||555^^^HOSP^MR||Doe^Jane||19800101|F
OBR|1||F1^LAB|2345-7^Glucose^LN||||||||||||||||||||CH|F|||||||` + tc.obr32 + `
OBX|1|NM|2345-7^Glucose^LN||7||||||F`
			b := mustConvert(t, testConverter(t), msg)
			dr := entriesOf[fhir.DiagnosticReport](b)[0]
			pr := entriesOf[fhir.Practitioner](b)
			if len(dr.ResultsInterpreter) != 1 {
				t.Fatalf("resultsInterpreter %+v", dr.ResultsInterpreter)
			}
			ri := dr.ResultsInterpreter[0]
			if ri.Display != tc.display {
				t.Errorf("display %q, want %q", ri.Display, tc.display)
			}
			if tc.id == "" {
				if len(pr) != 0 || ri.Reference != "" {
					t.Errorf("name only: practitioners %+v, reference %q", pr, ri.Reference)
				}
				return
			}
			if len(pr) != 1 || pr[0].Identifier[0].System != tc.system || pr[0].Identifier[0].Value != tc.id {
				t.Fatalf("practitioners %+v", pr)
			}
			if ri.Reference != "Practitioner/"+pr[0].ID {
				t.Errorf("reference %q, practitioner id %s", ri.Reference, pr[0].ID)
			}
			if pr[0].Name[0].Family != "Reader" || pr[0].Name[0].Given[0] != "Rita" {
				t.Errorf("name %+v", pr[0].Name)
			}
		})
	}
}

// TestAllergenType: AL1-2 follows ConceptMap
// table-hl70127-to-allergy-intolerance-category (and -type).
func TestAllergenType(t *testing.T) {
	for _, tc := range []struct {
		al12, category, typ string
	}{
		{"DA", "medication", "allergy"},
		{"FA", "food", "allergy"},
		{"EA", "environment", "allergy"},
		{"AA", "biologic", "allergy"},
		{"PA", "environment", "allergy"},
		{"LA", "environment", "allergy"},
		{"MA", "", "allergy"}, // miscellaneous: no category, not medication
		{"MC", "", ""},
		{"MI", "", "intolerance"},
		{"DI", "", "intolerance"},
	} {
		t.Run(tc.al12, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F\nAL1|1|" + tc.al12 + "|LATEX^Latex^L|SV"
			a := entriesOf[fhir.AllergyIntolerance](mustConvert(t, testConverter(t), msg))
			if len(a) != 1 {
				t.Fatalf("allergies: %d", len(a))
			}
			if got := strings.Join(a[0].Category, ","); got != tc.category {
				t.Errorf("category %q, want %q", got, tc.category)
			}
			if a[0].Type != tc.typ {
				t.Errorf("type %q, want %q", a[0].Type, tc.typ)
			}
		})
	}
}

// TestWellKnownAuthorities: NPI and SSN are recognised by their assigning
// authority (name or OID), not only by the identifier type; an SSN so
// recognised stays out of Patient.identifier like a CX.5 SS one.
func TestWellKnownAuthorities(t *testing.T) {
	const npi, ssn = "http://hl7.org/fhir/sid/us-npi", "http://hl7.org/fhir/sid/us-ssn"
	t.Run("practitioner", func(t *testing.T) {
		for _, tc := range []struct{ xcn, system string }{
			{"1112223333^Other^Oli^^^^^^NPI", npi},
			{"1112223333^Other^Oli^^^^^^npi", npi},
			{"1112223333^Other^Oli^^^^^^&2.16.840.1.113883.4.6&ISO", npi},
			{"1112223333^Other^Oli^^^^^^CMSNPI&2.16.840.1.113883.4.6", npi},
			{"1112223333^Other^Oli^^^^^^^L^^^NPI", npi}, // XCN.13, as before
			{"1112223333^Other^Oli^^^^^^HOSP", "urn:oid:2.16.840.1.113883.3.999.1"},
		} {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A01|C1|P|2.5\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F\nPV1|1|I|||||" + tc.xcn
			pr := entriesOf[fhir.Practitioner](mustConvert(t, testConverter(t), msg))
			if len(pr) != 1 || pr[0].Identifier[0].System != tc.system {
				t.Errorf("%s: practitioner %+v, want system %s", tc.xcn, pr, tc.system)
			}
		}
	})
	t.Run("patient", func(t *testing.T) {
		for _, tc := range []struct {
			cx     string
			isSSN  bool
			system string
		}{
			{"123456789^^^SSA&2.16.840.1.113883.4.1&ISO", true, ssn},
			{"123456789^^^SSA", true, ssn},
			{"123456789^^^USSSA", true, ssn},
			{"123456789^^^&2.16.840.1.113883.4.1&ISO", true, ssn},
			{"123456789^^^SSA^SS", true, ssn},
			{"123456789^^^^ss", true, ssn}, // a type code in lower case
			{"123456789^^^HOSP^ss", true, ssn},
			{"123456789^^^MRN^MR", false, "urn:ferry:id:mrn"},
		} {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A01|C1|P|2.5\nPID|1||" + tc.cx + "~777^^^HOSP^MR||Doe^Jane||19900101|F"
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			var systems []string
			for _, id := range p.Identifier {
				systems = append(systems, id.System)
				if id.Value == "123456789" && tc.isSSN {
					t.Errorf("%s: SSN kept in Patient.identifier as %s", tc.cx, id.System)
				}
			}
			if !tc.isSSN && (len(p.Identifier) != 2 || p.Identifier[0].System != tc.system) {
				t.Errorf("%s: identifiers %v", tc.cx, systems)
			}
		}
	})
	t.Run("mr in lower case is the key", func(t *testing.T) {
		const head = "MSH|^~\\&|A|F|||20240101120000||ADT^A01|C1|P|2.5\nPID|1||D123^^^DMV^DL~777^^^HOSP^"
		_, lower := patientOf(t, mustConvert(t, testConverter(t), head+"mr||Doe^Jane||19900101|F"))
		_, upper := patientOf(t, mustConvert(t, testConverter(t), head+"MR||Doe^Jane||19900101|F"))
		if lower != upper {
			t.Errorf("a PID-3 typed mr is written %s, typed MR %s: the same patient", lower, upper)
		}
	})
}

// TestPatientClass: PV1-2 follows ConceptMap table-hl70004-to-v3-actcode;
// classes without an ActCode equivalent keep their v2-0004 code, and "N"
// keeps the Encounter when PV1 carries a visit.
func TestPatientClass(t *testing.T) {
	const act, v2 = "http://terminology.hl7.org/CodeSystem/v3-ActCode", "http://terminology.hl7.org/CodeSystem/v2-0004"
	for _, tc := range []struct {
		pv1       string
		sys, code string // "" code: no Encounter
		practs    int
	}{
		{"PV1|1|E", act, "EMER", 0},
		{"PV1|1|I", act, "IMP", 0},
		{"PV1|1|O", act, "AMB", 0},
		{"PV1|1|P", act, "PRENC", 0},
		{"PV1|1|R", v2, "R", 0},
		{"PV1|1|B", v2, "B", 0},
		{"PV1|1|C", v2, "C", 0},
		{"PV1|1|U", v2, "U", 0},
		{"PV1|1|N|||||||||||||||||V1^^^CLINICA", v2, "N", 0},
		{"PV1|1|N|||||1234^Doc^Dan^^^^^^HOSP", v2, "N", 1},
		{"PV1|1|N", "", "", 0}, // nothing about a visit
		{"PV1|1|", "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "UNK", 0},
	} {
		t.Run(tc.pv1, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A01|C1|P|2.5\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F\n" + tc.pv1
			b := mustConvert(t, testConverter(t), msg)
			enc := entriesOf[fhir.Encounter](b)
			if tc.code == "" {
				if len(enc) != 0 {
					t.Fatalf("Encounter written: %+v", enc[0])
				}
				return
			}
			if len(enc) != 1 || enc[0].Class.System != tc.sys || enc[0].Class.Code != tc.code {
				t.Fatalf("encounters %+v, want class %s|%s", enc, tc.sys, tc.code)
			}
			if len(enc[0].Participant) != tc.practs {
				t.Errorf("participants %+v", enc[0].Participant)
			}
			if strings.Contains(tc.pv1, "V1^^^CLINICA") && (len(enc[0].Identifier) == 0 || enc[0].Identifier[0].Value != "V1") {
				t.Errorf("visit number lost: %+v", enc[0].Identifier)
			}
		})
	}
}

// TestStatusBatchLabels: the status change of a labelled report carries the
// report's labels, so a policy that holds one holds the other.
func TestStatusBatchLabels(t *testing.T) {
	raw := "MSH|^~\\&|LAB|L|||20240105101500|R|ORU^R01|C9|P|2.5.1\r" +
		"PID|1||555^^^HOSP^MR||Doe^Jane||19800101|F\r" +
		"OBR|1||F1^LAB|2345-7^Glucose^LN|||||||||||||||||||F\r" +
		"OBX|1|NM|2345-7^Glucose^LN||||||||U\r"
	c := testConverter(t)
	b, res, err := c.ConvertRaw([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	sb := StatusBatch(b, res)
	if sb == nil || sb.Meta == nil {
		t.Fatalf("status batch %+v without labels", sb)
	}
	if got, want := codes(sb.Meta.Security), codes(b.Meta.Security); got != want || !strings.Contains(got, "R") {
		t.Errorf("status batch labels %q, report's %q", got, want)
	}
}
