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

// TestUnknownCharsetRefused: a message whose MSH-18 names a character set
// ferry does not know (KOI8-R, not in HL7 table 0211) and whose bytes are
// neither ASCII nor UTF-8 was read as windows-1252 like an unlabelled
// one, and the Cyrillic name Петров went out as "ðÅÔÒÏ×". It is refused
// with a ContentError at MSH-18 (ERR-3 102) naming the label, as a switch
// to an unknown set is. The same label on ASCII or UTF-8 text, which
// reads the same whatever the label, is converted.
func TestUnknownCharsetRefused(t *testing.T) {
	head := "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|K1|P|2.5.1||||||"
	msg := func(label, name string) string {
		return head + label + "\nEVN|A01|20240101\nPID|1||123^^^H^MR||" + name + "||19800101|M\nPV1|1|O\n"
	}
	_, _, err := (&Converter{}).ConvertRaw([]byte(strings.ReplaceAll(msg("KOI8-R", "\xf0\xc5\xd4\xd2\xcf\xd7^\xe9\xd7\xc1\xce"), "\n", "\r")))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Field != "MSH-18" || ce.Pos != 1 || ce.Code() != "102" || !strings.Contains(ce.Reason, `"KOI8-R"`) {
		t.Fatalf("error %v, want a ContentError on MSH-18 with code 102 naming KOI8-R", err)
	}
	for label, name := range map[string]string{"KOI8-R": "Петров", "koi8-r ": "Petrov", "ISO-8859-5": "\xbf\xd5\xe2\xe0\xde\xd2"} {
		for _, p := range entriesOf[fhir.Patient](mustConvert(t, &Converter{}, msg(label, name+"^Ivan"))) {
			if len(p.Name) != 1 || p.Name[0].Family != "Петров" && p.Name[0].Family != "Petrov" {
				t.Errorf("%q: Patient.name %+v", label, p.Name)
			}
		}
	}
}
