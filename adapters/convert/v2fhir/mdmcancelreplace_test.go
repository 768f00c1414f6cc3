package v2fhir

import (
	"strings"
	"testing"
)

// TestReplacementDoesNotReviveCancelledParent: DOC-1 is cancelled (T11:
// withdrawn, entered-in-error at the exchange) and a replacement (T10)
// naming it as its parent arrives afterwards, for the same patient or
// for another one (the document moved to the right record as a new
// version). The T10's PATCH made DOC-1 superseded, turning the withdrawn
// document back into visible history of the record it was withdrawn
// from, though a cancel wins over a replacement everywhere else (the
// original arriving after both is entered-in-error, and so is its bundle
// retried). The replacement is written, relates to DOC-1, and leaves its
// status alone, as a status change without the document (T03) saying
// obsolete does; a parent never cancelled, or filed again to the
// replacement's patient after its cancel, is superseded as before.
func TestReplacementDoesNotReviveCancelledParent(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			for _, replacer := range []string{"A100", "B200"} {
				reg := openReplaced(t)
				c := testConverter(t)
				c.Mode = mode
				c.Replaced = reg.Replaced
				convert := func(msg string) Result {
					t.Helper()
					_, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
					if err != nil {
						t.Fatal(err)
					}
					if err := reg.Add(res.Replaces...); err != nil {
						t.Fatal(err)
					}
					return res
				}
				convert(mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true))
				convert(mdm("T11", "D-2", "DOC-1^EHR", "", "AU", "CA", false))
				res := convert(strings.Replace(mdm("T10", "D-3", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true), "A100^", replacer+"^", 1))
				for _, ch := range res.Changes {
					if ch.Status == "superseded" {
						t.Errorf("T10 for %s after DOC-1's cancel marks %s superseded", replacer, ch.URL)
					}
				}
				// A status change without the document (T03) saying
				// obsolete (TXA-19 OB) is a replacement's too.
				res = convert(strings.Replace(mdm("T03", "D-4", "DOC-1^EHR", "", "AU", "OB", false), "A100^", replacer+"^", 1))
				for _, ch := range res.Changes {
					if ch.Status == "superseded" {
						t.Errorf("T03 OB for %s after DOC-1's cancel marks %s superseded", replacer, ch.URL)
					}
				}
			}
			// Cancelled for A100 and filed again to B200 (the right
			// record), then replaced there: the replacement supersedes
			// B200's current DOC-1.
			reg := openReplaced(t)
			c := testConverter(t)
			c.Mode = mode
			c.Replaced = reg.Replaced
			for _, msg := range []string{
				mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true),
				mdm("T11", "D-2", "DOC-1^EHR", "", "AU", "CA", false),
				strings.Replace(mdm("T02", "D-3", "DOC-1^EHR", "", "AU", "AV", true), "A100^", "B200^", 1),
				strings.Replace(mdm("T10", "D-4", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true), "A100^", "B200^", 1),
			} {
				_, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
				if err != nil {
					t.Fatal(err)
				}
				if err := reg.Add(res.Replaces...); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(msg, "MDM^T10") && (len(res.Changes) != 1 || res.Changes[0].Status != "superseded") {
					t.Errorf("a replacement of DOC-1 refiled to B200 changes %v", res.Changes)
				}
			}
			// Not cancelled: superseded, as before.
			c = testConverter(t)
			c.Mode = mode
			c.Replaced = openReplaced(t).Replaced
			_, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(mdm("T10", "D-3", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true), "\n", "\r")))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changes) != 1 || res.Changes[0].Status != "superseded" {
				t.Errorf("a replacement of a parent never cancelled changes %v", res.Changes)
			}
		})
	}
}
