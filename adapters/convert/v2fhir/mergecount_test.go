package v2fhir

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestMoreMergesThanTheQueueOrdersIsContent: an A40 whose PID/MRG groups
// retire more records than the queue can order one item after
// (queue.MaxAfter) is the message's fault, answered AE and quarantined:
// the queue refused it on every resend, a transient failure the sender
// retried for ever, stalling its link, with the merges recorded already.
func TestMoreMergesThanTheQueueOrdersIsContent(t *testing.T) {
	msg := func(n int) []byte {
		var b strings.Builder
		b.WriteString("MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M41|P|2.5\rEVN|A40|20240321085900\r")
		for i := range n {
			fmt.Fprintf(&b, "PID|1||%d^^^HOSP^MR||ONeil^Sean||20010101|M\rMRG|%d^^^HOSP^MR\r", 10000+i, 20000+i)
		}
		return []byte(b.String())
	}
	c := testConverter(t)
	_, _, err := c.ConvertRaw(msg(queue.MaxAfter + 1))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Segment != "MRG" {
		t.Fatalf("A40 with %d merges: %v, want a content error on MRG", queue.MaxAfter+1, err)
	}
	_, res, err := c.ConvertRaw(msg(queue.MaxAfter))
	if err != nil || len(res.AfterKeys) != queue.MaxAfter {
		t.Fatalf("A40 with %d merges: %v, %d after keys", queue.MaxAfter, err, len(res.AfterKeys))
	}
}
