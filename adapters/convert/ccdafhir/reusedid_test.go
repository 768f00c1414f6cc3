package ccdafhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestReusedEntryIDSharesNoIdentifier: a document that gives two
// different problems one id (the shared corpus's example documents do)
// makes two Conditions, the second keyed by a minted identifier. The
// second must not also carry the id the first is keyed by: two resources
// holding one identifier are two answers to Condition?identifier=...:
// every consumer searching by it gets two problems, and with
// ModeConditional the next conditional update by that id (the same
// document again, or the next one that names the problem) is refused.
func TestReusedEntryIDSharesNoIdentifier(t *testing.T) {
	raw := strings.Replace(string(readCase(t, "ccda-problem")),
		"ab1791b0-5c71-11db-b0de-0800200c9a67", "ab1791b0-5c71-11db-b0de-0800200c9a66", 1)
	if strings.Count(raw, "ab1791b0-5c71-11db-b0de-0800200c9a66") != 2 {
		t.Fatal("test document: the second problem's id was not replaced")
	}
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		b, _, err := ConvertBytes([]byte(raw), Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		held := map[string]int{}
		conds := 0
		for _, c := range entriesOfType[fhir.Condition](b) {
			conds++
			for _, id := range c.Identifier {
				held[id.System+"|"+id.Value]++
			}
		}
		if conds != 2 {
			t.Fatalf("mode %d: %d Conditions, want 2 (two different problems)", mode, conds)
		}
		for k, n := range held {
			if n > 1 {
				t.Errorf("mode %d: %d Conditions carry the identifier %s", mode, n, k)
			}
		}
	}
	// At the exchange, with ModeConditional: the document twice.
	ex := standin.Start(t)
	b, _, err := ConvertBytes([]byte(raw), Options{Mode: ModeConditional})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := Split(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		for _, p := range parts {
			js, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			answer := ex.Do(t, "POST", ex.URL, js)
			entries, _ := answer["entry"].([]any)
			for i, e := range entries {
				st, _ := e.(map[string]any)["response"].(map[string]any)["status"].(string)
				if !strings.HasPrefix(st, "2") {
					t.Errorf("round %d: entry %d answered %s", round, i, st)
				}
			}
		}
	}
	if n := ex.Count(t, "Condition"); n != 2 {
		t.Errorf("exchange holds %d Conditions, want 2", n)
	}
}

// entriesOfType are the bundle's resources of type T.
func entriesOfType[T any](b *fhir.Bundle) []*T {
	var out []*T
	for _, e := range b.Entry {
		if r, ok := e.Resource.(*T); ok {
			out = append(out, r)
		}
	}
	return out
}
