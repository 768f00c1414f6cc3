package hl7v2

import (
	"errors"
	"strings"
	"testing"
)

// TestCharsetErrorUnknownLabel: an MSH-18 label ferry does not know on
// bytes that are neither ASCII nor UTF-8 is read as an unlabelled message
// is (so that an acknowledgement so labelled can still be read), and
// CharsetError reports it at MSH-18, naming the label. ASCII or UTF-8
// under such a label, an unlabelled windows-1252 message (MSH-18 empty or
// the explicit null "") and a known label (the ISO-8859-n spellings among
// them) are no error.
func TestCharsetErrorUnknownLabel(t *testing.T) {
	head := "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|K1|P|2.5.1||||||"
	m, err := Parse([]byte(head + "KOI8-R\rPID|1||1||\xf0\xc5\xd4\xd2\xcf\xd7\r"))
	if err != nil {
		t.Fatal(err)
	}
	var pe *ParseError
	if err := m.CharsetError(); !errors.As(err, &pe) || pe.Segment != 1 || pe.Field != 18 || !strings.Contains(pe.Reason, `"KOI8-R"`) {
		t.Errorf("CharsetError = %v, want one at MSH-18 naming KOI8-R", err)
	}
	for _, c := range []struct{ msh18, name, want string }{
		{"KOI8-R", "Petrov", "Petrov"},
		{"KOI8-R", "Петров", "Петров"},
		{"", "\xc9mile", "Émile"},
		{`""`, "\xc9mile", "Émile"}, // HL7's explicit null: not labelled
		{"ISO-8859-2", "\xa3ukasz", "Łukasz"},
		{"iso-8859-15", "\xa4", "€"},
	} {
		m, err := Parse([]byte(head + c.msh18 + "\rPID|1||1||" + c.name + "\r"))
		if err != nil {
			t.Fatalf("%q %q: %v", c.msh18, c.name, err)
		}
		if got := m.Get("PID-5-1"); got != c.want || m.CharsetError() != nil {
			t.Errorf("%q %q: PID-5.1 %q (CharsetError %v), want %q", c.msh18, c.name, got, m.CharsetError(), c.want)
		}
	}
}
