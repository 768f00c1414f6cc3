//go:build unix

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestBackupRefusesDataDirThroughLink: a data_dir that is a symbolic link
// (/var/lib/ferry -> /mnt/data/ferry) took `ferry backup
// /mnt/data/ferry/b.tar.gz`, the folder's own path, as outside data_dir:
// the archive went into the data folder it backs up, whole patient data
// beside the queue, and into every later backup, each holding the one
// before. It is refused, as data_dir's own path is.
func TestBackupRefusesDataDirThroughLink(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "disk", "ferry")
	q, err := diskq.Open(filepath.Join(real, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), &queue.Item{ID: "a", Key: "k", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	q.Close(context.Background())
	data := filepath.Join(base, "data")
	if err := os.Symlink(real, data); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(base, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+data+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, archive := range []string{filepath.Join(real, "b.tar.gz"), filepath.Join(real, "queue", "b.tar.gz")} {
		err := cmdBackup(context.Background(), []string{archive, "--config", cfgFile}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "inside data_dir") {
			t.Errorf("backup to %s: %v", archive, err)
		}
		if _, err := os.Stat(archive); err == nil {
			t.Errorf("%s written into the data folder", archive)
		}
	}
}
