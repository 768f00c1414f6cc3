package hl7v2

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// mustEncode encodes s with e, failing the test when it cannot.
func mustEncode(t *testing.T, e encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encoding %q: %v", s, err)
	}
	return b
}

// hl7Escapes rewrites raw ISO 2022 text (ESC designations, as x/text's
// ISO-2022-JP encoder writes them) into HL7 text: each designation becomes
// \Cxxyy\ or \Mxxyyzz\ and, inside a designation, bytes that are HL7
// delimiters become their escapes.
func hl7Escapes(b []byte) string {
	var out strings.Builder
	switched := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == asciiEsc {
			n := 2
			if b[i+1] == '$' && (b[i+2] == '(' || b[i+2] == ')') {
				n = 3
			}
			code := byte('C')
			if b[i+1] == '$' {
				code = 'M'
			}
			fmt.Fprintf(&out, "\\%c%X\\", code, b[i+1:i+1+n])
			switched = string(b[i+1:i+1+n]) != "(B"
			i += n
			continue
		}
		if e := strings.IndexByte("|^&~\\", c); switched && e >= 0 {
			out.WriteString([]string{`\F\`, `\S\`, `\T\`, `\R\`, `\E\`}[e])
			continue
		}
		out.WriteByte(c)
	}
	return out.String()
}

// sevenBit turns EUC bytes into their 7-bit ISO 2022 form, dropping EUC-JP's
// single-shift prefixes.
func sevenBit(b []byte) string {
	var out []byte
	for _, c := range b {
		if c == 0x8e || c == 0x8f {
			continue
		}
		out = append(out, c&0x7f)
	}
	return string(out)
}

// escapeRun writes the HL7 delimiters among 7-bit ISO 2022 bytes as
// escapes ("ﾞ" is 0x5E, '^', in JIS X 0201).
func escapeRun(s string) string {
	return strings.NewReplacer(`\`, `\E\`, "|", `\F\`, "^", `\S\`, "&", `\T\`, "~", `\R\`).Replace(s)
}

func charsetMsg(msh18 string, pid5 string) []byte {
	return []byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||" + msh18 + "\rPID|1||1^^^H^MR||" + pid5 + "\r")
}

// TestCharsetSwitches decodes PID-5 written with HL7 character set switch
// escapes, built from x/text's own encoders.
func TestCharsetSwitches(t *testing.T) {
	jisFamily := hl7Escapes(mustEncode(t, japanese.ISO2022JP, "山田"))
	jisGiven := hl7Escapes(mustEncode(t, japanese.ISO2022JP, "太郎"))
	// Greek capital alpha is JIS X 0208 0x2621: its first byte is '&'.
	jisGreek := hl7Escapes(mustEncode(t, japanese.ISO2022JP, "Αさん"))
	eucJP212 := mustEncode(t, japanese.EUCJP, "丂")
	if eucJP212[0] != 0x8f {
		t.Fatalf("丂 is not JIS X 0212 in EUC-JP: % x", eucJP212)
	}
	cases := []struct {
		name, msh18 string
		pid5        string
		want        []string // PID-5 components 1 and 2
	}{
		{"jis-x-0208", "ISO IR6~ISO IR87", jisFamily + "^" + jisGiven, []string{"山田", "太郎"}},
		{"jis-x-0208-delimiter-bytes", "ISO IR6~ISO IR87", jisGreek + "^x", []string{"Αさん", "x"}},
		{"jis-x-0208-1978", "", `\M2440\` + sevenBit(mustEncode(t, japanese.EUCJP, "山")) + `\C2842\`, []string{"山", ""}},
		{"jis-x-0212", "ISO IR6~ISO IR159", `\M242844\` + sevenBit(eucJP212) + `\C2842\ok`, []string{"丂ok", ""}},
		{"jis-x-0201-roman", "ISO IR6~ISO IR14", `\C284A\Yamada\C2842\`, []string{"Yamada", ""}},
		{"jis-x-0201-katakana", "ISO IR6~ISO IR13", `\C2849\` + escapeRun(sevenBit(mustEncode(t, japanese.EUCJP, "ﾔﾏﾀﾞ"))) + `\C2842\`, []string{"ﾔﾏﾀﾞ", ""}},
		{"jis-x-0201-katakana-g1", "ISO IR6~ISO IR13", `\C2949\` + "\xd4\xcf\xc0\xde", []string{"ﾔﾏﾀﾞ", ""}},
		{"iso-8859-1-g1", "ISO IR6~ISO IR100", `\C2D41\` + "M\xfcller" + `\C2842\`, []string{"Müller", ""}},
		{"iso-8859-5-g1", "ISO IR6~ISO IR144", "Ivan^" + `\C2D4C\` + string(mustEncode(t, charmap.ISO8859_5, "Иван")), []string{"Ivan", "Иван"}},
		{"iso-8859-5-labelled-latin1", "8859/1~ISO IR144", `\C2D4C\` + string(mustEncode(t, charmap.ISO8859_5, "Иван")) + `\C2D41\` + "\xe9", []string{"Иванé", ""}},
		{"ks-x-1001-g1", "ISO IR6~KS X 1001", `\M242943\` + string(mustEncode(t, korean.EUCKR, "홍길동")) + `\C2842\`, []string{"홍길동", ""}},
		{"ks-x-1001-g0", "ISO IR6~KS X 1001", `\M242843\` + sevenBit(mustEncode(t, korean.EUCKR, "홍")), []string{"홍", ""}},
		{"gb-2312-g0", "ISO IR6~GB 18030-2000", `\M2441\` + sevenBit(mustEncode(t, simplifiedchinese.GBK, "王小明")) + `\C2842\`, []string{"王小明", ""}},
		{"gb-2312-g1", "ISO IR6~GB 18030-2000", `\M242941\` + string(mustEncode(t, simplifiedchinese.GBK, "王小明")), []string{"王小明", ""}},
		{"hex-inside-run", "ISO IR6~ISO IR87", `\M2442\;3\X45\D\C2842\`, []string{"山田", ""}},
		{"switch-ends-at-component", "ISO IR6~ISO IR87", `\M2442\;3ED^;3ED`, []string{"山田", ";3ED"}},
		{"switch-ends-at-subcomponent", "ISO IR6~ISO IR87", `\M2442\;3ED&;3ED`, []string{"山田&;3ED", ""}},
		{"ascii-switch-alone", "", `\C2842\Doe^John`, []string{"Doe", "John"}},
		{"locally-defined-dropped", "", `Doe\Zxy\^John`, []string{"Doe", "John"}},
		{"other-escapes-after-switch-back", "", `\M2442\;3ED\C2842\\S\x\.br\`, []string{"山田^x\n", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(charsetMsg(c.msh18, c.pid5))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.CharsetSwitchError(); err != nil {
				t.Errorf("CharsetSwitchError: %v", err)
			}
			pid, _ := m.Segment("PID")
			name := pid.Field(5)
			var leaves []string
			for i, want := range c.want {
				got := name.Comp(i + 1).String()
				if got != want {
					t.Errorf("PID-5-%d = %q, want %q", i+1, got, want)
				}
				leaves = append(leaves, got)
			}
			// The whole field reads as its leaves joined: a switch ends
			// at a delimiter whichever level is read.
			if c.want[1] != "" {
				if got, want := name.Rep(1).String(), strings.Join(leaves, "^"); got != want {
					t.Errorf("PID-5 whole = %q, want %q", got, want)
				}
			}
		})
	}
}

// TestCharsetSwitchMalformed: a switch that cannot be read is kept as
// written, like any unreadable escape, the text after it is read in the
// default character set, and CharsetSwitchError names it.
func TestCharsetSwitchMalformed(t *testing.T) {
	for _, c := range []struct {
		pid5, want, reason string
	}{
		{`\C28\Doe`, `\C28\Doe`, "malformed"},
		{`\M24\Doe`, `\M24\Doe`, "malformed"},
		{`\M24424\Doe`, `\M24424\Doe`, "malformed"},
		{`\C2G42\Doe`, `\C2G42\Doe`, "malformed"},
		{`\C2D4E\Doe`, `\C2D4E\Doe`, "unknown character set (ESC - N)"},
		{`\M242947\Doe`, `\M242947\Doe`, "unknown character set (ESC $ ) G)"},
		{`\M2442\;3ED\C2D4E\Doe`, `山田\C2D4E\Doe`, "unknown character set (ESC - N)"},
		{`\M2442\;3ED\Q\;3`, `山田\Q\山`, ""},    // the switch outlasts an unknown escape
		{`\M2442\;3ED\C2842`, `山田\C2842`, ""}, // unterminated: kept
		{`\M2442`, `\M2442`, ""},
	} {
		m, err := Parse(charsetMsg("ISO IR6~ISO IR87", c.pid5))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Get("PID-5-1"); got != c.want {
			t.Errorf("%q: PID-5-1 = %q, want %q", c.pid5, got, c.want)
		}
		err = m.CharsetSwitchError()
		if c.reason == "" {
			if err != nil {
				t.Errorf("%q: CharsetSwitchError %v, want nil", c.pid5, err)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Segment != 2 || pe.Name != "PID" || pe.Field != 5 || !strings.Contains(pe.Reason, c.reason) {
			t.Errorf("%q: CharsetSwitchError = %v, want PID-5 (segment 2) %q", c.pid5, err, c.reason)
		}
	}
	// MSH-2 holds the escape character without being an escape.
	m := mustParse(t, "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||1||\\C2842\\Doe\\E\\\\M2442\\;3\r")
	if err := m.CharsetSwitchError(); err != nil {
		t.Errorf("readable switches reported: %v", err)
	}
}

// TestRawISO2022: senders that write the ISO 2022 designations as raw ESC
// bytes (MSH-20 "ISO 2022-1994") are decoded before the delimiters are
// found, whether MSH-18 names ISO IR87 first or as an alternate.
func TestRawISO2022(t *testing.T) {
	// "Α" (JIS X 0208 0x2621) carries an '&' byte, "ー" (0x213C) a '<'.
	family := string(mustEncode(t, japanese.ISO2022JP, "山田Α"))
	given := string(mustEncode(t, japanese.ISO2022JP, "太郎ー"))
	for _, msh18 := range []string{"ISO IR87", "ISO IR6~ISO IR87", "~ISO IR87", "ISO IR6~ISO IR159"} {
		raw := charsetMsg(msh18, family+"^"+given+"^Q")
		m, err := Parse(raw)
		if err != nil {
			t.Fatalf("%q: %v", msh18, err)
		}
		if got := [3]string{m.Get("PID-5-1"), m.Get("PID-5-2"), m.Get("PID-5-3")}; got != [3]string{"山田Α", "太郎ー", "Q"} {
			t.Errorf("%q: PID-5 = %q (decoding %s)", msh18, got, m.Decoding())
		}
	}
	// A designation lasts to the end of its segment at most, and an
	// unknown one leaves U+FFFD for its ESC.
	m := mustParse(t, string(charsetMsg("ISO IR6~KS X 1001", "\x1b$)C"+string(mustEncode(t, korean.EUCKR, "홍"))+"^\x1b-Zx"))+"NTE|1||\xe9\r")
	if got := [3]string{m.Get("PID-5-1"), m.Get("PID-5-2"), m.Get("NTE-3")}; got != [3]string{"홍", "\ufffd-Zx", "é"} {
		t.Errorf("raw KS X 1001 = %q", got)
	}
	// Without alternates in MSH-18 the bytes are read as before.
	m = mustParse(t, string(charsetMsg("UNICODE UTF-8", "a\x1bb")))
	if m.Get("PID-5-1") != "a\x1bb" || m.Decoding() != "ascii" {
		t.Errorf("unlabelled ESC = %q (%s)", m.Get("PID-5-1"), m.Decoding())
	}
}

// TestEncodeKeepsNonASCII: outbound text (ACKs) is written as UTF-8 and
// only delimiters and control characters are escaped.
func TestEncodeKeepsNonASCII(t *testing.T) {
	if got := DefaultDelimiters.Encode("山田^太郎 Müller"); got != `山田\S\太郎 Müller` {
		t.Errorf("Encode = %q", got)
	}
}

// TestStringNoEscapeAllocs: a value without an escape character is read
// without allocating, and one with escapes but no switch allocates what it
// did before switches were decoded (the decoded bytes and the string).
func TestStringNoEscapeAllocs(t *testing.T) {
	m := mustParse(t, adt)
	pid, _ := m.Segment("PID")
	v := pid.Field(5).Comp(1)
	if n := testing.AllocsPerRun(100, func() { _ = v.String() }); n != 0 {
		t.Errorf("plain value: %v allocs", n)
	}
	m = mustParse(t, "MSH|^~\\&|A\rNTE|1||a\\S\\b\\.br\\c\r")
	nte, _ := m.Segment("NTE")
	v = nte.Field(3)
	if n := testing.AllocsPerRun(100, func() { _ = v.String() }); n != 2 {
		t.Errorf("escaped value: %v allocs, want 2", n)
	}
}

// TestEmptyEscapeInSwitchedRun: two escape characters in a row inside a
// switched run (found by FuzzRead; it indexed the empty sequence and
// panicked) are kept as written, as they are outside a run, and the run
// goes on after them.
func TestEmptyEscapeInSwitchedRun(t *testing.T) {
	m := mustParse(t, string(charsetMsg("ISO IR6~ISO IR87", `\M2442\;3\\ED\C2842\x^\M2442\\\`)))
	if got, want := m.Get("PID-5-1"), `山\\田x`; got != want {
		t.Errorf("PID-5-1 = %q, want %q", got, want)
	}
	if got, want := m.Get("PID-5-2"), `\\`; got != want {
		t.Errorf("PID-5-2 = %q, want %q", got, want)
	}
	if err := m.CharsetSwitchError(); err != nil {
		t.Errorf("CharsetSwitchError: %v", err)
	}
}
