package hl7v2

import (
	"errors"
	"testing"
)

// TestBackslashTextIsNoCharsetSwitch: a sender that does not escape the
// backslashes its users type (a problem list written HTN\CAD\DM, a
// document's path \\srv\Clinical\scan.pdf) puts escapes such as \CAD\ or
// \Clinical\ in its messages. A character set switch is \C and four hex
// digits or \M and four or six (HL7 v2.5 §2.7.2: "\Cxxyy\ single-byte
// character set escape sequence with two hexadecimal values, xx and
// yy"), to one of the sets MSH-18 names; in a message whose MSH-18 names
// no alternate set these are none, and were yet taken for malformed
// switches, so the whole message (an ORU with its results, an ADT) was
// refused with AE and quarantined as "character set escape \CAD\
// malformed". They are escapes ferry does not know, kept as written like
// any other. A switch written as one is still read, and one to a set
// ferry does not know still refused; under MSH-18 alternates, where a
// sender does switch, a malformed one is still refused
// (TestCharsetSwitchMalformed).
func TestBackslashTextIsNoCharsetSwitch(t *testing.T) {
	for _, msh18 := range []string{"", "UNICODE UTF-8", "ISO IR6"} {
		m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5||||||" + msh18 + "\r" +
			"PID|1||1^^^H^MR||\\M2442\\;3ED\\C2842\\ \\Clinic\\^Taro\r" +
			"NTE|1||Hx HTN\\CAD\\DM, c\\o pain\r" +
			"OBX|1|RP|DOC||\\E\\\\E\\srv\\Clinical\\scan.pdf~\\MRI\\ and \\Medical\\ records~\\Cardio\\\r"))
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]string{
			"NTE-3":    `Hx HTN\CAD\DM, c\o pain`,
			"OBX-5(1)": `\\srv\Clinical\scan.pdf`,
			"OBX-5(2)": `\MRI\ and \Medical\ records`,
			"OBX-5(3)": `\Cardio\`,
			"PID-5-1":  `山田 \Clinic\`,
			"PID-5-2":  "Taro",
		} {
			if got := m.Get(path); got != want {
				t.Errorf("%q: %s = %q, want %q", msh18, path, got, want)
			}
		}
		if err := m.CharsetError(); err != nil {
			t.Errorf("%q: CharsetError: %v", msh18, err)
		}
	}
	m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5\rNTE|1||HTN\\CAD\\DM \\C2D4E\\x\r"))
	if err != nil {
		t.Fatal(err)
	}
	var pe *ParseError
	if err := m.CharsetError(); !errors.As(err, &pe) || pe.Name != "NTE" || pe.Field != 3 {
		t.Errorf("a switch to an unknown set: CharsetError %v, want NTE-3", err)
	}
}
