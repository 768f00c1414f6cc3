package ops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestCheckEncryptionMerges: a gateway stopped across a key rotation
// leaves merges.log sealed with the previous key until its next start
// seals it anew; until then doctor must not call that key removable, or
// the start would find merge records no configured key opens. After a
// start with both keys, nothing needs the previous key.
func TestCheckEncryptionMerges(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keyFile, oldFile := filepath.Join(dir, "new.key"), filepath.Join(dir, "old.key")
	cur, err := seal.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	old, err := seal.GenerateKeyFile(oldFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(data, merges.FileName)
	reg, err := merges.Open(path, merges.Options{Key: old})
	if err != nil {
		t.Fatal(err)
	}
	m := merges.Merge{Retired: merges.ID{System: "urn:oid:1.2.3", Value: "A1"}, Survivor: merges.ID{System: "urn:oid:1.2.3", Value: "B2"}}
	if err := reg.Record(m); err != nil {
		t.Fatal(err)
	}
	reg.Close()
	cfg, err := config.Parse("t", []byte("data_dir: "+data+"\nencryption: {key_file: "+keyFile+", previous_key_files: ["+oldFile+"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cs := CheckEncryption(cfg)
	if len(cs) != 2 || cs[1].Name != oldFile || !strings.Contains(cs[1].Detail, "still opens 1 patient merge record") {
		t.Fatalf("previous key with a merge record: %+v", cs)
	}
	// The gateway's next start (both keys) seals the file anew.
	reg, err = merges.Open(path, merges.Options{Key: cur.WithPrevious(old)})
	if err != nil {
		t.Fatal(err)
	}
	reg.Close()
	cs = CheckEncryption(cfg)
	if len(cs) != 2 || !strings.Contains(cs[1].Detail, "can be removed") {
		t.Fatalf("after the re-sealing start: %+v", cs)
	}
}
