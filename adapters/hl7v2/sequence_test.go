package hl7v2

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestReadSequence(t *testing.T) {
	const head = "MSH|^~\\&|LAB|767543|FERRY|HIE|20261125||ADT^A08|X1|P|2.3|"
	for _, c := range []struct {
		name, msg string
		ok        bool
		err       bool
		want      Sequence
	}{
		{"number", head + "42\rPID|1\r", true, false, Sequence{42, "LAB|767543|FERRY|HIE", true}},
		{"link start", head + "0\r", true, false, Sequence{0, "LAB|767543|FERRY|HIE", false}},
		{"resync, LF", head + "-1\n\n", true, false, Sequence{-1, "LAB|767543|FERRY|HIE", false}},
		{"later fields, spaces, a component", head + " 7^x|cont|AL\rEVN|A08\r", true, false, Sequence{7, "LAB|767543|FERRY|HIE", true}},
		{"BOM", "\xef\xbb\xbf" + head + "3\r", true, false, Sequence{3, "LAB|767543|FERRY|HIE", false}},
		{"other delimiters", strings.ReplaceAll(head, "|", "#") + "5\r", true, false, Sequence{5, "LAB#767543#FERRY#HIE", false}},
		{"empty", head + "\rPID|1\r", false, false, Sequence{}},
		{"null", head + `""` + "\r", false, false, Sequence{}},
		{"no MSH-13", "MSH|^~\\&|LAB|767543|FERRY|HIE|20261125||ADT^A08|X1|P|2.3\r", false, false, Sequence{}},
		{"not MSH", "PID|1\r", false, false, Sequence{}},
		{"text", head + "abc\r", true, true, Sequence{}},
		{"below -1", head + "-2\r", true, true, Sequence{}},
		{"largest NM(15)", head + "999999999999999\rPID|1\r", true, false, Sequence{999999999999999, "LAB|767543|FERRY|HIE", true}},
		{"past NM(15)", head + "1000000000000000\rPID|1\r", true, true, Sequence{}},
		{"int64 max", head + "9223372036854775807\rPID|1\r", true, true, Sequence{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok, err := ReadSequence([]byte(c.msg))
			if ok != c.ok || (err != nil) != c.err || got != c.want {
				t.Fatalf("ReadSequence = %+v, %v, %v; want %+v, %v, err %v", got, ok, err, c.want, c.ok, c.err)
			}
		})
	}
	if s := (Sequence{Number: 0}); !s.Control() {
		t.Error("0 without content is a link start")
	}
	if s := (Sequence{Number: 0, Content: true}); s.Control() {
		t.Error("0 with content is an ordinary message")
	}
}

// TestReadSequenceAllocs: a message without MSH-13, the usual case, costs
// no allocation.
func TestReadSequenceAllocs(t *testing.T) {
	m := []byte("MSH|^~\\&|LAB|767543|FERRY|HIE|20261125||ADT^A08|X1|P|2.5.1\rPID|1\r")
	if n := testing.AllocsPerRun(100, func() { ReadSequence(m) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// TestBuildAckExpecting: MSA-4 carries the expected sequence number, after
// an empty MSA-3 on AA and after the text on AR of an old version.
func TestBuildAckExpecting(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	m := []byte("MSH|^~\\&|LAB|767543|FERRY|HIE|20261125||^|XX3657|P|2.1|0\r")
	a := BuildAckExpecting(m, nil, "ZZ9380", now, "1")
	if !strings.Contains(string(a.Bytes), "\rMSA|AA|XX3657||1\r") {
		t.Errorf("link start ACK %q", a.Bytes)
	}
	a = BuildAckExpecting(m, &AckError{Code: CodeAR, ErrCode: ErrApplication, Text: "send 4"}, "ZZ9381", now, "4")
	if !strings.Contains(string(a.Bytes), "\rMSA|AR|XX3657|send 4|4\r") {
		t.Errorf("refusal %q", a.Bytes)
	}
	a = BuildAckExpecting(m, nil, "ZZ9382", now, "")
	if !strings.HasSuffix(string(a.Bytes), "\rMSA|AA|XX3657\r") {
		t.Errorf("no MSA-4 without a number: %q", a.Bytes)
	}
}

// FuzzReadSequence: ReadSequence never panics, and on a message the
// parser reads it finds the number the parser finds in MSH-13, and content
// exactly when the message has a segment after MSH.
func FuzzReadSequence(f *testing.F) {
	f.Add([]byte("MSH|^~\\&|LAB|767543|FERRY|HIE|20261125||ADT^A08|X1|P|2.3|42\rPID|1\r"))
	f.Add([]byte("MSH|^~\\&|LAB|767543|FERRY|HIE|199003141304-0500||^|XX3657|P|2.1|0\r"))
	f.Add([]byte("\xef\xbb\xbfMSH#^~\\&#A#B#C#D#1##^#X#P#2.3#-1\n\n"))
	f.Add([]byte("MSH|^~\\&|A|B|C|D|1||^|X|P|2.3| 7^x|\rEVN|A08\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		seq, ok, err := ReadSequence(data)
		if !ok || err != nil {
			return
		}
		m, perr := Parse(data)
		if perr != nil {
			return
		}
		raw := strings.TrimSpace(m.MSH().Field(13).Get(1))
		if raw != fmt.Sprint(seq.Number) && raw != "+"+fmt.Sprint(seq.Number) && strings.TrimLeft(raw, "0+") != strings.TrimLeft(fmt.Sprint(seq.Number), "0") {
			t.Fatalf("ReadSequence %d, parser's MSH-13 %q", seq.Number, raw)
		}
		if content := len(m.Segments()) > 1; content != seq.Content {
			t.Fatalf("Content %v, parser has %d segments", seq.Content, len(m.Segments()))
		}
	})
}

// BenchmarkReadSequence: what the MLLP listener spends a message on the
// sequence number protocol: without MSH-13 (almost every sender) and with.
func BenchmarkReadSequence(b *testing.B) {
	for _, c := range []struct{ name, seq string }{{"none", ""}, {"numbered", "42"}} {
		m := []byte("MSH|^~\\&|LAB|767543|FERRY|HIE|20261125083000||ADT^A08^ADT_A01|X1|P|2.5.1|" + c.seq + "\rEVN|A08|20261125083000\rPID|1||MRN-7^^^CLINIC^MR||Doe^Seq\r")
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ReadSequence(m)
			}
		})
	}
}
