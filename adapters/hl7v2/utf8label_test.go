package hl7v2

import "testing"

// TestUTF8UnderSingleByteLabel: a system moved to UTF-8 that still labels
// its messages 8859/1 (or another single-byte set) sends bytes that are
// valid UTF-8 with multi-byte sequences, which text in a single-byte set
// practically never is (an accented capital followed by a symbol or a C1
// control, for every non-ASCII byte of the message). Read in the label's
// set they were mojibake: Müller went to the exchange as MÃ¼ller, and
// Jürgen Öz (0x96, a C1 byte, in Ö's UTF-8) as JÃ¼rgen Ã–z. Such a
// message is read as UTF-8; text really in the labelled set reads as
// before.
func TestUTF8UnderSingleByteLabel(t *testing.T) {
	for _, c := range []struct{ msh18, name, want, dec string }{
		{"8859/1", "M\xc3\xbcller", "Müller", "utf-8"},
		{"8859/1", "\xc3\x96z^J\xc3\xbcrgen", "Öz", "utf-8"},
		{"8859/1", "M\xc3\xbcller \\XC3A9\\", "Müller é", "utf-8"}, // its hex escapes are UTF-8 too
		{"ISO IR100", "\xe2\x82\xac", "€", "utf-8"},
		{"8859/15", "\xe2\x82\xac", "€", "utf-8"},
		{"8859/5", "\xd0\x9f\xd0\xb5\xd1\x82\xd1\x80\xd0\xbe\xd0\xb2", "Петров", "utf-8"},
		{"8859/1", "M\xfcller", "Müller", "iso-8859-1"},
		{"8859/1", "O\x92Brien", "O’Brien", "windows-1252 (fallback)"},
		{"8859/5", "\xbf\xd5\xe2\xe0\xde\xd2", "Петров", "iso-8859-5"},
		{"8859/15", "\xa4", "€", "iso-8859-15"},
	} {
		m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||" + c.msh18 + "\rPID|1||1||" + c.name + "\r"))
		if err != nil {
			t.Fatalf("%s %q: %v", c.msh18, c.name, err)
		}
		if got := m.Get("PID-5-1"); got != c.want || m.Decoding() != c.dec {
			t.Errorf("%s %q: PID-5.1 %q decoded %s, want %q decoded %s", c.msh18, c.name, got, m.Decoding(), c.want, c.dec)
		}
	}
}
