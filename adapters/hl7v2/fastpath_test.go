package hl7v2

import (
	"bytes"
	"slices"
	"testing"
)

// TestRepsSeqMatchesReps: RepsSeq yields what Reps returns, on fields,
// narrower values and odd delimiters, and stops when the loop does.
func TestRepsSeqMatchesReps(t *testing.T) {
	msgs := []string{
		adt,
		"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||12^^^H&1.2&ISO^MR~34^^^X~~|~|Doe^Jane~~Roe\rZZZ|a~b~c~d~e~f~g~h~i~j~k~l~m~n~o~p~q~r~s~t~u~v~w~x~y~z~a~b~c~d~e~f~g~h~i~j~k~l~m~n~o~p~q~r~s~t~u~v~w~x~y~z|\"\"",
		"MSH|^",
	}
	for _, raw := range msgs {
		m, err := Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range m.Segments() {
			for n := 1; n <= s.NumFields()+1; n++ {
				f := s.Field(n)
				for _, v := range []Value{f, f.Rep(1), f.Comp(1), f.Sub(1)} {
					var got []Value
					for r := range v.RepsSeq() {
						got = append(got, r)
					}
					want := v.Reps()
					if !slices.EqualFunc(got, want, func(a, b Value) bool { return string(a.raw) == string(b.raw) && a.level == b.level && a.d == b.d }) {
						t.Errorf("%s-%d: RepsSeq %v, Reps %v", s.Name, n, got, want)
					}
					for r := range v.RepsSeq() {
						if len(want) == 0 || string(r.raw) != string(want[0].raw) {
							t.Errorf("%s-%d: first of RepsSeq %q", s.Name, n, r.raw)
						}
						break
					}
				}
			}
		}
	}
}

// TestCharsetLabel: MSH-18 is kept as written and read whatever its case
// and padding; the decoding follows it.
func TestCharsetLabel(t *testing.T) {
	for _, c := range []struct {
		msh18, body, charset, decoded string
	}{
		{"", "Doe", "", "ascii"},
		{"UNICODE UTF-8", "Doe", "UNICODE UTF-8", "ascii"},
		{" unicode utf-8 ", "Dö", "unicode utf-8", "utf-8"},
		{"8859/1", "D\xf6", "8859/1", "iso-8859-1"},
		{"iso ir100^x~y", "D\xf6", "iso ir100", "iso-8859-1"},
		{"Latin1", "D\xf6", "Latin1", "iso-8859-1"},
		{"UNKNOWN-SET", "D\xf6", "UNKNOWN-SET", "windows-1252 (fallback)"},
		{"l\xe4tin", "D\xf6", "l\xe4tin", "windows-1252 (fallback)"},
		{"a-very-long-character-set-label-beyond-32-bytes", "Doe", "a-very-long-character-set-label-beyond-32-bytes", "ascii"},
	} {
		raw := "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||" + c.msh18 + "\r\nPID|1||" + c.body
		m, err := Parse([]byte(raw))
		if err != nil {
			t.Fatalf("%q: %v", c.msh18, err)
		}
		if m.Charset() != c.charset || m.Decoding() != c.decoded {
			t.Errorf("%q: Charset %q Decoding %q, want %q %q", c.msh18, m.Charset(), m.Decoding(), c.charset, c.decoded)
		}
	}
}

// TestParseSharedMatchesParse: ParseShared reads every message exactly as
// Parse does, and uses the input in place only when it is already what
// Parse's copy would be (ASCII or UTF-8, CR alone between segments).
func TestParseSharedMatchesParse(t *testing.T) {
	for _, c := range []struct {
		raw    string
		shared bool
	}{
		{adt, true},
		{"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||Dö\r", true},
		{"\x0bMSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||x\r\x1c\r", true},
		{"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r\nPID|1||x\r\n", false},
		{"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\nPID|1||x", false},
		{"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||8859/1\rPID|1||D\xf6", false},
		{"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||D\xf6", false}, // windows-1252 fallback
	} {
		raw := []byte(c.raw)
		want, err := Parse(slices.Clone(raw))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseShared(raw)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Bytes()) != string(want.Bytes()) || got.Charset() != want.Charset() || got.Decoding() != want.Decoding() || len(got.Segments()) != len(want.Segments()) {
			t.Errorf("%q: ParseShared differs from Parse", c.raw)
		}
		for i, s := range got.Segments() {
			if w := want.Segments()[i]; s.Name != w.Name || string(s.Raw()) != string(w.Raw()) || s.NumFields() != w.NumFields() {
				t.Errorf("%q: segment %d %q, Parse %q", c.raw, i+1, s.Raw(), w.Raw())
			}
		}
		b := got.Bytes()
		inPlace := &b[0] == &raw[bytes.Index(raw, []byte("MSH"))]
		if inPlace != c.shared {
			t.Errorf("%q: in place %v, want %v", c.raw, inPlace, c.shared)
		}
		if inPlace && cap(b) != len(b) {
			t.Errorf("%q: Bytes has capacity %d past its length %d: an append would write into the input", c.raw, cap(b), len(b))
		}
	}
}
