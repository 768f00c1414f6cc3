package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// npiADT is an A01 of patient mrn whose PV1-7 (attending) and PV1-8
// (referring) are the XCNs attending and referring.
func npiADT(control, mrn, attending, referring string) string {
	return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401101500||ADT^A01^ADT_A01|" + control + "|P|2.5.1\n" +
		"EVN|A01|20240401101500\n" +
		"PID|1||" + mrn + "^^^CLINIC^MR||Doe^Pat||19800101|F\n" +
		"PV1|1|O|CLINIC||||" + attending + "|" + referring + "||||||||||||V-" + mrn + "^^^CLINIC^VN|||||||||||||||||||||||||20240401100000\n"
}

// practitionersOf is the bundle's Practitioners by the reference the
// bundle's entries use for them.
func practitionersOf(b *fhir.Bundle) map[string]*fhir.Practitioner {
	out := map[string]*fhir.Practitioner{}
	for _, p := range entriesOf[fhir.Practitioner](b) {
		out[refOf(b, p)] = p
	}
	return out
}

func carriesNPI(p *fhir.Practitioner, npi string) bool {
	for _, id := range p.Identifier {
		if id.System == sysNPI && id.Value == npi {
			return true
		}
	}
	return false
}

// TestPlaceholderNPIIsNotAPerson: an NPI names one provider for life (45
// CFR 162.406), so an XCN whose authority (XCN.9 "NPI", or the NPI's OID)
// or XCN.13 says NPI keyed the Practitioner by
// http://hl7.org/fhir/sid/us-npi|<value>, one resource for every sender
// and patient. But an NPI is ten digits whose last is a Luhn check digit
// over "80840" and the other nine; EHRs fill in 5555555555, 1234567890 or
// a twelve-digit value for staff without one, and everyone who carried it
// became one Practitioner: in a message the referring doctor was the
// attending, and across messages each overwrote the other at the
// exchange. Such a value is still sent as the identifier it is, but the
// Practitioner is keyed by it and the name, within the sending facility;
// a valid NPI still keys the one provider, whatever name it is given.
func TestPlaceholderNPIIsNotAPerson(t *testing.T) {
	xcn := func(npi, family, given, how string) string {
		switch how {
		case "oid":
			return npi + "^" + family + "^" + given + "^^^^^^&2.16.840.1.113883.4.6&ISO"
		case "type":
			return npi + "^" + family + "^" + given + "^^^^^^CLINIC^^^^NPI"
		}
		return npi + "^" + family + "^" + given + "^^^^^^NPI"
	}
	ex := standin.Start(t)
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		for _, c := range []struct {
			npi, how string
			valid    bool
		}{
			{"5555555555", "ns", false},   // check digit wrong
			{"1234567890", "oid", false},  // the golden files' placeholder
			{"999999943252", "ns", false}, // twelve digits
			{"5555555555", "type", false}, // XCN.13 NPI
			{"1234567893", "ns", true},    // a valid NPI
			{"1234567893", "type", true},
		} {
			conv := testConverter(t)
			conv.Mode = mode
			name := mode.String() + " " + c.npi + " " + c.how
			// One message: the attending and the referring doctor under
			// the same value.
			one := npiADT("M1", "A100", xcn(c.npi, "Renal", "Rory", c.how), xcn(c.npi, "Primary", "Pat", c.how))
			b := mustConvert(t, conv, one)
			strictR4(t, marshal(t, b))
			ps := practitionersOf(b)
			want := 2
			if c.valid {
				want = 1
			}
			if len(ps) != want {
				t.Errorf("%s: two names under one value are %d Practitioners, want %d", name, len(ps), want)
			}
			for _, p := range ps {
				if !carriesNPI(p, c.npi) {
					t.Errorf("%s: Practitioner %s does not carry the value as sent", name, toJSON(p.Identifier))
				}
			}
			enc := entriesOf[fhir.Encounter](b)[0]
			if len(enc.Participant) != 2 {
				t.Fatalf("%s: participants %s", name, toJSON(enc.Participant))
			}
			for _, pt := range enc.Participant {
				p := ps[pt.Individual.Reference]
				if p == nil {
					t.Fatalf("%s: participant %s refers to no Practitioner of the bundle", name, toJSON(pt))
				}
				if !c.valid && (len(p.Name) != 1 || pt.Individual.Display != nameText(&p.Name[0])) {
					t.Errorf("%s: participant %q refers to %s", name, pt.Individual.Display, toJSON(p.Name))
				}
			}
			// Sent again under another MSH-10: the same keys.
			again := practitionersOf(mustConvert(t, conv, strings.Replace(one, "|M1|", "|M1-AGAIN|", 1)))
			for ref := range ps {
				if again[ref] == nil {
					t.Errorf("%s: sent again, Practitioner %s is gone: %v", name, ref, again)
				}
			}
			// Another patient's visit whose attending is a third doctor
			// under the same value: at the exchange three Practitioners,
			// or the one the valid NPI names.
			other := npiADT("M2", "B200", xcn(c.npi, "Jones", "Ann", c.how), "")
			if mode == ModeConditional || c.how != "ns" {
				continue // the stand-in takes the ADT in parts; once is enough
			}
			got := atExchange(t, ex, conv, []string{one, other}, "Practitioner")
			want = 3
			if c.valid {
				want = 1
			}
			if len(got["Practitioner"]) != want {
				t.Errorf("%s: the exchange holds %d Practitioners, want %d", name, len(got["Practitioner"]), want)
			}
		}
	}
}

// TestPlaceholderNPIOfProvidersAndLabs: a referral's providers (PRD-7, a
// PLN of type NPI) and a result's performing organization (OBX-23, an
// XON whose authority is the NPI) are keyed as an XCN is: a placeholder
// NPI with the name, so the referring doctor and the specialist given one
// are two Practitioners and two labs are two Organizations, and the NPI,
// wherever PRD-7 lists it, keys the doctor that PRDs name alike.
func TestPlaceholderNPIOfProvidersAndLabs(t *testing.T) {
	ref := func(npi string) string {
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401101500||REF^I12^REF_I12|R1|P|2.5.1\n" +
			"RF1|P^Pending^HL70283|R^Routine^HL70280|||O^Outpatient^HL70284|RF-1^EHR|20240401\n" +
			"PRD|RP^Referring Provider^HL70286|Chen^Wei|||||MD-1^SL^IL~" + npi + "^NPI\n" +
			"PRD|RT^Referred to Provider^HL70286|Haddad^Samir|||||" + npi + "^NPI\n" +
			"PRD|PP^Primary Care Provider^HL70286|Chen^Wei|||||" + npi + "^NPI\n" +
			"PID|1||A100^^^CLINIC^MR||Doe^Pat||19800101|F\n"
	}
	oru := func(npi string) string {
		lab := func(name string) string {
			return "||||||||||||" + name + "^^^^^NPI^XX^^^" + npi + "\n"
		}
		return "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|L1|P|2.5.1\n" +
			"PID|1||A100^^^CLINIC^MR||Doe^Pat||19800101|F\n" +
			"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240401090000\n" +
			"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^^UCUM|70-99||||F" + lab("North Lab") +
			"OBX|2|NM|2951-2^Sodium^LN||140|mmol/L^^UCUM|||||F" + lab("South Lab")
	}
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		for _, c := range []struct {
			npi   string
			valid bool
		}{{"5555555555", false}, {"1234567893", true}} {
			conv := testConverter(t)
			conv.Mode = mode
			name := mode.String() + " " + c.npi
			b := mustConvert(t, conv, ref(c.npi))
			strictR4(t, marshal(t, b))
			ps := practitionersOf(b)
			want := 2 // Chen, Haddad
			if c.valid {
				want = 1
			}
			if len(ps) != want {
				t.Errorf("%s: the referral's providers are %d Practitioners, want %d: %s", name, len(ps), want, toJSON(ps))
			}
			sr := entriesOf[fhir.ServiceRequest](b)[0]
			pat := entriesOf[fhir.Patient](b)[0]
			if sr.Requester == nil || len(sr.Performer) != 1 || len(pat.GeneralPractitioner) != 1 {
				t.Fatalf("%s: requester %s, performers %s, general practitioner %s", name, toJSON(sr.Requester), toJSON(sr.Performer), toJSON(pat.GeneralPractitioner))
			}
			if sr.Requester.Reference != pat.GeneralPractitioner[0].Reference {
				t.Errorf("%s: Dr Chen as requester is %s, as general practitioner %s", name, sr.Requester.Reference, pat.GeneralPractitioner[0].Reference)
			}
			if p := ps[sr.Performer[0].Reference]; !c.valid && (p == nil || p.Name[0].Family != "Haddad") {
				t.Errorf("%s: the performer is %s, want Dr Haddad", name, toJSON(p))
			}
			b = mustConvert(t, conv, oru(c.npi))
			strictR4(t, marshal(t, b))
			orgs := entriesOf[fhir.Organization](b)
			want = 2
			if c.valid {
				want = 1
			}
			if len(orgs) != want {
				t.Errorf("%s: two labs under one value are %d Organizations, want %d: %s", name, len(orgs), want, toJSON(orgs))
			}
			for _, o := range orgs {
				found := false
				for _, id := range o.Identifier {
					found = found || id.System == sysNPI && id.Value == c.npi
				}
				if !found {
					t.Errorf("%s: Organization %s does not carry the value as sent", name, toJSON(o.Identifier))
				}
			}
		}
	}
}
