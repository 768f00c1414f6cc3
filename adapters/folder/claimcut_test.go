package folder

import (
	"os"
	"path/filepath"
	"testing"
)

// TestClaimCutShortAfterSidecar: claim moves an input's sidecars into
// processing/ before the input, so that a crash (or a failed rename of
// the input: a Windows writer that opened it again) between the two
// leaves the input in the folder, to be claimed whole later. With
// sidecar_required that input's sidecar is no longer beside it, and it
// waited in the folder for ever, counted as waiting, never sent; the
// sidecar already in processing/ now counts, and the two are consumed
// together.
func TestClaimCutShortAfterSidecar(t *testing.T) {
	dir := t.TempDir()
	proc := filepath.Join(dir, ".ferry", "processing")
	if err := os.MkdirAll(proc, 0o700); err != nil {
		t.Fatal(err)
	}
	// What the run before left: the sidecar claimed, the input not.
	writeFile(t, filepath.Join(proc, "fax1.json"), []byte(`{"MRN":"1001"}`))
	writeFile(t, filepath.Join(dir, "fax1.pdf"), []byte("%PDF-1.4 one"))

	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	cfg.SidecarRequired = true
	e := startEngine(t, cfg, rec)
	waitFor(t, "fax1.pdf in done/", doneHas(t, e, "fax1.pdf"))
	calls := rec.all()
	if len(calls) != 1 {
		t.Fatalf("consumed %d times, want 1", len(calls))
	}
	if in := calls[0].raw; string(in.Sidecars["fax1.json"]) != `{"MRN":"1001"}` {
		t.Errorf("consumed with sidecars %q, want fax1.json's", in.Sidecars)
	}
	if !doneHas(t, e, "fax1.json")() {
		t.Errorf("the sidecar was not archived with its input: done holds %v", inDone(t, e))
	}
}
