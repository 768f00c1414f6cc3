package v2fhir

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestCharsetSwitchName: a PID-5 written in JIS X 0208 with HL7 switch
// escapes (MSH-18 "ISO IR6~ISO IR87") becomes a Patient name in UTF-8.
func TestCharsetSwitchName(t *testing.T) {
	b, _ := convertFile(t, &Converter{}, "v2-adt-a01-jis")
	for _, e := range b.Entry {
		p, ok := e.Resource.(*fhir.Patient)
		if !ok {
			continue
		}
		if len(p.Name) == 0 || p.Name[0].Family != "山田" || len(p.Name[0].Given) != 1 || p.Name[0].Given[0] != "太郎" {
			t.Fatalf("Patient.name = %+v, want 山田 太郎", p.Name)
		}
		return
	}
	t.Fatal("no Patient in the bundle")
}

// TestCharsetSwitchUnknown: a switch the gateway cannot honour is refused
// with a ContentError (ERR-3 102) naming the field, not passed on garbled.
func TestCharsetSwitchUnknown(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/convert/v2-adt-a01-jis/input.hl7")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`\C2D4E\`, `\M24\`} {
		in := bytes.Replace(raw, []byte(`\M2442\;3ED`), []byte(bad+`;3ED`), 1)
		_, _, err = (&Converter{}).ConvertRaw(in)
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != "PID-5" || ce.Pos != 3 || ce.Code() != "102" || !strings.Contains(ce.Reason, bad) {
			t.Errorf("%s: error %v, want a ContentError on PID-5 with code 102", bad, err)
		}
	}
}
