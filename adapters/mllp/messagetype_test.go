package mllp

import (
	"runtime"
	"strings"
	"testing"
)

// TestMessageTypeAfterEnvelope: the type a log line names is read as Parse
// reads the message, past what it skips before the MSH (byte-order marks,
// line ends), so a message stored and answered AA is not logged untyped.
func TestMessageTypeAfterEnvelope(t *testing.T) {
	for in, want := range map[string]string{
		"MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5\rPID|":                         "ADT^A01",
		"\xef\xbb\xbf\xef\xbb\xbf\r\nMSH|^~\\&|A|B|C|D|2026||ORU^R01|1|P|2.5\r": "ORU^R01",
		"PID|1": "",
	} {
		if got := messageType([]byte(in)); got != want {
			t.Errorf("messageType(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMessageTypeLongHeader: the type is read from the header's first
// fields, without splitting the rest: a header of a million empty fields
// (a sender's bug) cost 24 bytes a field in the log line that names its
// type, some 380 MiB for a 16 MiB frame.
func TestMessageTypeLongHeader(t *testing.T) {
	msg := []byte("MSH|^~\\&|A|B|C|D|2026||ORU^R01^ORU_R01|1|P|2.5" + strings.Repeat("|", 1<<20) + "\rPID|1\r")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := messageType(msg)
	runtime.ReadMemStats(&after)
	if got != "ORU^R01^ORU_R01" {
		t.Errorf("messageType = %q", got)
	}
	// TotalAlloc counts the whole process, whose other goroutines (an
	// earlier test's listener winding down) allocate meanwhile: 10 KB was
	// seen. Splitting the header costs 24 MiB, so 1 MiB tells them apart.
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("messageType allocated %d bytes for a header of a million fields", n)
	}
}
