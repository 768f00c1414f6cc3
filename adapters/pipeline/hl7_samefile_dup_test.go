package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
)

// TestHL7BatchRepeatedMessageQueuedOnce: an HL7 v2 batch file that holds
// the same message twice (an interface engine's archive logs a message
// again when it resends it) queued it twice, the duplicate filter looking
// only at what earlier commits remembered: the exchange got it twice,
// though the same message sent again over MLLP, or met again in a later
// commit of the same file (over 1,024 bundles on), is dropped as a
// resend. A message the input already stored is dropped as one too; the
// parts of one message (which share its key) are all queued, and a
// message that only reuses the control id with other content is not a
// duplicate.
func TestHL7BatchRepeatedMessageQueuedOnce(t *testing.T) {
	const a01 = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01^ADT_A01|C-1|P|2.5.1\rEVN|A01|20261125083000\r" +
		"PID|1||MRN-1^^^CLINIC^MR||Doe^Jane||19800101|F\rPV1|1|O\r"
	corrected := strings.Replace(a01, "Doe^Jane", "Doe^Janet", 1)
	const a08 = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125090000||ADT^A08^ADT_A01|C-2|P|2.5.1\rEVN|A08|20261125090000\r" +
		"PID|1||MRN-2^^^CLINIC^MR||Roe^Rick||19700101|M\rPV1|1|O\r"
	for name, tc := range map[string]struct {
		msgs []string
		want int
	}{
		"back to back":      {[]string{a01, a01}, 1},
		"another between":   {[]string{a01, a08, a01}, 2},
		"control id reused": {[]string{a01, corrected}, 2},
		"three times":       {[]string{a01, a08, a01, a08, a01}, 2},
		"each once":         {[]string{a01, a08}, 2},
	} {
		t.Run(name, func(t *testing.T) {
			p, q := dedupedPipeline(t, map[string]Converter{"hl7v2": HL7{Conv: &v2fhir.Converter{}}})
			body := strings.Join(tc.msgs, "\n")
			if err := p.Consume(context.Background(), adapters.Raw{Source: "ehr/drop", Format: "hl7v2", Name: "export.hl7", Body: []byte(body)}); err != nil {
				t.Fatal(err)
			}
			if n := q.Len(); n != tc.want {
				t.Errorf("%d bundles queued, want %d", n, tc.want)
			}
			if n := p.Stats().Queued.Load(); n != int64(tc.want) {
				t.Errorf("%d counted queued, want %d", n, tc.want)
			}
			if n, want := p.Stats().Duplicates.Load(), int64(len(tc.msgs)-tc.want); n != want {
				t.Errorf("%d counted duplicates, want %d", n, want)
			}
		})
	}
}
