package csvfhir

import (
	"github.com/ferry-health/ferry/adapters/fhir"
	"strings"
	"testing"
)

// TestMixedEncodingRefused: an export whose bytes are not valid UTF-8 was
// read whole as Windows-1252, even when most of it is UTF-8 and one row
// is not (a row pasted in from another program, a concatenated export):
// every UTF-8 name then went to the exchange as mojibake ("Müller" as
// "MÃ¼ller"), overwriting the patient's record. Such a file cannot be
// read right either way, so it is refused, naming a line of each kind,
// unless the mapping says which encoding it is.
func TestMixedEncodingRefused(t *testing.T) {
	mixed := []byte("MRN,Last,First,Sex,DOB\n1,M\xc3\xbcller,Zo\xc3\xab,M,1970-01-02\n2,M\xfcller,B,M,1970-01-02\n")
	_, err := Convert(mixed, patientsMapping(), Options{})
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "encoding:") {
		t.Fatalf("mixed UTF-8 and Windows-1252: %v, want a refusal naming lines 2 and 3", err)
	}
	// Said outright, the mapping's encoding wins, as before.
	m := patientsMapping()
	m.Encoding = "windows-1252"
	if p := onePatientOf(t, mixed, m, 2); p.Name[0].Family != "Müller" {
		t.Errorf("declared windows-1252: second row's family %q", p.Name[0].Family)
	}
	// A Windows-1252 file with no UTF-8 in it is still read as such.
	if p := onePatientOf(t, []byte("MRN,Last,First,Sex,DOB\n2,M\xfcller,Zo\xeb \x96 \x93Z\x94,F,1970-01-02\n"), patientsMapping(), 1); p.Name[0].Family != "Müller" || p.Name[0].Given[0] != "Zoë – “Z”" {
		t.Errorf("windows-1252: %+v", p.Name)
	}
}

// onePatientOf converts in and returns the i-th (from 1) Patient.
func onePatientOf(t *testing.T, in []byte, m *Mapping, i int) *fhir.Patient {
	t.Helper()
	parts, err := Convert(in, m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < i {
		t.Fatalf("%d parts", len(parts))
	}
	return parts[i-1].Bundle.Entry[0].Resource.(*fhir.Patient)
}
