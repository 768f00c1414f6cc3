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
// A survivor other than the message's own counts too (its bundles are
// ordered with the merge's: TestLaterMergeGroupSurvivorOrdersTheMerge).
func TestMoreMergesThanTheQueueOrdersIsContent(t *testing.T) {
	msg := func(n int, survivors bool) []byte {
		var b strings.Builder
		b.WriteString("MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M41|P|2.5\rEVN|A40|20240321085900\r")
		for i := range n {
			surv := 10000
			if survivors {
				surv += i
			}
			fmt.Fprintf(&b, "PID|1||%d^^^HOSP^MR||ONeil^Sean||20010101|M\rMRG|%d^^^HOSP^MR\r", surv, 20000+i)
		}
		return []byte(b.String())
	}
	for _, tc := range []struct {
		groups    int
		survivors bool
		keys      int // 0: refused
	}{
		{queue.MaxAfter + 1, false, 0},
		{queue.MaxAfter, false, queue.MaxAfter},
		{queue.MaxAfter/2 + 1, true, 0},
		{queue.MaxAfter / 2, true, queue.MaxAfter - 1},
	} {
		c := testConverter(t)
		_, res, err := c.ConvertRaw(msg(tc.groups, tc.survivors))
		if tc.keys == 0 {
			var ce *ContentError
			if !errors.As(err, &ce) || ce.Segment != "MRG" {
				t.Errorf("A40 with %d merges (survivors apart %v): %v, want a content error on MRG", tc.groups, tc.survivors, err)
			}
			continue
		}
		if err != nil || len(res.AfterKeys) != tc.keys {
			t.Errorf("A40 with %d merges (survivors apart %v): %v, %d after keys, want %d", tc.groups, tc.survivors, err, len(res.AfterKeys), tc.keys)
		}
	}
}
