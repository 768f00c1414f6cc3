package ccdafhir

import (
	"strings"
	"testing"

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
