package hl7v2

import (
	"runtime"
	"strings"
	"testing"
)

// TestFormattingRoomBounded: the .sp and .sk commands of a value add at
// most its own size to it (or one command's 100): a value of a great many
// "\.sp100\" (a sender's bug, up to max_frame_bytes) read as 14 times its
// size in line breaks, which the Observation's JSON doubles again, some
// 1.3 GiB for a 16 MiB message.
func TestFormattingRoomBounded(t *testing.T) {
	const n = 1 << 17
	m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|2026||ORU^R01|C1|P|2.5\rOBX|1|FT|1^a^LN||" + strings.Repeat(`\.sp100\`, n) + "\r"))
	if err != nil {
		t.Fatal(err)
	}
	f := m.All("OBX")[0].Field(5)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := f.String()
	runtime.ReadMemStats(&after)
	if raw := len(f.Raw()); len(s) > 2*raw {
		t.Errorf("a value of %d bytes read as %d", raw, len(s))
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(8*len(f.Raw())); got > limit {
		t.Errorf("String allocated %d KiB for a value of %d KiB", got>>10, len(f.Raw())>>10)
	}
	if strings.Trim(s, "\n") != "" || len(s) < len(f.Raw()) {
		t.Errorf("value of %d bytes: %.40q", len(s), s)
	}
}
