package replaced

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSurvivesReopen: what Add returned for is on disk, and a reopened
// registry (the gateway restarted, a backfill run after the gateway's)
// knows it.
func TestSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Replaced("ccda DocumentReference/a") {
		t.Fatal("an empty registry knows a key")
	}
	if err := r.Add("ccda DocumentReference/a", "v2 replaced b"); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("ccda DocumentReference/a"); err != nil {
		t.Fatal(err)
	}
	if !r.Replaced("ccda DocumentReference/a") || !r.Replaced("v2 replaced b") || r.Replaced("v2 replaced c") || r.Len() != 2 {
		t.Fatalf("after Add: len %d", r.Len())
	}
	// Not closed: a crash after Add returned keeps the keys.
	r2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Replaced("ccda DocumentReference/a") || !r2.Replaced("v2 replaced b") || r2.Replaced("v2 replaced c") {
		t.Error("reopened registry lost a key")
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	r.Close()
}

// TestTornTailKeepsEarlierKeys: a crash in the middle of an append leaves
// a partial record; the keys before it survive.
func TestTornTailKeepsEarlierKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add("k1", "k2"); err != nil {
		t.Fatal(err)
	}
	r.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("torn record"))
	f.Close()
	r, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Replaced("k1") || !r.Replaced("k2") {
		t.Error("keys before a torn tail lost")
	}
}

// TestRetentionForgetsOldest: the bound is MaxKeys, oldest first; the
// newest keys stay.
func TestRetentionForgetsOldest(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	r, err := Open(path, Options{MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, k := range []string{"k1", "k2", "k3"} {
		if err := r.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	if r.Replaced("k1") || !r.Replaced("k2") || !r.Replaced("k3") {
		t.Error("retention did not keep the newest two")
	}
	var nilReg *Registry
	if nilReg.Replaced("k2") {
		t.Error("a nil registry knows a key")
	}
}
