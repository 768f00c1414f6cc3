package v2fhir

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// mdm is an MDM message of the given trigger about the document txa12
// (TXA-12) with the parent txa13 (TXA-13), TXA-17 completion status
// txa17 and TXA-19 availability txa19; with content it carries an OBX.
func mdm(trigger, ctl, txa12, txa13, txa17, txa19 string, content bool) string {
	structure := "MDM_T02"
	if !content {
		structure = "MDM_T01"
	}
	m := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^" + trigger + "^" + structure + "|" + ctl + "|P|2.5.1\n" +
		"EVN|" + trigger + "|20240401103000\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
		"PV1|1|O|CLINIC1||||||||||||||||V-77^^^HOSP^VN\n" +
		"TXA|1|PN|TX|20240401100000||20240401101000||||||" + txa12 + "|" + txa13 + "||||" + txa17 + "||" + txa19 + "\n"
	if content {
		m += "OBX|1|TX|11506-3^Progress note^LN||Note text for " + ctl + ".||||||F\n"
	}
	return m
}

var mdmModes = []Mode{ModeID, ModePatientConditional, ModeConditional}

// documentURL is the request URL of the bundle's DocumentReference entry:
// where the exchange stores it.
func documentURL(t *testing.T, b *fhir.Bundle) string {
	t.Helper()
	var urls []string
	for _, e := range b.Entry {
		if _, ok := e.Resource.(*fhir.DocumentReference); ok {
			urls = append(urls, e.Request.URL)
		}
	}
	if len(urls) != 1 {
		t.Fatalf("bundle has %d DocumentReference entries, want 1", len(urls))
	}
	return urls[0]
}

func documentRef(b *fhir.Bundle) *fhir.DocumentReference {
	for _, e := range b.Entry {
		if d, ok := e.Resource.(*fhir.DocumentReference); ok {
			return d
		}
	}
	return nil
}

func convertMDM(t *testing.T, mode Mode, msg string) (*fhir.Bundle, Result) {
	t.Helper()
	c := testConverter(t)
	c.Mode = mode
	b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
	if err != nil {
		t.Fatalf("%s: %v", mode, err)
	}
	return b, res
}

// batchPatches checks that batch is a batch of JSON Patch PATCHes and
// returns them as URL → patch text.
func batchPatches(t *testing.T, batch *fhir.Bundle) map[string]string {
	t.Helper()
	out := map[string]string{}
	if batch == nil {
		return out
	}
	if batch.Type != "batch" {
		t.Errorf("bundle type %q, want batch", batch.Type)
	}
	for _, e := range batch.Entry {
		bin, ok := e.Resource.(*fhir.Binary)
		if !ok || e.Request == nil || e.Request.Method != "PATCH" || bin.ContentType != JSONPatchType {
			t.Errorf("entry is not a JSON Patch PATCH: %s", toJSON(e))
			continue
		}
		out[e.Request.URL] = string(bin.Data)
	}
	return out
}

// TestMDMReplacementSupersedesParent: MDM^T10 replaces the document TXA-13
// names (HL7 v2 chapter 9: the original becomes obsolete). The new
// DocumentReference relatesTo replaces the parent, and a batch that
// follows the transaction PATCHes the parent's DocumentReference, at the
// very URL the T02 wrote it to, to superseded (FHIR R4
// DocumentReference.status), in every write mode.
func TestMDMReplacementSupersedesParent(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			orig, _ := convertMDM(t, mode, mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true))
			repl, res := convertMDM(t, mode, mdm("T10", "D-2", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true))
			parent, own := documentURL(t, orig), documentURL(t, repl)
			if parent == own {
				t.Fatalf("the replacement is written over its parent at %s", own)
			}
			dr := documentRef(repl)
			if len(dr.RelatesTo) != 1 || dr.RelatesTo[0].Code != "replaces" || dr.RelatesTo[0].Target.Identifier.Value != "DOC-1" {
				t.Errorf("relatesTo %s", toJSON(dr.RelatesTo))
			}
			got := batchPatches(t, ChangeBatch(repl, res))
			want := `[{"op":"replace","path":"/status","value":"superseded"}]`
			if len(got) != 1 || got[parent] != want {
				t.Errorf("patches %v, want %s at %s", got, want, parent)
			}
			// Re-sent, the same: idempotent at the exchange.
			again, res2 := convertMDM(t, mode, mdm("T10", "D-2", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true))
			if toJSON(ChangeBatch(again, res2)) != toJSON(ChangeBatch(repl, res)) {
				t.Errorf("a re-sent replacement changes its batch")
			}
		})
	}
}

// TestMDMReplacementOfItself: a sender that keeps the document number on
// a replacement (TXA-12 = TXA-13) rewrites the document in place; it must
// not then mark it, its own new version, superseded.
func TestMDMReplacementOfItself(t *testing.T) {
	for _, mode := range mdmModes {
		b, res := convertMDM(t, mode, mdm("T10", "D-3", "DOC-1^EHR", "DOC-1^EHR", "AU", "AV", true))
		if got := batchPatches(t, ChangeBatch(b, res)); len(got) != 0 {
			t.Errorf("%s: a replacement of itself supersedes %v", mode, got)
		}
		if dr := documentRef(b); len(dr.RelatesTo) != 0 {
			t.Errorf("%s: relatesTo itself: %s", mode, toJSON(dr.RelatesTo))
		}
	}
}

// TestMDMCancel: MDM^T11 withdraws a document (HL7 v2 chapter 9: filed
// to the wrong patient; TXA-12 names it, no content follows). Its
// DocumentReference becomes entered-in-error ("this reference was created
// in error", FHIR R4), by a PATCH of the URL the T02 wrote it to, and the
// transaction writes no DocumentReference.
func TestMDMCancel(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			orig, _ := convertMDM(t, mode, mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true))
			b, res := convertMDM(t, mode, mdm("T11", "D-4", "DOC-1^EHR", "", "AU", "CA", false))
			if dr := documentRef(b); dr != nil {
				t.Errorf("a cancel writes a DocumentReference: %s", toJSON(dr))
			}
			got := batchPatches(t, ChangeBatch(b, res))
			want := `[{"op":"replace","path":"/status","value":"entered-in-error"}]`
			if u := documentURL(t, orig); len(got) != 1 || got[u] != want {
				t.Errorf("patches %v, want %s at %s", got, want, u)
			}
		})
	}
	c := testConverter(t)
	_, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(mdm("T11", "D-5", "", "", "AU", "CA", false), "\n", "\r")))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Field != "TXA-12" {
		t.Errorf("a cancel naming no document: %v", err)
	}
}

// TestMDMEditInPlace: MDM^T08 edits the document TXA-12 names (HL7 v2
// chapter 9: "the original document is edited"): the DocumentReference
// the T02 wrote is rewritten in place, and nothing is superseded, even
// when the sender repeats the number in TXA-13 or names the document's
// own parent there (an edited addendum).
func TestMDMEditInPlace(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			orig, _ := convertMDM(t, mode, mdm("T02", "D-1", "DOC-1^EHR", "", "IP", "AV", true))
			for _, parent := range []string{"", "DOC-1^EHR", "DOC-0^EHR"} {
				b, res := convertMDM(t, mode, mdm("T08", "D-6", "DOC-1^EHR", parent, "AU", "AV", true))
				if documentURL(t, b) != documentURL(t, orig) {
					t.Errorf("TXA-13 %q: the edit is written to %s, the original is at %s", parent, documentURL(t, b), documentURL(t, orig))
				}
				dr := documentRef(b)
				for _, r := range dr.RelatesTo {
					if r.Code == "replaces" {
						t.Errorf("TXA-13 %q: an edit replaces %s", parent, toJSON(r))
					}
				}
				if dr.Status != "current" || dr.DocStatus != "final" {
					t.Errorf("TXA-13 %q: status %q docStatus %q", parent, dr.Status, dr.DocStatus)
				}
				if got := batchPatches(t, ChangeBatch(b, res)); len(got) != 0 {
					t.Errorf("TXA-13 %q: an edit patches %v", parent, got)
				}
			}
		})
	}
}

// TestMDMStatusChange: MDM^T03 says the document TXA-12 names changed its
// completion status (authenticated, say) without sending it again: its
// DocumentReference's docStatus is PATCHed, the content stays. T04 sends
// the document with its new status and rewrites it in place. T07, an
// edit notification without the edited content, cannot be converted and
// is answered AE naming TXA (as T01/T05/T09), not refused as unknown.
func TestMDMStatusChange(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			orig, _ := convertMDM(t, mode, mdm("T02", "D-1", "DOC-1^EHR", "", "IP", "AV", true))
			b, res := convertMDM(t, mode, mdm("T03", "D-7", "DOC-1^EHR", "", "AU", "AV", false))
			if dr := documentRef(b); dr != nil {
				t.Errorf("a status change without content writes a DocumentReference: %s", toJSON(dr))
			}
			got := batchPatches(t, ChangeBatch(b, res))
			want := `[{"op":"add","path":"/docStatus","value":"final"}]`
			if u := documentURL(t, orig); len(got) != 1 || got[u] != want {
				t.Errorf("patches %v, want %s at %s", got, want, u)
			}
			b, res = convertMDM(t, mode, mdm("T04", "D-8", "DOC-1^EHR", "", "AU", "AV", true))
			if documentURL(t, b) != documentURL(t, orig) || documentRef(b).DocStatus != "final" || ChangeBatch(b, res) != nil {
				t.Errorf("T04 is not written in place as final")
			}
		})
	}
	c := testConverter(t)
	_, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(mdm("T07", "D-9", "DOC-1^EHR", "", "AU", "AV", false), "\n", "\r")))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Segment != "TXA" {
		t.Errorf("T07 without content: %v", err)
	}
}
