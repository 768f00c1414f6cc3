package v2fhir

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/transport/fhirrecv"
)

// TestPractitionerByIDAloneKeepsName: a message that names a doctor by id
// alone (PV1-7 "1234^^^^^^^^HOSP", as feeds fill fields from a provider
// master file) wrote a Practitioner without a name; each Practitioner is
// PUT whole, so it took away the name an earlier message had given the
// doctor at the exchange, and alone it wrote a Practitioner US Core
// refuses (Practitioner.name 1..*). Such a field is now a reference by
// the identifier, in every write mode: the exchange keeps the named
// Practitioner, and a doctor never named gets no nameless one.
func TestPractitionerByIDAloneKeepsName(t *testing.T) {
	const named = "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101120000||ADT^A01^ADT_A01|A1|P|2.5.1\n" +
		"EVN|A01|20240101120000\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1|I|W1^101^A|E|||1234^Smith^John^^^Dr.^^^HOSP|||MED|||||||||V77^^^HOSP^VN|||||||||||||||||||||||||20240101110000\n"
	const idOnly = "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240102120000||ADT^A08^ADT_A01|A2|P|2.5.1\n" +
		"EVN|A08|20240102120000\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1|I|W1^101^A|E|||1234^^^^^^^^HOSP|||MED|||||||||V77^^^HOSP^VN|||||||||||||||||||||||||20240101110000\n"
	post := func(t *testing.T, url string, b *fhir.Bundle) {
		t.Helper()
		js := marshal(t, b)
		strictR4(t, js)
		resp, err := http.Post(url, "application/fhir+json", bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d for %s", resp.StatusCode, js)
		}
	}
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			recv := fhirrecv.New()
			srv := httptest.NewServer(recv)
			defer srv.Close()
			c := testConverter(t)
			c.Mode = mode

			// Named by id alone, never by name: no nameless Practitioner.
			b := mustConvert(t, c, idOnly)
			if ps := entriesOf[fhir.Practitioner](b); len(ps) != 0 {
				t.Errorf("id alone writes %s", toJSON(ps))
			}
			enc := entriesOf[fhir.Encounter](b)[0]
			if len(enc.Participant) != 1 {
				t.Fatalf("participants %s, want the attending doctor", toJSON(enc.Participant))
			}
			ref := enc.Participant[0].Individual
			if ref == nil || ref.Reference != "" || ref.Type != "Practitioner" || ref.Identifier == nil ||
				ref.Identifier.System != "urn:oid:2.16.840.1.113883.3.999.1" || ref.Identifier.Value != "1234" {
				t.Errorf("attending doctor by id alone is %s, want a reference by the identifier", toJSON(ref))
			}

			// Named, then by id alone: the exchange keeps the name.
			post(t, srv.URL, mustConvert(t, c, named))
			post(t, srv.URL, b)
			ps := recv.Resources("Practitioner")
			if len(ps) != 1 {
				t.Fatalf("exchange holds %d Practitioners, want 1: %s", len(ps), ps)
			}
			var p fhir.Practitioner
			if err := json.Unmarshal(ps[0], &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Name) != 1 || p.Name[0].Family != "Smith" || !strings.EqualFold(p.Identifier[0].Value, "1234") {
				t.Errorf("after the id-only message the exchange holds %s", ps[0])
			}
		})
	}
}

// TestProviderByIDAloneWritesNoPractitioner: a PRD that lists a doctor's
// ids (PRD-7) without a name, and an OBX-25 director by id alone, refer
// to the doctor by the identifier instead of writing a nameless
// Practitioner (by an id other than a placeholder NPI, which names no
// one); the director's PractitionerRole keeps the id it had.
func TestProviderByIDAloneWritesNoPractitioner(t *testing.T) {
	const ref = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401101500||REF^I12^REF_I12|R1|P|2.5.1\n" +
		"RF1|P^Pending^HL70283|R^Routine^HL70280|||O^Outpatient^HL70284|RF-1^EHR|20240401\n" +
		"PRD|RP^Referring Provider^HL70286||||||1234567893^NPI\n" +
		"PRD|RT^Referred to Provider^HL70286|Haddad^Samir|||||1245319599^NPI\n" +
		"PRD|CP^Consulting Provider^HL70286||||||5555555555^NPI~MD-9^SL^IL\n" +
		"PRD|CP^Consulting Provider^HL70286||||||5555555555^NPI\n" +
		"PID|1||A100^^^CLINIC^MR||Doe^Pat||19800101|F\n"
	const oru = "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|L1|P|2.5.1\n" +
		"PID|1||A100^^^CLINIC^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240401090000\n" +
		"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^^UCUM|70-99||||F|||||5555555555^^^^^^^^^^^^NPI|||||||Corner Lab^^^^^HOSP^XX^^^77||2343242^^^^^^^^HOSP\n"
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		c := testConverter(t)
		c.Mode = mode
		b := mustConvert(t, c, ref)
		strictR4(t, marshal(t, b))
		ps := entriesOf[fhir.Practitioner](b)
		if len(ps) != 1 || len(ps[0].Name) != 1 {
			t.Errorf("%s: referral writes %s, want the named doctor alone", mode, toJSON(ps))
		}
		sr := entriesOf[fhir.ServiceRequest](b)[0]
		if r := sr.Requester; r == nil || r.Identifier == nil || r.Identifier.System != sysNPI || r.Identifier.Value != "1234567893" || r.Reference != "" {
			t.Errorf("%s: requester by id alone is %s", mode, toJSON(r))
		}
		// A placeholder NPI names no one: the licence names the
		// consultant, and one given the placeholder alone is nobody.
		if len(sr.Performer) != 2 || sr.Performer[1].Identifier == nil || sr.Performer[1].Identifier.Value != "MD-9" {
			t.Errorf("%s: performers %s, want the specialist and the consultant by licence", mode, toJSON(sr.Performer))
		}

		b = mustConvert(t, c, oru)
		strictR4(t, marshal(t, b))
		if ps := entriesOf[fhir.Practitioner](b); len(ps) != 0 {
			t.Errorf("%s: director by id alone writes %s", mode, toJSON(ps))
		}
		if o := entriesOf[fhir.Observation](b)[0]; len(o.Performer) != 1 {
			t.Errorf("%s: performers %s, want the director's role alone (OBX-16 names no one)", mode, toJSON(o.Performer))
		}
		roles := entriesOf[fhir.PractitionerRole](b)
		if len(roles) != 1 || roles[0].Practitioner == nil || roles[0].Practitioner.Identifier == nil ||
			roles[0].Practitioner.Identifier.Value != "2343242" {
			t.Fatalf("%s: director's roles %s", mode, toJSON(roles))
		}
		var urn [urnLen]byte
		uuid5URN(&urn, "Practitioner", roles[0].Practitioner.Identifier.System, "2343242")
		if !strings.Contains(roles[0].Identifier[0].Value, "MDIR."+string(urn[len("urn:uuid:"):])+"@") {
			t.Errorf("%s: role key %s, want the director's Practitioner id", mode, roles[0].Identifier[0].Value)
		}
	}
}
