package hl7v2

import (
	"strings"
	"testing"
)

// TestSplitBatchBOMBeforeEachMessage: a file of messages concatenated from
// files that each began with a UTF-8 byte-order mark (saved by a Windows
// editor, joined with copy /b or cat) has a BOM before every MSH, not
// only the first. Each is a message of its own, as the first is; the
// BOM is not part of it. The MLLP listener's one-message check sees the
// same two messages.
func TestSplitBatchBOMBeforeEachMessage(t *testing.T) {
	m1 := "MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\r\nPID|1||1||DOE^JANE\r\n"
	m2 := "MSH|^~\\&|A|B|||||ADT^A08|2|P|2.5\r\nPID|1||2||ROE^RICHARD\r\n"
	const bom = "\xef\xbb\xbf"
	for name, in := range map[string]string{
		"bare":  bom + m1 + bom + m2,
		"batch": bom + "FHS|^~\\&\r\n" + bom + "BHS|^~\\&\r\n" + bom + m1 + bom + m2 + bom + "BTS|2\r\n" + bom + "FTS|1\r\n",
	} {
		got, err := SplitBatch([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 2 || string(got[0]) != m1 || string(got[1]) != m2 {
			t.Fatalf("%s: split into %q, want %q and %q", name, got, m1, m2)
		}
		for i, raw := range got {
			if _, err := Parse(raw); err != nil {
				t.Errorf("%s: message %d: %v", name, i+1, err)
			}
		}
	}
	e := CheckOneMessage([]byte(bom + m1 + bom + m2))
	if e == nil || e.Segment != "MSH" || e.Sequence != 2 || !strings.Contains(e.Text, "holds 2 messages") {
		t.Errorf("CheckOneMessage: %+v", e)
	}
}
