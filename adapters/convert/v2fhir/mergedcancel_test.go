package v2fhir

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/replaced"
)

// openReplaced opens a registry of replaced documents in a temporary
// directory, as the gateway opens data_dir/replaced.log.
func openReplaced(t *testing.T) *replaced.Registry {
	t.Helper()
	r, err := replaced.Open(filepath.Join(t.TempDir(), replaced.FileName), replaced.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// mergingConverter converts messages in mode one after the other with
// the registries of replaced documents and of merges the gateway keeps
// (each message's replaced keys and merges recorded before the next), and
// gives the status of the DocumentReference each writes ("" for none).
func mergingConverter(t *testing.T, mode Mode) func(msg string) string {
	reg := openReplaced(t)
	merged := openRegistry(t)
	c := testConverter(t)
	c.Mode = mode
	c.Replaced = reg.Replaced
	c.Merges = merged
	return func(msg string) string {
		t.Helper()
		b, res := convertRecording(t, c, merged, msg)
		if err := reg.Add(res.Replaces...); err != nil {
			t.Fatal(err)
		}
		if dr := documentRef(b); dr != nil {
			return dr.Status
		}
		return ""
	}
}

// a40 merges the record retired into survivor (both HOSP MRNs).
func a40(ctl, survivor, retired string) string {
	return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240402090000||ADT^A40^ADT_A39|" + ctl + "|P|2.5\n" +
		"EVN|A40|20240402085900\n" +
		"PID|1||" + survivor + "^^^HOSP^MR||Doe^Pat||20200101|F\n" +
		"MRG|" + retired + "^^^HOSP^MR\n"
}

// TestLateDocumentOfSurvivorAfterMergedRecordsCancel: DOC-1 is filed to
// B200 (T02) and cancelled there (T11); an A40 then merges B200 into
// A100, and a late T02 of DOC-1 arrives naming the survivor A100 (the
// sender moved its queued messages to the surviving record). The cancel
// was recorded under B200's key before the merge, and the registry
// lookup looked under A100's key only (and under a retired identifier's
// when the message names one), so DOC-1 was filed current again in the
// record it was withdrawn from. The same holds down a chain of merges (C
// into B, then B into A) and for a replacement (T10) recorded before the
// merges. A document of the survivor's that no merged record cancelled
// stays current.
func TestLateDocumentOfSurvivorAfterMergedRecordsCancel(t *testing.T) {
	of := func(msg, mrn string) string { return strings.Replace(msg, "A100^", mrn+"^", 1) }
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			convert := mergingConverter(t, mode)
			// One merge: B200 into A100.
			convert(of(mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true), "B200"))
			convert(of(mdm("T11", "D-2", "DOC-1^EHR", "", "AU", "CA", false), "B200"))
			// A chain: C300 into B200, then B200 into A100; DOC-2 was
			// cancelled and DOC-3 replaced (by DOC-4) under C300.
			convert(of(mdm("T02", "D-3", "DOC-2^EHR", "", "AU", "AV", true), "C300"))
			convert(of(mdm("T11", "D-4", "DOC-2^EHR", "", "AU", "CA", false), "C300"))
			convert(of(mdm("T10", "D-5", "DOC-4^EHR", "DOC-3^EHR", "AU", "AV", true), "C300"))
			convert(a40("M1", "B200", "C300"))
			convert(a40("M2", "A100", "B200"))

			if st := convert(mdm("T02", "D-6", "DOC-1^EHR", "", "AU", "AV", true)); st != "entered-in-error" {
				t.Errorf("DOC-1, cancelled under B200 before B200 was merged into A100, is filed %s under A100", st)
			}
			if st := convert(mdm("T08", "D-7", "DOC-2^EHR", "", "AU", "AV", true)); st != "entered-in-error" {
				t.Errorf("DOC-2, cancelled under C300 before the chain C300→B200→A100, is filed %s under A100", st)
			}
			if st := convert(mdm("T02", "D-8", "DOC-3^EHR", "", "AU", "AV", true)); st != "superseded" {
				t.Errorf("DOC-3, replaced under C300 before the chain of merges, is filed %s under A100", st)
			}
			if st := convert(of(mdm("T02", "D-9", "DOC-1^EHR", "", "AU", "AV", true), "B200")); st != "entered-in-error" {
				t.Errorf("DOC-1 naming the retired B200 is filed %s", st)
			}
			if st := convert(mdm("T02", "D-10", "DOC-9^EHR", "", "AU", "AV", true)); st != "current" {
				t.Errorf("a document of A100's own, never cancelled, is %s", st)
			}
		})
	}
}

// TestRefiledDocumentOfSurvivorStaysCurrentAfterMerge: DOC-1 is filed to
// B200 (a duplicate record), cancelled there (T11: the wrong patient's
// record) and filed again to A100 (T02), the record it belongs to; the
// registrar then merges the duplicate B200 into A100 (A40). An edit of
// DOC-1 under A100 (T08) is of A100's own document, current at the
// exchange: the cancel recorded under the merged B200 withdrew it from
// B200's record, not from A100's, and must not make the edit
// entered-in-error. A document of B200's that was never filed to A100
// is still withdrawn when a late message names A100.
func TestRefiledDocumentOfSurvivorStaysCurrentAfterMerge(t *testing.T) {
	of := func(msg, mrn string) string { return strings.Replace(msg, "A100^", mrn+"^", 1) }
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			convert := mergingConverter(t, mode)
			convert(of(mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true), "B200"))
			convert(of(mdm("T11", "D-2", "DOC-1^EHR", "", "AU", "CA", false), "B200"))
			if st := convert(mdm("T02", "D-3", "DOC-1^EHR", "", "AU", "AV", true)); st != "current" {
				t.Fatalf("DOC-1 filed again to A100 after its cancel under B200 is %s", st)
			}
			convert(of(mdm("T02", "D-4", "DOC-2^EHR", "", "AU", "AV", true), "B200"))
			convert(of(mdm("T11", "D-5", "DOC-2^EHR", "", "AU", "CA", false), "B200"))
			convert(a40("M1", "A100", "B200"))

			if st := convert(mdm("T08", "D-6", "DOC-1^EHR", "", "AU", "AV", true)); st != "current" {
				t.Errorf("an edit of A100's own DOC-1 after B200 was merged into A100 is %s, want current", st)
			}
			if st := convert(mdm("T02", "D-7", "DOC-2^EHR", "", "AU", "AV", true)); st != "entered-in-error" {
				t.Errorf("DOC-2, cancelled under B200 and never filed to A100, is %s under A100 after the merge", st)
			}
			// A cancel of DOC-1 under A100 itself still withdraws it.
			convert(mdm("T11", "D-8", "DOC-1^EHR", "", "AU", "CA", false))
			if st := convert(mdm("T08", "D-9", "DOC-1^EHR", "", "AU", "AV", true)); st != "entered-in-error" {
				t.Errorf("an edit of DOC-1 after its cancel under A100 is %s", st)
			}
		})
	}
}
