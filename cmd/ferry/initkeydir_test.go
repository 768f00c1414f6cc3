package main

import (
	"io"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/queue/durable"
)

// TestInitKeySyncsNewFolder: `ferry init --encryption-key
// /etc/ferry/keys/ferry.key` made the key's missing folder with
// os.MkdirAll, and the key file's own sync (seal.GenerateKeyFile) is of
// that folder only, so the folder's entry in its parent was never synced:
// a power cut after the gateway sealed its first data could keep the
// sealed data (fsynced) and lose the only key that opens it. Every folder
// made is synced into its parent, as durable.MkdirAll does for data_dir
// (faba165), and so is the folder --out names when init makes it.
func TestInitKeySyncsNewFolder(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "etc", "keys", "ferry.key")
	var mu sync.Mutex
	synced := map[string]bool{}
	defer durable.TraceSyncDir(func(d string) {
		mu.Lock()
		synced[filepath.Clean(d)] = true
		mu.Unlock()
	})()
	args := []string{"--encryption-key", key, "--data-dir", filepath.Join(dir, "data"), "--out", filepath.Join(dir, "conf", "ferry.yaml")}
	if err := runInit(args, nil, false, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, d := range []string{dir, filepath.Join(dir, "etc"), filepath.Join(dir, "etc", "keys"), filepath.Join(dir, "conf")} {
		if !synced[d] {
			t.Errorf("%s was not synced after ferry init made a folder in it for the key or the file", d)
		}
	}
}
