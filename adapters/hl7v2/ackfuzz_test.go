package hl7v2

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// FuzzAckReadsBack checks what the sender does with an ACK: it parses it
// with the delimiters and character set the ACK declares. Whatever was
// received, the ACK must parse, carry its code in MSA-1 and its own
// control id in MSH-10; a message that parses must find its MSH-10 in
// MSA-2 as it sent it, and the reason for an error must read back as
// written (ERR-8 from v2.5, MSA-3 before).
func FuzzAckReadsBack(f *testing.F) {
	for _, pat := range []string{"../../testdata/convert/v2-*/input.hl7", "../../../shared/corpus/hl7v2/*.hl7"} {
		files, _ := filepath.Glob(pat)
		for _, in := range files {
			if raw, err := os.ReadFile(in); err == nil {
				f.Add(raw, uint8(1), "PID-3 missing")
			}
		}
	}
	f.Add([]byte(ackADT), uint8(0), "")
	f.Add([]byte(ackADT), uint8(1), "bad\r|^~\\&\x00é")
	f.Add([]byte("MSH|^~\\|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01|A&B|P|2.3\rPID|1\r"), uint8(1), "a&b")
	f.Add([]byte("MSH#$*@%#A#B#C#D#2026##ADT$A08#ID7#T#2.4\r"), uint8(2), "x#y")
	f.Add([]byte("MSH|^~\\&|A|B|C|D|2026||ADT^A01|X\\F\\Y|P|2.5||||||8859/1\r"), uint8(3), "PI^D")
	f.Add([]byte("MSH|^~\\&|APP|\x83\x7c\x81\x5b|FERRY|HIE|2026||ADT^A01|C1|P|2.5.1|7|||||SHIFT_JIS\r"), uint8(1), "x")
	f.Fuzz(func(t *testing.T, msg []byte, kind uint8, text string) {
		var res error
		switch kind % 4 {
		case 1:
			res = queue.Permanent(errors.New(text))
		case 2:
			res = errors.New(text)
		case 3:
			res = queue.Permanent(&AckError{Code: CodeAE, ErrCode: ErrRequiredMissing, Segment: text, Field: 3, Text: text})
		}
		a := BuildAck(msg, res, "N1", ackTime)
		ack, err := Parse(a.Bytes)
		if err != nil {
			t.Fatalf("ACK does not parse: %v: %q", err, a.Bytes)
		}
		if got := ack.Get("MSA-1"); got != a.Code {
			t.Fatalf("MSA-1 = %q, want %q: %q", got, a.Code, a.Bytes)
		}
		if got := ack.ControlID(); got != "N1" {
			t.Fatalf("ACK MSH-10 = %q: %q", got, a.Bytes)
		}
		printable := len(text) <= 512 && !strings.ContainsFunc(text, func(r rune) bool { return r < ' ' || r >= 0x7f })
		if _, ok := readHeader(msg); ok && kind%4 != 0 && a.Code != CodeAA && a.Code != CodeCA && printable && strings.TrimSpace(text) != "" && strings.TrimSpace(text) != `""` {
			where := "ERR-8"
			if old(ack.Version()) {
				where = "MSA-3"
			}
			if got := ack.Get(where); strings.TrimSpace(got) != strings.TrimSpace(text) {
				t.Fatalf("%s reads %q, want %q: %q", where, got, text, a.Bytes)
			}
		}
		if m, err := Parse(msg); err == nil && a.MessageControlID != "" {
			want, got := m.MSH().Field(10), ack.Segments()[1].Field(2)
			// Control characters are dropped, and white space ending a
			// message is read as filler: compare where both read the same.
			if w := want.String(); string(want.Raw()) == a.MessageControlID && strings.TrimSpace(w) == w {
				sameLeaves(t, "MSA-2", got, want, a.Bytes)
			}
		}
	})
}

// sameLeaves fails unless got and want read the same, repetition by
// repetition, component by component, subcomponent by subcomponent.
func sameLeaves(t *testing.T, where string, got, want Value, ack []byte) {
	t.Helper()
	if got.NumReps() != want.NumReps() {
		t.Fatalf("%s has %d repetitions, want %d (%q): %q", where, got.NumReps(), want.NumReps(), want.Raw(), ack)
	}
	for r := 1; r <= want.NumReps(); r++ {
		for c := 1; c <= 4; c++ {
			for s := 1; s <= 3; s++ {
				g, w := got.Rep(r).Comp(c).Sub(s).String(), want.Rep(r).Comp(c).Sub(s).String()
				if g != w {
					t.Fatalf("%s(%d).%d.%d reads %q, want %q (%q): %q", where, r, c, s, g, w, want.Raw(), ack)
				}
			}
		}
	}
}
