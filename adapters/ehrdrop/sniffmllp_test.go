package ehrdrop

import (
	"bytes"
	"path/filepath"
	"testing"
)

// HL7 v2 messages saved with their MLLP framing (a start block, 0x0B,
// before each MSH and an end block, 0x1C 0x0D, after it: an interface
// engine's or a capture's dump of its feed) are an HL7 v2 file, as the
// batch splitter (which skips both) and pipeline.Detect (ferry backfill
// without --folder, ferry convert) read them; the sniffer took the start
// block for content and sent the file to failed/ as "none of ... HL7 v2
// (MSH, FHS or BHS)".
func TestHL7WithMLLPFramingDropped(t *testing.T) {
	msg := readFile(t, adtA01)
	oruR01 := filepath.Join("..", "..", "testdata", "hl7v2", "oru-r01.hl7")
	framed := func(msgs ...[]byte) []byte {
		var b bytes.Buffer
		for _, m := range msgs {
			b.WriteByte(0x0b)
			b.Write(bytes.TrimRight(m, "\r\n"))
			b.WriteString("\r\x1c\r")
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"one.hl7", framed(msg)},
		{"two.txt", framed(msg, readFile(t, oruR01))},
		{"bom.hl7", append([]byte("\xEF\xBB\xBF"), framed(msg)...)},
	} {
		got, err := Sniff(bytes.NewReader(tc.data), tc.name)
		if err != nil || got.Format != FormatHL7v2Batch {
			t.Errorf("%s: Sniff = %+v, %v; want %s", tc.name, got, err, FormatHL7v2Batch)
		}
	}

	// And the folder queues its message.
	dir := t.TempDir()
	p, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), p)
	copyIn(t, dir, "feed.hl7", framed(msg))
	settled(t, s, "feed.hl7", false)
	if n := len(q.all()); n == 0 {
		t.Fatal("nothing queued from the framed message")
	}
	if m, _ := filepath.Glob(filepath.Join(s.Engine().Paths().Failed, "*")); len(m) != 0 {
		t.Fatalf("failed/ holds %v", m)
	}
}
