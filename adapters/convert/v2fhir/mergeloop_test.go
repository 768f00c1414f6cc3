package v2fhir

import (
	"errors"
	"strings"
	"testing"
)

// TestMergeGroupsThatLoopAreRefused: an A40 whose second patient group
// merges back the record its first group retired (100 into 200, then 200
// into 100) leaves no record standing. The converter, which reads the
// registry and not the message's own earlier groups, took it for two
// merges: the registry then refused the second as a cycle after
// recording the first, the message was retried as a failure of the disk,
// and its resend, reading the first merge from the registry, turned it
// round and was acknowledged with both Patients written inactive or each
// replaced-by the other. It is the message's fault, refused as content
// naming the MRG-1 that closes the loop, and nothing is recorded.
func TestMergeGroupsThatLoopAreRefused(t *testing.T) {
	const msg = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M43|P|2.5\n" +
		"EVN|A40|20240321085900\n" +
		"PID|1||200^^^HOSP^MR||ONeil^Sean||20010101|M\n" +
		"MRG|100^^^HOSP^MR\n" +
		"PID|2||100^^^HOSP^MR||ONeil^Sean||20010101|M\n" +
		"MRG|200^^^HOSP^MR\n"
	for _, mode := range []Mode{ModeID, ModeConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			c := testConverter(t)
			c.Mode = mode
			reg := openRegistry(t)
			c.Merges = reg
			_, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
			var ce *ContentError
			if !errors.As(err, &ce) || ce.Field != "MRG-1" || ce.Pos != 6 {
				t.Fatalf("converted: %v (merges %v), want a content error on the second MRG-1", err, res.Merges)
			}
			if !strings.Contains(ce.Reason, "cycle") {
				t.Errorf("reason %q does not say the merges loop", ce.Reason)
			}
		})
	}
}
