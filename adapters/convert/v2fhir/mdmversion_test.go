package v2fhir

import (
	"strings"
	"testing"
)

// versionSet is an in-memory registry of replaced versions, as the
// pipeline keeps one on disk (queue/replaced).
type versionSet map[string]bool

func (s versionSet) has(key string) bool { return s[key] }

func (s versionSet) record(res Result) {
	for _, k := range res.Replaces {
		s[k] = true
	}
}

// convertWith converts msg with the registry reg.
func convertWith(t *testing.T, mode Mode, reg versionSet, msg string) (string, Result, string, []string) {
	t.Helper()
	c := testConverter(t)
	c.Mode = mode
	c.Replaced = reg.has
	b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
	if err != nil {
		t.Fatalf("%s: %v", mode, err)
	}
	dr := documentRef(b)
	if dr == nil {
		t.Fatalf("%s: no DocumentReference", mode)
	}
	var rel []string
	for _, r := range dr.RelatesTo {
		rel = append(rel, r.Code+" "+r.Target.Identifier.Value)
	}
	return dr.Status, res, documentURL(t, b), rel
}

// TestMDMOriginalAfterReplacement: the T10 that replaces DOC-1 is
// accepted before the T02 that filed DOC-1 (an interface engine's
// queue replayed out of order, a T02 retried from an error queue). The
// T10's PATCH found no DOC-1 to supersede; the T02 must then not write
// DOC-1 current, nor may a later edit (T08) or status change with
// content (T04) of it. The same number filed for another patient stays
// current. Without a registry (ferry convert) nothing changes.
func TestMDMOriginalAfterReplacement(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			reg := versionSet{}
			if st, _, _, _ := convertWith(t, mode, reg, mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true)); st != "current" {
				t.Fatalf("an original before any replacement is %s", st)
			}
			_, res, _, _ := convertWith(t, mode, reg, mdm("T10", "D-2", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true))
			if len(res.Replaces) == 0 {
				t.Fatal("the replacement names nothing to record")
			}
			for _, k := range res.Replaces {
				if strings.Contains(k, "DOC-") || strings.Contains(k, "A100") {
					t.Errorf("registry key %q carries the document or patient id", k)
				}
			}
			reg.record(res)
			for _, msg := range []string{
				mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true),
				mdm("T08", "D-3", "DOC-1^EHR", "", "AU", "AV", true),
				mdm("T04", "D-4", "DOC-1^EHR", "", "LA", "AV", true),
			} {
				if st, _, _, _ := convertWith(t, mode, reg, msg); st != "superseded" {
					t.Errorf("%s of the replaced DOC-1 after its T10: status %s, want superseded", strings.Split(msg, "|")[8], st)
				}
			}
			if st, _, _, _ := convertWith(t, mode, reg, mdm("T02", "D-5", "DOC-9^EHR", "", "AU", "AV", true)); st != "current" {
				t.Errorf("an unrelated document is superseded")
			}
			if st, _, _, _ := convertWith(t, mode, reg, mdm("T02", "D-6", "DOC-2^EHR", "", "AU", "AV", true)); st != "current" {
				t.Errorf("the replacement itself is %s", st)
			}
			other := strings.Replace(mdm("T02", "D-7", "DOC-1^EHR", "", "AU", "AV", true), "A100^^^HOSP^MR", "B200^^^HOSP^MR", 1)
			if st, _, _, _ := convertWith(t, mode, reg, other); st != "current" {
				t.Errorf("another patient's DOC-1 is %s", st)
			}
			if st, _, _, _ := convertWith(t, mode, nil, mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true)); st != "current" {
				t.Errorf("without a registry DOC-1 is %s", st)
			}
			// A withdrawn original stays withdrawn.
			if st, _, _, _ := convertWith(t, mode, reg, mdm("T04", "D-8", "DOC-1^EHR", "", "AU", "CA", true)); st != "entered-in-error" {
				t.Errorf("a cancelled DOC-1 is %s", st)
			}
		})
	}
}

// TestMDMEditKeepsRelation: an edit (T08) of a replacement rewrites its
// DocumentReference in place. Before the registry it dropped the
// relatesTo replaces the T10 had written (checked first, below, without a
// registry), and an MHD consumer lost the link to the version it
// replaced. With the registry, an edit whose TXA-13 names the parent
// keeps the relation the T10 (or an addendum's T06) recorded; it never
// invents one the registry does not know.
func TestMDMEditKeepsRelation(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			reg := versionSet{}
			_, res, url, rel := convertWith(t, mode, reg, mdm("T10", "D-2", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true))
			if len(rel) != 1 || rel[0] != "replaces DOC-1" {
				t.Fatalf("the T10's relatesTo %v", rel)
			}
			edit := mdm("T08", "D-3", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true)
			if _, _, u, rel := convertWith(t, mode, nil, edit); u != url || len(rel) != 0 {
				t.Fatalf("without a registry: edit at %s (T10 at %s) relatesTo %v", u, url, rel)
			}
			reg.record(res)
			st, eres, u, rel := convertWith(t, mode, reg, edit)
			if u != url || st != "current" || len(rel) != 1 || rel[0] != "replaces DOC-1" {
				t.Errorf("edit of the replacement: at %s status %s relatesTo %v, want %s current replaces DOC-1", u, st, rel, url)
			}
			if len(eres.Changes) != 0 {
				t.Errorf("the edit changes %v", eres.Changes)
			}
			// An edited addendum keeps appends; its parent stays current.
			_, ares, _, _ := convertWith(t, mode, reg, mdm("T06", "D-4", "DOC-5^EHR", "DOC-4^EHR", "AU", "AV", true))
			reg.record(ares)
			if _, _, _, rel := convertWith(t, mode, reg, mdm("T08", "D-5", "DOC-5^EHR", "DOC-4^EHR", "AU", "AV", true)); len(rel) != 1 || rel[0] != "appends DOC-4" {
				t.Errorf("edited addendum relatesTo %v", rel)
			}
			if st, _, _, _ := convertWith(t, mode, reg, mdm("T02", "D-6", "DOC-4^EHR", "", "AU", "AV", true)); st != "current" {
				t.Errorf("an addendum's parent is %s", st)
			}
			// An edit naming a parent the registry knows no relation to
			// relates to nothing, as before.
			if _, _, _, rel := convertWith(t, mode, reg, mdm("T08", "D-7", "DOC-2^EHR", "DOC-0^EHR", "AU", "AV", true)); len(rel) != 0 {
				t.Errorf("edit naming an unrelated parent: relatesTo %v", rel)
			}
		})
	}
}
