package hl7v2

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fuzzReading reads every field, repetition, component and subcomponent
// of m (one past the last of each too) with String, Text and Texts,
// checking on the way that Texts agrees with Text, and Text with a
// trimmed Comp(c).String(), component by component.
func fuzzReading(t *testing.T, m *Message, out []string) []string {
	t.Helper()
	texts := make([]string, 8)
	check := func(v Value, where func() string) {
		clear(texts)
		v.Texts(texts)
		for i, got := range texts {
			want := v.Text(i + 1)
			if got != want {
				t.Fatalf("%s %q: Texts[%d] = %q, Text(%d) = %q", where(), v.Raw(), i, got, i+1, want)
			}
			if plain := strings.TrimSpace(v.Comp(i + 1).String()); want != plain {
				t.Fatalf("%s %q: Text(%d) = %q, Comp(%d).String() trimmed = %q", where(), v.Raw(), i+1, want, i+1, plain)
			}
		}
		out = append(out, texts...)
	}
	for _, s := range m.Segments() {
		out = append(out, s.Name, strconv.Itoa(s.NumFields()))
		for i := 0; i <= s.NumFields()+1; i++ {
			f := s.Field(i)
			where := func() string { return fmt.Sprintf("%s-%d", s.Name, i) }
			out = append(out, f.String(), s.Get(i), strconv.Itoa(f.NumReps()))
			check(f, where)
			n := 0
			for r := range f.RepsSeq() {
				n++
				check(r, func() string { return fmt.Sprintf("%s(%d)", where(), n) })
			}
			reps := f.Reps()
			if len(reps) != n || f.NumReps() != n {
				t.Fatalf("%s: Reps %d, RepsSeq %d, NumReps %d", where(), len(reps), n, f.NumReps())
			}
			reps = append(reps, f.Rep(len(reps)+1))
			for j, r := range reps {
				out = append(out, r.String())
				for c := 1; c <= 4; c++ {
					comp := r.Comp(c)
					out = append(out, comp.String(), comp.Trimmed(), r.Get(c))
					for k := 1; k <= 3; k++ {
						sub := comp.Sub(k)
						out = append(out, sub.String(), sub.Text(1))
					}
					check(comp, func() string { return fmt.Sprintf("%s(%d).%d", where(), j+1, c) })
				}
			}
		}
	}
	out = append(out, m.Get("PID-5-1"), m.Get("PID-3(2)-4-2"), m.Get("MSH-18"), m.Charset(), m.Decoding())
	if err := m.CharsetSwitchError(); err != nil {
		out = append(out, "switch error: "+err.Error())
	}
	return out
}

// FuzzRead: any message parses without a panic, reads the same through
// Text and Texts, and reads the same when parsed into the memory of a
// recycled Message as when parsed fresh (strings read before recycling
// stay as they were).
func FuzzRead(f *testing.F) {
	for _, pat := range []string{"../../testdata/convert/v2-*/input.hl7", "testdata/*.hl7", "../../../shared/corpus/hl7v2/*.hl7"} {
		files, _ := filepath.Glob(pat)
		for _, in := range files {
			if raw, err := os.ReadFile(in); err == nil {
				f.Add(raw)
			}
		}
	}
	f.Add([]byte(adt))
	f.Add([]byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||ISO IR6~ISO IR87\rPID|1||1||\\C2842\\Doe\\E\\\\M2442\\;3^\\M2442\\B@O:\\C2842\\&\\M24\\x^\\Mzz\\\r"))
	f.Add([]byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||ISO IR6~ISO IR149\rPID|1||1||\x1b$)C\xc8\xab^\x1b-Zx~\x1b$B;3ED\x1b(B\rNTE|1||\xe9\r"))
	f.Add(charsetMsg("ISO IR6~ISO IR87", `\M2442\;3\\ED\C2842\x^\M2442\\\`))
	f.Add(charsetMsg("8859/1~ISO IR100", `\C2D41\\XE9\`+"\xe9"+`\S\x&\M242843\\X2121\\C2D62\`+"\xa4"+`\M2429\\H\`))
	f.Add(charsetMsg("ISO IR100~ISO IR87", "\xe9\x1b$B;3\x1b(B\xe9\x1b-A\xe9^\x1b$)A\xc9\xbd"))
	f.Add([]byte("MSH#!$%&#A#B#C#D#20240101##ADT!A01#1#P#2.5\rPID#1##12!!!H%1.2%ISO!MR$34###Doe!Jane"))
	f.Add([]byte("MSH|^~\\&|A\rZZZ|a^b^^d| ^ ^ |\"\"|^|~^~|\\T\\x^\\X41\\\\.br\\"))
	var scratch []string
	other := []byte(adt + "ZZZ|" + strings.Repeat("a^b~c&d|", 40) + "\r")
	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte(nil), data...)
		m, err := Parse(data)
		if err != nil {
			if m2, err2 := ParseShared(data); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Parse: %v, ParseShared: %v (%v)", err, err2, m2 != nil)
			}
			return
		}
		want := fuzzReading(t, m, scratch[:0])
		scratch = want
		// Strings read from m stay valid once m is recycled: want is
		// compared only after its memory has been reused.
		m.Recycle()
		// Dirty the pooled memory with another message, then parse the
		// input again into it.
		if o, err := ParseShared(other); err == nil {
			o.Recycle()
		}
		m2, err := ParseShared(data)
		if err != nil {
			t.Fatalf("first parse fine, parse after recycling: %v", err)
		}
		got := fuzzReading(t, m2, nil)
		m2.Recycle()
		if len(got) != len(want) {
			t.Fatalf("readings differ in length: %d, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("reading %d after recycling: %q, want %q", i, got[i], want[i])
			}
		}
		if string(in) != string(data) {
			t.Fatalf("the input was modified")
		}
	})
}
