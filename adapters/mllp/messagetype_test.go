package mllp

import "testing"

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
