package hl7v2

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// ERR-8 (and MSA-3 before v2.5) is written in the character set the ACK
// declares in MSH-18, the message's: the bytes of a single-byte set, UTF-8
// under a UTF-8 label, and ASCII otherwise (no label: HL7's default; an
// unknown or multi-byte one), each character the set lacks as '?'.
func TestAckTextInDeclaredCharset(t *testing.T) {
	reason := &AckError{Code: CodeAE, ErrCode: ErrTableValue, Segment: "PID", Field: 8, Text: "Müller: sex “X” costs 5 € – ok"}
	for _, c := range []struct {
		msh18, version string
		want           string
	}{
		{"8859/1", "2.5.1", "M\xfcller: sex ?X? costs 5 ? ? ok"},
		{"WINDOWS-1252", "2.5.1", "M\xfcller: sex \x93X\x94 costs 5 \x80 \x96 ok"},
		{"8859/15", "2.5.1", "M\xfcller: sex ?X? costs 5 \xa4 ? ok"},
		{"UNICODE UTF-8", "2.5.1", "Müller: sex “X” costs 5 € – ok"},
		{"", "2.5.1", "M?ller: sex ?X? costs 5 ? ? ok"},
		{"ASCII", "2.5.1", "M?ller: sex ?X? costs 5 ? ? ok"},
		{"SHIFT_JIS", "2.5.1", "M?ller: sex ?X? costs 5 ? ? ok"},
		{"NO SUCH SET", "2.5.1", "M?ller: sex ?X? costs 5 ? ? ok"},
		{"8859/1~ISO IR87", "2.5.1", "M\xfcller: sex ?X? costs 5 ? ? ok"},
		{"8859/1", "2.4", "M\xfcller: sex ?X? costs 5 ? ? ok"},
	} {
		m := "MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01^ADT_A01|C\xe91|P|" + c.version + "||||||" + c.msh18 + "\rPID|1\r"
		a := BuildAck([]byte(m), reason, "X", time.Now())
		var text string
		for _, seg := range bytes.Split(a.Bytes, []byte("\r")) {
			f := strings.Split(string(seg), "|")
			switch {
			case f[0] == "ERR" && len(f) > 8:
				text = f[8]
			case f[0] == "MSA" && len(f) > 3 && c.version == "2.4":
				text = f[3]
			}
		}
		if text != c.want {
			t.Errorf("MSH-18 %q, v%s: text %q, want %q", c.msh18, c.version, text, c.want)
		}
		// The header fields copied from the message keep its bytes.
		if !bytes.Contains(a.Bytes, []byte("MSA|AE|C\xe91")) {
			t.Errorf("MSH-18 %q: MSA-2 changed: %q", c.msh18, a.Bytes)
		}
		if ascii := strings.HasPrefix(c.want, "M?"); ascii && strings.IndexFunc(text, func(r rune) bool { return r >= utf8.RuneSelf }) >= 0 {
			t.Errorf("MSH-18 %q: not ASCII: %q", c.msh18, text)
		}
	}
}
