package hl7v2

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const adt = "MSH|^~\\&|EPIC|HOSP^1.2.3^ISO|FERRY|HIE|20240102030405||ADT^A01^ADT_A01|MSG00001|P|2.5.1|||AL|NE||UNICODE UTF-8\r" +
	"EVN|A01|20240102030405\r" +
	"PID|1||12345^^^HOSP^MR~999-99-9999^^^SSA^SS||Doe^John^Q^Jr^Dr||19800101|M|||1 Main St^Apt 2^Springfield^IL^62701||(555)555-1234\r" +
	"PV1|1|I|W^101^A\r" +
	"ZPI|custom|data\r"

func mustParse(t *testing.T, s string) *Message {
	t.Helper()
	m, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func TestParseBasics(t *testing.T) {
	m := mustParse(t, adt)
	if got := len(m.Segments()); got != 5 {
		t.Fatalf("segments = %d, want 5", got)
	}
	checks := map[string]string{
		"MSH-1":      "|",
		"MSH-2":      "^~\\&",
		"MSH-3":      "EPIC",
		"MSH-4":      "HOSP^1.2.3^ISO",
		"MSH-4-2":    "1.2.3",
		"MSH-9-2":    "A01",
		"MSH.10":     "MSG00001",
		"PID-3":      "12345^^^HOSP^MR",
		"PID-3-1":    "12345",
		"PID-3(2)-1": "999-99-9999",
		"PID-3(2)-5": "SS",
		"PID-3(3)-1": "",
		"PID-5-2":    "John",
		"PID-11-3":   "Springfield",
		"PV1-3-2":    "101",
		"ZPI-2":      "data",
		"PID[1]-7":   "19800101",
		"PID[2]-7":   "",
		"XXX-1":      "",
		"PID-5-1-1":  "Doe",
		"PID-5-1-2":  "",
		"bogus":      "",
		"PID-":       "",
		"PID-3(0)":   "",
	}
	for path, want := range checks {
		if got := m.Get(path); got != want {
			t.Errorf("Get(%q) = %q, want %q", path, got, want)
		}
	}
	typ := m.Type()
	if typ != (MessageType{"ADT", "A01", "ADT_A01"}) || typ.String() != "ADT^A01^ADT_A01" {
		t.Errorf("Type = %+v", typ)
	}
	if m.ControlID() != "MSG00001" || m.Version() != "2.5.1" || m.SendingApp() != "EPIC" ||
		m.SendingFacility() != "HOSP" || m.ReceivingApp() != "FERRY" || m.ReceivingFacility() != "HIE" ||
		m.AcceptAckType() != "AL" || m.AppAckType() != "NE" || m.Charset() != "UNICODE UTF-8" ||
		m.ProcessingID() != "P" || m.Timestamp() != "20240102030405" || !m.EnhancedMode() {
		t.Errorf("MSH helpers wrong: %s %s %s %s", m.ControlID(), m.Version(), m.AcceptAckType(), m.Charset())
	}
	pid, ok := m.Segment("PID")
	if !ok || pid.Pos() != 3 {
		t.Fatalf("Segment(PID) = %v %v", pid.Pos(), ok)
	}
	reps := pid.Field(3).Reps()
	if len(reps) != 2 || reps[1].Get(4) != "SSA" || pid.Field(3).NumReps() != 2 {
		t.Errorf("PID-3 reps = %d", len(reps))
	}
	if n := pid.NumFields(); n != 13 {
		t.Errorf("PID NumFields = %d", n)
	}
	if n := m.MSH().NumFields(); n != 18 {
		t.Errorf("MSH NumFields = %d", n)
	}
	if z := m.All("ZPI"); len(z) != 1 || z[0].Get(1) != "custom" {
		t.Errorf("Z-segment lost")
	}
	var missing Segment
	if missing.Field(3).Get(1) != "" || missing.NumFields() != 0 {
		t.Error("zero Segment not empty")
	}
}

func TestLineEndingsBOMAndFraming(t *testing.T) {
	base := mustParse(t, adt)
	variants := map[string]string{
		"lf":      strings.ReplaceAll(adt, "\r", "\n"),
		"crlf":    strings.ReplaceAll(adt, "\r", "\r\n"),
		"bom":     "\xef\xbb\xbf" + adt,
		"mllp":    "\x0b" + adt + "\x1c\r",
		"blank":   strings.ReplaceAll(adt, "\r", "\r\n\n"),
		"noFinal": strings.TrimSuffix(adt, "\r"),
	}
	for name, v := range variants {
		m := mustParse(t, v)
		for i, s := range m.Segments() {
			if i < len(base.Segments()) && !bytes.Equal(s.Raw(), base.Segments()[i].Raw()) {
				t.Errorf("%s: segment %d = %q", name, i+1, s.Raw())
			}
		}
		if len(m.Segments()) != 5 {
			t.Errorf("%s: %d segments", name, len(m.Segments()))
		}
	}
}

func TestCustomDelimitersAndTruncation(t *testing.T) {
	m := mustParse(t, "MSH*!@$%#*APP*FAC*****ORU!R01*1*P*2.7\rPID*1**A1%B1!!!AUTH@ID2!!!X*\rNTE*1**a$F$b$S$c$R$d$T$e$E$f$P$g\r")
	d := m.Delimiters()
	if d != (Delimiters{'*', '!', '@', '$', '%', '#'}) {
		t.Fatalf("delimiters = %+v", d)
	}
	if m.Get("MSH-2") != "!@$%#" || m.Type().Trigger != "R01" || m.Get("MSH-12") != "2.7" {
		t.Errorf("MSH read wrong: %q %+v", m.Get("MSH-2"), m.Type())
	}
	if m.Get("PID-3-1-2") != "B1" || m.Get("PID-3(2)-1") != "ID2" || m.Get("PID-3-4") != "AUTH" {
		t.Errorf("PID-3 = %q %q", m.Get("PID-3-1-2"), m.Get("PID-3(2)-1"))
	}
	if got := m.Get("NTE-3"); got != "a*b!c@d%e$f#g" {
		t.Errorf("escapes with custom delimiters = %q", got)
	}
}

func TestEscapes(t *testing.T) {
	m := mustParse(t, "MSH|^~\\&|A\rNTE|1||"+
		`a\F\b\S\c\T\d\R\e\E\f\.br\g\X41C3A9\h\H\bold\N\\.sp2\i\Zlocal\\.in+4\j\Q\k\X4\l\unterminated`+"\r")
	want := "a|b^c&d~e\\f\ngAéhbold\n\nij\\Q\\k\\X4\\l\\unterminated"
	if got := m.Get("NTE-3"); got != want {
		t.Errorf("unescape =\n%q\nwant\n%q", got, want)
	}
	m = mustParse(t, "MSH|^~\\&|A\rNTE|1||caf\\XE9\\\r")
	if got := m.Get("NTE-3"); got != "café" {
		t.Errorf("hex cp1252 = %q", got)
	}
	m = mustParse(t, "MSH|^~\\&|A\rNTE|1|\"\"|x\r")
	if v := m.MSH(); v.Name != "MSH" {
		t.Fatal()
	}
	nte, _ := m.Segment("NTE")
	if !nte.Field(2).IsNull() || nte.Get(2) != "" {
		t.Errorf("explicit null not recognised")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, d := range []Delimiters{DefaultDelimiters, {'*', '!', '@', '$', '%', '#'}} {
		in := "a|b^c&d~e\\f\ng*h!i@j$k%l#m\x01"
		enc := d.Encode(in)
		b := NewBuilder(d).MSH("APP").Segment("NTE", "1", "", enc)
		m, err := Parse(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Get("NTE-3"); got != in {
			t.Errorf("%+v: round trip = %q, want %q (encoded %q)", d, got, in, enc)
		}
		if d.Encode("plain") != "plain" {
			t.Error("plain text changed")
		}
	}
	if j := DefaultDelimiters.Join("ADT", "A01", "", ""); j != "ADT^A01" {
		t.Errorf("Join = %q", j)
	}
	out := NewBuilder(Delimiters{}).MSH("A", "B").Segment("MSA", "AA", "1", "", "").Bytes()
	if string(out) != "MSH|^~\\&|A|B\rMSA|AA|1\r" {
		t.Errorf("builder = %q", out)
	}
}

func TestCharsets(t *testing.T) {
	cases := []struct {
		name, msh18 string
		text        []byte
		want, dec   string
	}{
		{"latin1", "8859/1", []byte("M\xfcller"), "Müller", "iso-8859-1"},
		// Labelled Latin-1, written by a Windows system in cp1252: the
		// C1 controls Latin-1 has at 0x80–0x9F are never sent on purpose
		// and would put an invisible character into the patient's name.
		{"latin1-label-cp1252", "8859/1", []byte("O\x92Brien \x93M\xfcller\x94"), "O’Brien “Müller”", "windows-1252 (fallback)"},
		{"latin1-ir100-label-cp1252", "ISO IR100", []byte("\x80 5"), "€ 5", "windows-1252 (fallback)"},
		{"utf8", "UNICODE UTF-8", []byte("Müller"), "Müller", "utf-8"},
		{"unlabelled-utf8", "", []byte("Müller"), "Müller", "utf-8"},
		{"unlabelled-cp1252", "", []byte("\x93M\xfcller\x94"), "“Müller”", "windows-1252 (fallback)"},
		{"ascii-label-cp1252", "ASCII", []byte("M\xfcller"), "Müller", "windows-1252 (fallback)"},
		{"utf8-label-but-latin", "UNICODE UTF-8", []byte("M\xfcller"), "Müller", "windows-1252 (fallback)"},
		{"8859/15", "8859/15", []byte("\xa4"), "€", "iso-8859-15"},
		{"ascii", "", []byte("Muller"), "Muller", "ascii"},
		{"unknown-label", "EBCDIC", []byte("Müller"), "Müller", "utf-8"},
	}
	for _, c := range cases {
		raw := []byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||" + c.msh18 + "\rPID|1||1||")
		raw = append(raw, c.text...)
		raw = append(raw, '\r')
		m, err := Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := m.Get("PID-5"); got != c.want {
			t.Errorf("%s: PID-5 = %q, want %q", c.name, got, c.want)
		}
		if m.Decoding() != c.dec {
			t.Errorf("%s: decoding = %q, want %q", c.name, m.Decoding(), c.dec)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"":                            "not an hl7",
		"hello":                       "not an hl7",
		"MSH":                         "too short",
		"MSHA^~\\&|":                  "field separator",
		"MSH|^^\\&|":                  "repeated delimiter",
		"MSH||":                       "encoding characters",
		"MSH|^~\\&|A\rPID|1\rpid|2\r": "segment 3",
		"MSH|^~\\&|A\rTOOLONG|1\r":    "invalid segment name",
		"BHS|^~\\&\rMSH|^~\\&|A\r":    "use SplitBatch",
		"MSH|^~\\&|A\rMSH*^~\\&*A\r":  "field separator differs",
	}
	for in, want := range cases {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want containing %q", in, err, want)
		}
	}
	_, err := Parse([]byte("hello"))
	if !errors.Is(err, ErrNotHL7) {
		t.Errorf("not wrapped: %v", err)
	}
	_, err = Parse([]byte("MSH|^~\\&|A\rPID|1\r12|x\r"))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Segment != 3 {
		t.Errorf("ParseError = %#v", err)
	}
}

func TestSplitBatch(t *testing.T) {
	m1 := "MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\rPID|1||1\r"
	m2 := "MSH|^~\\&|A|B|||||ADT^A08|2|P|2.5\rPID|1||2\rZZZ|x\r"
	cases := map[string]struct {
		in   string
		want []string
	}{
		"full":       {"FHS|^~\\&|A\rBHS|^~\\&|A\r" + m1 + m2 + "BTS|2\rFTS|1\r", []string{m1, m2}},
		"bare":       {m1 + m2, []string{m1, m2}},
		"bom+lf":     {"\xef\xbb\xbf" + strings.ReplaceAll(m1+m2, "\r", "\n"), []string{strings.ReplaceAll(m1, "\r", "\n"), strings.ReplaceAll(m2, "\r", "\n")}},
		"empty":      {"FHS|^~\\&\rBHS|^~\\&\rBTS|0\rFTS|1\r", nil},
		"blanklines": {m1 + "\r\n\r\n" + m2 + "\n", []string{m1 + "\r\n\r\n", m2 + "\n"}},
		"two":        {"BHS|^~\\&\r" + m1 + "BTS|1\rBHS|^~\\&\r" + m2 + "BTS|1\r", []string{m1, m2}},
	}
	for name, c := range cases {
		got, err := SplitBatch([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %d messages, want %d", name, len(got), len(c.want))
			continue
		}
		for i := range got {
			if string(got[i]) != c.want[i] {
				t.Errorf("%s[%d] = %q, want %q", name, i, got[i], c.want[i])
			}
			if _, err := Parse(got[i]); err != nil {
				t.Errorf("%s[%d]: %v", name, i, err)
			}
		}
	}
	for in, want := range map[string]string{
		"BHS|^~\\&\r" + m1 + "BTS|3\r": "BTS-1 says 3",
		"PID|1\r" + m1:                 "no MSH segment before line 1",
		m1 + "BTS|1\rPID|1\r":          "outside a message",
		"hello":                        "no MSH",
		"":                             "empty",
	} {
		if _, err := SplitBatch([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SplitBatch(%q) = %v, want %q", in, err, want)
		}
	}
}

// TestSampleMessages parses every message ferry ships in testdata/hl7v2.
func TestSampleMessages(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/hl7v2/*.hl7")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := SplitBatch(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		for _, raw := range msgs {
			if _, err := Parse(raw); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

// TestCorpus parses the shared corpus when it is present (CI has it).
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/corpus/hl7v2/*.hl7")
	if len(files) == 0 {
		t.Skip("shared corpus not present")
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		m, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if m.ControlID() == "" && m.Type().Code == "" {
			t.Errorf("%s: empty header", filepath.Base(f))
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(adt))
	f.Add([]byte("MSH*!@$%#*APP\rPID*1**A1%B1!X\r"))
	f.Add([]byte("FHS|^~\\&\rBHS|^~\\&\r" + adt + "BTS|1\rFTS|1\r"))
	f.Add([]byte("MSH|^~\\&|A\rNTE|1||\\X41\\\\.sp9999\\\\E\\\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if msgs, err := SplitBatch(data); err == nil {
			for _, m := range msgs {
				_, _ = Parse(m)
			}
		}
		m, err := Parse(data)
		if err != nil {
			return
		}
		for _, s := range m.Segments() {
			for i := 0; i <= s.NumFields()+1; i++ {
				f := s.Field(i)
				for _, r := range f.Reps() {
					for c := 1; c < 4; c++ {
						_ = r.Comp(c).String()
						_ = r.Comp(c).Sub(2).String()
					}
				}
				_ = f.String()
			}
		}
		_ = m.Get("PID-3(2)-4-2")
		_ = m.Type()
		d := m.Delimiters()
		s := string(data)
		if len(s) > 64 {
			s = s[:64]
		}
		enc := d.Encode(s)
		if d.Component == 0 || d.Repetition == 0 || d.Escape == 0 || d.Subcomponent == 0 {
			return
		}
		rt, err := Parse(NewBuilder(d).MSH("A").Segment("NTE", enc).Bytes())
		if err != nil {
			t.Fatalf("re-parse of own output: %v", err)
		}
		_ = rt.Get("NTE-1")
	})
}

func BenchmarkParse(b *testing.B) {
	raw := []byte(adt)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		m, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		_ = m.Get("PID-5-1")
	}
}

// TestTextsMatchesText: Texts gives what Text gives component by component,
// on fields, repetitions, components and odd delimiters.
func TestTextsMatchesText(t *testing.T) {
	msgs := []string{
		adt,
		"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||12^^^H&1.2&ISO^MR~34^^^X||Doe^ Jane \\T\\ Co^^^^^L~Roe^R||19800101|F\rZZZ|a^b^^d^^^^^^^^^z| ^ ^ |\"\"|^|~^~|",
		"MSH#!$%&#A#B#C#D#20240101##ADT!A01#1#P#2.5\rPID#1##12!!!H%1.2%ISO!MR$34###Doe!Jane",
	}
	for _, raw := range msgs {
		m, err := Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		for _, seg := range m.Segments() {
			for f := 1; f <= 25; f++ {
				field := seg.Field(f)
				vals := []Value{field, field.Rep(1), field.Rep(2), field.Comp(1), field.Comp(2), field.Comp(1).Sub(2)}
				for _, v := range vals {
					got := make([]string, 12)
					v.Texts(got)
					for i, g := range got {
						if want := v.Text(i + 1); g != want {
							t.Fatalf("%s-%d %q: Texts[%d] = %q, Text(%d) = %q", seg.Name, f, v.Raw(), i, g, i+1, want)
						}
					}
				}
			}
		}
	}
}

// TestIndexEOL agrees with bytes.IndexAny(b, "\r\n").
func TestIndexEOL(t *testing.T) {
	for _, s := range []string{"", "a", "\r", "\n", "ab\rcd\n", "ab\ncd\r", "abc", "\r\n", "\n\r", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", "é\r"} {
		if got, want := indexEOL([]byte(s)), bytes.IndexAny([]byte(s), "\r\n"); got != want {
			t.Errorf("%q: %d, want %d", s, got, want)
		}
	}
}

// TestFieldCompMatchesRepComp: the one-pass Comp on a field gives exactly
// (nil-ness included) what reading the first repetition, then the
// component, gives.
func TestFieldCompMatchesRepComp(t *testing.T) {
	raw := "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||12^^^H&1.2&ISO^MR~34^^^X||Doe^Jane~Roe||19800101|F|^|~|^^^~^|a^b^c^d^e^f^g^h^i^j^k\rZZZ|||x~y^z|^~^|" + strings.Repeat("q^", 40) + "end"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, seg := range m.Segments() {
		for f := 1; f <= 20; f++ {
			field := seg.Field(f)
			for n := 0; n <= 12; n++ {
				got, want := field.Comp(n).Raw(), field.Rep(1).Comp(n).Raw()
				if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
					t.Fatalf("%s-%d.%d: %q (nil %v), want %q (nil %v)", seg.Name, f, n, got, got == nil, want, want == nil)
				}
			}
		}
	}
}

// TestHexEscapeInMessageCharset: \Xhh\ stands for bytes in the message's
// character set (MSH-18), which a sender on a 7-bit link uses to write
// every letter beyond ASCII; read as cp1252 they would be other letters.
func TestHexEscapeInMessageCharset(t *testing.T) {
	for _, c := range []struct{ msh18, hex, want string }{
		{"8859/5", `\XC8\`, "Ш"},
		{"8859/7", `\XC8\`, "Θ"},
		{"8859/2", `\XC8\`, "Č"},
		{"8859/1", `\XC8\`, "È"},
		{"", `\XC8\`, "È"},                // unlabelled: cp1252, as before
		{"UNICODE UTF-8", `\XC3A9\`, "é"}, // UTF-8 bytes
	} {
		// Once with only ASCII in the message, once with a letter in
		// the set itself beside the escape.
		for _, extra := range []string{"", "\xe9"} {
			m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||" + c.msh18 + "\rPID|1||1||" + c.hex + "van" + extra + "\r"))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Get("PID-5"); !strings.HasPrefix(got, c.want+"van") {
				t.Errorf("MSH-18 %q, %s%q: PID-5 = %q, want %q…", c.msh18, c.hex, extra, got, c.want+"van")
			}
		}
	}
}
