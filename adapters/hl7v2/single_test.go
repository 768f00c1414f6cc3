package hl7v2

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCheckOneMessage(t *testing.T) {
	one := "MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01^ADT_A01|Z1|P|2.5.1\rEVN|A01\rPID|1||Z1^^^HOSP^MR||DOE^JANE\rOBX|1|TX|||MSH and BHS in a value\r"
	for _, ok := range []string{
		one,
		"\xef\xbb\xbf" + one,
		strings.ReplaceAll(one, "\r", "\r\n") + "\r\n\r\n",
		strings.ReplaceAll(one, "\r", "\n"),
		strings.TrimSuffix(one, "\r"),
		"",
	} {
		if err := CheckOneMessage([]byte(ok)); err != nil {
			t.Errorf("%.30q: %v", ok, err)
		}
	}
	for _, c := range []struct {
		in, seg string
		seq     int
		text    string
	}{
		{one + one, "MSH", 2, "holds 2 messages"},
		{one + "\r\n \x0b" + one + one, "MSH", 2, "holds 3 messages"},
		{"BHS|^~\\&\r" + one + "BTS|1\r", "BHS", 1, "batch (BHS) of 1 message;"},
		{"FHS|^~\\&\rFTS|0\r", "FHS", 1, "batch (FHS) of 0 messages"},
		{one + "FTS|1", "FTS", 1, "batch (FTS)"},
	} {
		e := CheckOneMessage([]byte(c.in))
		if e == nil {
			t.Errorf("%.40q: accepted", c.in)
			continue
		}
		if e.Code != CodeAR || e.ErrCode != ErrSegmentSequence || e.Segment != c.seg || e.Sequence != c.seq || !strings.Contains(e.Text, c.text) {
			t.Errorf("%.40q: %+v", c.in, e)
		}
	}
	// The ACK names the second header in ERR-2, and its first message in MSA-2.
	a := BuildAck([]byte(one+one), CheckOneMessage([]byte(one+one)), "X", time.Now())
	if !bytes.Contains(a.Bytes, []byte("MSA|AR|Z1\rERR||MSH^2|100^Segment sequence error^HL70357|E||||this frame holds 2 messages")) {
		t.Errorf("ACK %q", a.Bytes)
	}
	// The check runs on every MLLP frame: one message costs no allocation.
	b := []byte(one)
	if n := testing.AllocsPerRun(100, func() { _ = CheckOneMessage(b) }); n != 0 {
		t.Errorf("%v allocations for one message", n)
	}
}
