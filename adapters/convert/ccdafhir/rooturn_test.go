package ccdafhir

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestRootGivenAsURN: a recordTarget id whose root is written as a URN
// ("URN:OID:<OID>", "urn:oid:<OID>") names the authority a bare root
// names: the patient is the one the ADT feed keys by urn:oid:<OID> (one
// Patient id, one conditional identifier), and an SSN so written is still
// known as one (not sent where another identifier names the patient).
// The root was kept as written, a system no other input gives the MRN,
// and the SSN went to the exchange as an identifier of its own.
func TestRootGivenAsURN(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/convert/ccda-result/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	v2 := &v2fhir.Converter{Mode: v2fhir.ModeID}
	vb, _, err := v2.ConvertRaw([]byte(sharedA04))
	if err != nil {
		t.Fatal(err)
	}
	vreq, vref := patientWrite(t, vb, mrnSystem, "MRN-RES1")
	for _, prefix := range []string{"URN:OID:", "urn:oid:"} {
		doc := bytes.Replace(raw, []byte(`<id root="2.16.840.1.113883.19.5.99999.2" extension="MRN-RES1"/>`),
			[]byte(`<id root="`+prefix+`2.16.840.1.113883.19.5.99999.2" extension="MRN-RES1"/>`), 1)
		doc = bytes.Replace(doc, []byte(`<id root="2.16.840.1.113883.4.1" extension="123-45-6789"/>`),
			[]byte(`<id root="`+prefix+`2.16.840.1.113883.4.1" extension="123-45-6789"/>`), 1)
		if bytes.Equal(doc, raw) {
			t.Fatal("the test document changed: no recordTarget id replaced")
		}
		cb, _, err := ConvertBytes(doc, Options{Mode: ModePutID})
		if err != nil {
			t.Fatal(err)
		}
		var p *fhir.Patient
		for _, e := range cb.Entry {
			if r, ok := e.Resource.(*fhir.Patient); ok {
				p = r
			}
		}
		if p == nil {
			t.Fatal("no Patient")
		}
		var ids []string
		for _, id := range p.Identifier {
			ids = append(ids, id.System+"|"+id.Value)
		}
		if got := strings.Join(ids, " "); got != mrnSystem+"|MRN-RES1" {
			t.Errorf("%s: Patient.identifier %s, want %s|MRN-RES1 alone", prefix, got, mrnSystem)
			continue
		}
		creq, cref := patientWrite(t, cb, mrnSystem, "MRN-RES1")
		if creq != vreq || cref != vref {
			t.Errorf("%s: one MRN, two Patients: C-CDA %s (%s), ADT %s (%s)", prefix, creq, cref, vreq, vref)
		}
	}
}
