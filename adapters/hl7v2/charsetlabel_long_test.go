package hl7v2

import (
	"strings"
	"testing"
)

// TestCharsetErrorLongLabel: the error for an MSH-18 ferry does not know
// quotes the label's start, not all of it: a label of a great many bytes
// (a sender's bug, up to max_frame_bytes) made a reason of four times its
// size (%q writes a byte that is not UTF-8 as \x9f), which the log line,
// the quarantine's listing and `ferry status` each carried.
func TestCharsetErrorLongLabel(t *testing.T) {
	label := "KOI8-R" + strings.Repeat("\x9f", 1<<20)
	m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|2026||ADT^A01|C1|P|2.5||||||" + label + "\rPID|1||1||\xf0\xc5\xd4\xd2\xcf\xd7\r"))
	if err != nil {
		t.Fatal(err)
	}
	cerr := m.CharsetError()
	if cerr == nil {
		t.Fatal("no charset error")
	}
	s := cerr.Error()
	if len(s) > 1<<10 {
		t.Errorf("error of %d bytes for a %d byte label", len(s), len(label))
	}
	if !strings.Contains(s, `character set "KOI8-R\x9f`) {
		t.Errorf("error %.200q does not name the label", s)
	}
}
