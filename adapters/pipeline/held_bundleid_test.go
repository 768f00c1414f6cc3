package pipeline

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestHeldRemoveRefusesBundleFileID: a held entry's spilled bundle lies
// beside it as <id>.bundle.json, so "<id>.bundle" looks like an id to
// someone copying names from the folder. Remove (`ferry held discard`)
// must not take it for one: it deleted the bundle of entry <id>, which
// then could never be released.
func TestHeldRemoveRefusesBundleFileID(t *testing.T) {
	dir := t.TempDir()
	held, err := OpenHeld(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	spill := filepath.Join(dir, "spill.json")
	if err := os.WriteFile(spill, []byte(`{"resourceType":"Bundle","type":"transaction"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := held.Put(adapters.Raw{Source: "folder/fax", Format: "fax"}, &Unit{Name: "document", BodyFile: spill, Key: "k"}, "R")
	if err != nil {
		t.Fatal(err)
	}
	if err := held.Remove(id + ".bundle"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove(%q) = %v; want not found", id+".bundle", err)
	}
	if _, err := held.Get(id + ".bundle"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Get(%q) = %v; want not found", id+".bundle", err)
	}
	e, err := held.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := held.OpenBundle(e)
	if err != nil {
		t.Fatalf("entry %s lost its bundle: %v", id, err)
	}
	io.Copy(io.Discard, r)
	r.Close()
}
