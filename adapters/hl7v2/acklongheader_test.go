package hl7v2

import (
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestBuildAckLongHeaderBounded: an MSH of a great many empty fields (a
// sender's bug, or a frame of separators up to max_frame_bytes) costs the
// ACK about the header's size, not 16 bytes a field: the ACK reads MSH-3
// to MSH-20 only, and splitting all the rest made a 16 MiB frame cost some
// 270 MiB, four such frames at once (what max_buffered_bytes lets in) over
// a GiB on a small clinic server.
func TestBuildAckLongHeaderBounded(t *testing.T) {
	const fields = 1 << 20
	msg := []byte("MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01^ADT_A01|L1|P|2.5.1|||AL|NE||UNICODE UTF-8" + strings.Repeat("|", fields) + "\rPID|1\r")
	for _, res := range []error{nil, queue.Permanent(&AckError{Code: CodeAE, ErrCode: ErrRequiredMissing, Segment: "PID", Field: 3})} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		a := BuildAck(msg, res, "N1", ackTime)
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(2*len(msg)); got > limit {
			t.Errorf("BuildAck allocated %d MiB for a %d MiB message, want at most %d MiB", got>>20, len(msg)>>20, limit>>20)
		}
		// What the ACK echoes is still read.
		ack, err := Parse(a.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Get("MSA-2") != "L1" || !a.Enhanced || ack.MSH().Get(18) != "UNICODE UTF-8" || ack.MSH().Get(9) != "ACK^A01^ACK" {
			t.Errorf("ack %q", a.Bytes)
		}
	}
}
