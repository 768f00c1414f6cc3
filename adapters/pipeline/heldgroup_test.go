package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestWithGroupsUnreadableMember: whether an entry that cannot be read
// (damaged, or sealed with a key not at hand) belongs to a group cannot
// be told, so a group is not expanded past it. It was left out: releasing
// a T10's supersede batch whose document entry could not be read sent the
// batch alone, the old version superseded with no current one at the
// exchange, which groups exist to prevent. An unreadable entry named
// itself still passes as it is (for the caller to report, or to discard
// it), and so do ungrouped entries.
func TestWithGroupsUnreadableMember(t *testing.T) {
	held, err := OpenHeld(filepath.Join(t.TempDir(), "held"))
	if err != nil {
		t.Fatal(err)
	}
	in := adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "t10"}
	var ids []string
	for _, u := range []Unit{
		{Name: "document", Bundle: []byte(`{"resourceType":"Bundle","id":"doc"}`), Key: "p1"},
		{Name: "supersede batch", Bundle: []byte(`{"resourceType":"Bundle","id":"batch"}`), Key: "p1"},
	} {
		id, err := held.PutGroup(in, &u, "R", "G1")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	alone, err := held.Put(in, &Unit{Name: "other", Bundle: []byte(`{}`), Key: "p2"}, "R")
	if err != nil {
		t.Fatal(err)
	}
	if all, _, err := held.WithGroups([]string{ids[1]}); err != nil || !slices.Equal(all, ids) {
		t.Fatalf("readable group: %v %v, want %v", all, err, ids)
	}
	// The document's entry is damaged.
	if err := os.WriteFile(filepath.Join(held.Dir(), ids[0]+".json"), []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if all, _, err := held.WithGroups([]string{ids[1]}); err == nil {
		t.Errorf("supersede batch with its document unreadable: %v, want an error (released alone it leaves no current version)", all)
	}
	for _, named := range [][]string{{ids[0]}, {alone}} {
		if all, _, err := held.WithGroups(named); err != nil || !slices.Equal(all, named) {
			t.Errorf("%v: %v %v, want it as it is", named, all, err)
		}
	}
}
