package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPatientKeySameAcrossSources: the same patient (one identifier
// system, one MRN) gets the same queue key from an HL7 ADT^A01, a C-CDA
// document and a fax, so neither document can overtake the message that
// registers the patient; and the key does not carry the MRN in clear.
func TestPatientKeySameAcrossSources(t *testing.T) {
	const (
		oid    = "2.16.840.1.113883.3.999.1"
		system = "urn:oid:" + oid
		mrn    = "MRN100234"
	)
	root := filepath.Join("..", "..", "testdata")
	read := func(parts ...string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(append([]string{root}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx := context.Background()
	keys := map[string]string{}
	one := func(name string, units []Unit, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(units) == 0 || units[0].Err != nil {
			t.Fatalf("%s: units %+v", name, units)
		}
		for _, u := range units {
			if u.Key != units[0].Key {
				t.Errorf("%s: units of one input have keys %q and %q", name, units[0].Key, u.Key)
			}
		}
		keys[name] = units[0].Key
	}

	// HL7: PID-3 MRN100234^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR
	msg := read("convert", "v2-adt-a01", "input.hl7")
	if !strings.Contains(string(msg), mrn+"^^^SPRINGCLINIC&"+oid+"&ISO^MR") {
		t.Fatal("test message changed: PID-3 no longer names the MRN and OID")
	}
	units, err := HL7{Conv: &v2fhir.Converter{}}.Convert(ctx, adapters.Raw{Format: "hl7v2", Body: msg})
	one("hl7v2", units, err)

	// C-CDA: recordTarget/patientRole/id with the same root and extension.
	doc := strings.Replace(string(read("convert", "ccda-problem", "input.xml")),
		`<id root="2.16.840.1.113883.19.5.99999.2" extension="MRN-PRB1"/>`, `<id root="`+oid+`" extension="`+mrn+`"/>`, 1)
	if !strings.Contains(doc, mrn) {
		t.Fatal("test document changed: patient id not found")
	}
	units, err = CCDA{}.Convert(ctx, adapters.Raw{Format: "ccda", Body: []byte(doc)})
	one("ccda", units, err)

	// Fax: the MRN from the fax metadata, the site's patient system.
	conv, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1", PatientSystem: system,
		Author: faxfhir.OrgRef{Display: "Main Street Clinic"}, Custodian: faxfhir.OrgRef{Display: "Main Street Clinic"}})
	if err != nil {
		t.Fatal(err)
	}
	fax := faxfhir.Fax{Pages: 1, MRN: mrn, DocType: "Referral"}
	units, err = Fax{Conv: conv}.Convert(ctx, adapters.Raw{Format: "fax", Name: "g4-fine-1p.tif", Body: read("fax", "g4-fine-1p.tif"), Meta: fax.Meta()})
	one("fax", units, err)

	want := fhir.PatientKey(system, mrn)
	for name, k := range keys {
		if k != want {
			t.Errorf("%s: key %q, want %q", name, k, want)
		}
		if strings.Contains(k, mrn) || strings.Contains(k, oid) {
			t.Errorf("%s: key %q holds the identifier in clear", name, k)
		}
	}
	if fhir.PatientKey(system, "MRN100235") == want || fhir.PatientKey("urn:oid:1.2.3", mrn) == want || fhir.PatientKey(system, "") != "" {
		t.Error("PatientKey does not tell patients apart, or keys an empty identifier")
	}
}
