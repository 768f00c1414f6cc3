package ccdafhir

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// versionSet is an in-memory registry of replaced versions, as the
// pipeline keeps one on disk (queue/replaced).
type versionSet map[string]bool

func (s versionSet) has(key string) bool { return s[key] }

func docRef(t *testing.T, b *fhir.Bundle) *fhir.DocumentReference {
	t.Helper()
	var out []*fhir.DocumentReference
	for _, e := range b.Entry {
		if dr, ok := e.Resource.(*fhir.DocumentReference); ok {
			out = append(out, dr)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d DocumentReferences, want 1", len(out))
	}
	return out[0]
}

// TestOlderVersionAfterNewerIsSuperseded: version 2 of a document
// (relatedDocument RPLC of DOC-1) is accepted before version 1 arrives
// (a backfill of old exports in folder order, a retried input). Version
// 2's PATCH found nothing to supersede then; version 1 must still not
// reach the exchange current, or an IHE MHD consumer shows two current
// versions of one document. With the key version 2 recorded, version 1
// is written superseded, in every write mode. Another patient's
// document with the same id stays current.
func TestOlderVersionAfterNewerIsSuperseded(t *testing.T) {
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		reg := versionSet{}
		opts := Options{Mode: mode, Replaced: reg.has}
		_, r2, err := ConvertBytes(versionDoc(2, "", ""), opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(r2.Replaces) != 1 || len(r2.Supersedes) != 1 || r2.Superseded {
			t.Fatalf("mode %d: replaces %v supersedes %v superseded %v", mode, r2.Replaces, r2.Supersedes, r2.Superseded)
		}
		if strings.Contains(r2.Replaces[0], "DOC-1") || strings.Contains(r2.Replaces[0], "MRN") {
			t.Errorf("mode %d: the version key %q carries the document or patient id", mode, r2.Replaces[0])
		}
		// Before anything was recorded, version 1 is current.
		b1, r1, err := ConvertBytes(versionDoc(1, "", ""), opts)
		if err != nil {
			t.Fatal(err)
		}
		if dr := docRef(t, b1); dr.Status != "current" || r1.Superseded {
			t.Errorf("mode %d: unreplaced version 1 is %s", mode, dr.Status)
		}
		for _, k := range r2.Replaces {
			reg[k] = true
		}
		b1, r1, err = ConvertBytes(versionDoc(1, "", ""), opts)
		if err != nil {
			t.Fatal(err)
		}
		if dr := docRef(t, b1); dr.Status != "superseded" || !r1.Superseded {
			t.Errorf("mode %d: version 1 after version 2 is %s, want superseded", mode, dr.Status)
		}
		// Version 2 itself stays current, and so does the same
		// document id filed for another patient.
		b2, _, _ := ConvertBytes(versionDoc(2, "", ""), opts)
		if dr := docRef(t, b2); dr.Status != "current" {
			t.Errorf("mode %d: version 2 is %s", mode, dr.Status)
		}
		other := strings.Replace(string(otherPatientDoc("", "")), `extension="DOC-99"`, `extension="DOC-1"`, 1)
		bo, _, err := ConvertBytes([]byte(other), opts)
		if err != nil {
			t.Fatal(err)
		}
		if dr := docRef(t, bo); dr.Status != "current" || dr.MasterIdentifier.Value != "DOC-1" {
			t.Errorf("mode %d: another patient's DOC-1 is %s (%s)", mode, dr.Status, dr.MasterIdentifier.Value)
		}
	}
}

// TestMiddleVersionKeepsItsRelation: version 3 arrives first, then
// version 2 (which replaces version 1): version 2 is superseded, keeps
// its relatesTo replaces DOC-1 and still supersedes version 1.
func TestMiddleVersionKeepsItsRelation(t *testing.T) {
	reg := versionSet{}
	opts := Options{Replaced: reg.has}
	_, r3, err := ConvertBytes(versionDoc(3, "", ""), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range r3.Replaces {
		reg[k] = true
	}
	b2, r2, err := ConvertBytes(versionDoc(2, "", ""), opts)
	if err != nil {
		t.Fatal(err)
	}
	dr := docRef(t, b2)
	if dr.Status != "superseded" || len(dr.RelatesTo) != 1 || dr.RelatesTo[0].Code != "replaces" || dr.RelatesTo[0].Target.Identifier.Value != "DOC-1" {
		t.Errorf("version 2: status %s relatesTo %+v", dr.Status, dr.RelatesTo)
	}
	if len(r2.Supersedes) != 1 || SupersedeBatch(b2, r2) == nil {
		t.Errorf("version 2 no longer supersedes version 1: %v", r2.Supersedes)
	}
}

// TestLateVersionKeepsNewerEntries: the replacement (version 2: the
// problem resolved, a latex allergy added) reached a fresh exchange
// first; its supersede PATCH found no version 1 (404). Version 1 arrives
// late. Its DocumentReference must be superseded and version 2's stay
// current, and version 1's entries must not put its older values back
// over version 2's (the resolved problem active again): they reach the
// exchange inside its attached document only, and Skipped counts them.
func TestLateVersionKeepsNewerEntries(t *testing.T) {
	pen := fmt.Sprintf(idlessPenicillin, "active")
	reg := versionSet{}
	opts := Options{Replaced: reg.has}
	v2, r2, err := ConvertBytes(versionDoc(2, idlessLatex+pen, fmt.Sprintf(idlessHypertension, "completed")), opts)
	if err != nil {
		t.Fatal(err)
	}
	ex := standin.Start(t)
	post(t, ex, v2)
	if st := post(t, ex, SupersedeBatch(v2, r2)); len(st) != 1 || !strings.HasPrefix(st[0], "404") {
		t.Fatalf("supersede of a version the exchange never had: %v", st)
	}
	for _, k := range r2.Replaces {
		reg[k] = true
	}
	v1, r1, err := ConvertBytes(versionDoc(1, pen, fmt.Sprintf(idlessHypertension, "active")), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range post(t, ex, v1) {
		if !strings.HasPrefix(st, "20") {
			t.Fatalf("late version 1: %s", st)
		}
	}
	if r1.Skipped["superseded version Condition"] != 1 || r1.Skipped["superseded version AllergyIntolerance"] != 1 || r1.Counts["Condition"] != 0 {
		t.Errorf("skipped %v counts %v", r1.Skipped, r1.Counts)
	}
	for i, id := range []string{ids(v1, "DocumentReference")[0], ids(v2, "DocumentReference")[0]} {
		dr := ex.Do(t, "GET", ex.URL+"/DocumentReference/"+id, nil)
		if want := []string{"superseded", "current"}[i]; dr["status"] != want {
			t.Errorf("v%d DocumentReference status %v, want %s", i+1, dr["status"], want)
		}
	}
	cond := ex.Do(t, "GET", ex.URL+"/Condition/"+ids(v2, "Condition")[0], nil)
	if cs, _ := json.Marshal(cond["clinicalStatus"]); !strings.Contains(string(cs), `"resolved"`) && !strings.Contains(string(cs), `"inactive"`) {
		t.Errorf("the late version 1 made the problem %s again", cs)
	}
	if n := ex.Count(t, "AllergyIntolerance"); n != 2 {
		t.Errorf("allergies %d, want version 2's two", n)
	}
	// In every write mode, what the late version still writes refers
	// only to what it writes (a urn:uuid of a left-out entry would fail
	// the whole transaction).
	urn := regexp.MustCompile(`"reference":"(urn:uuid:[^"]+)"`)
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		b, _, err := ConvertBytes(versionDoc(1, pen, fmt.Sprintf(idlessHypertension, "active")), Options{Mode: mode, Replaced: reg.has})
		if err != nil {
			t.Fatal(err)
		}
		full := map[string]bool{}
		for _, e := range b.Entry {
			full[e.FullURL] = true
		}
		js, _ := json.Marshal(b)
		for _, m := range urn.FindAllStringSubmatch(string(js), -1) {
			if !full[m[1]] {
				t.Errorf("mode %d: reference %s to an entry left out", mode, m[1])
			}
		}
		if docRef(t, b).Status != "superseded" {
			t.Errorf("mode %d: not superseded", mode)
		}
	}
}
