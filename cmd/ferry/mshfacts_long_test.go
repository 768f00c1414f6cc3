package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestMSHFactsLongHeader: the audit event's sender, type and control id
// are read from MSH-3 to MSH-10 without splitting the rest of the header:
// a header of a great many empty fields (a sender's bug, or a frame of
// separators up to max_frame_bytes) cost a string header of 16 bytes a
// field for every audited input, some 270 MiB for a 16 MiB frame.
func TestMSHFactsLongHeader(t *testing.T) {
	const fields = 16 << 20
	for _, msg := range []string{
		"MSH|^~\\&|LAB|HOSP|A|B|2026||ORU^R01^ORU_R01|C1|P|2.5" + strings.Repeat("|", fields) + "\rPID|1\r",
		// A field of a great many components costs no more.
		"MSH|^~\\&|LAB" + strings.Repeat("^", fields) + "|HOSP|A|B|2026||ORU^R01" + strings.Repeat("^", fields) + "|C1\rPID|1\r",
	} {
		body := []byte(msg)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, typ, ctl := mshFacts(body)
		runtime.ReadMemStats(&after)
		if s != "LAB^HOSP" || typ != "ORU^R01" || ctl != "C1" {
			t.Errorf("mshFacts = %q %q %q", s, typ, ctl)
		}
		// TotalAlloc counts the whole process, whose other goroutines
		// allocate meanwhile (a KiB was seen under -race); splitting the
		// header cost 272 MiB, so 1 MiB tells them apart.
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("mshFacts allocated %d KiB for a %d MiB header", got>>10, len(body)>>20)
		}
	}
}
