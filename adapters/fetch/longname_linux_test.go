package fetch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNameTooLongForANumberIsSaid: an export whose name is as long as
// the folder's file system allows (255 bytes), arriving while the folder
// still holds an unread file of that name, cannot be given its numbered
// name (name.1.ext is too long); the poll said "the folder holds 1000
// files named like it", which sent the contractor looking for files that
// are not there, since every name the file system refused was taken for
// one in use. It says the name is too long, and the file comes once the
// folder has taken the other.
func TestNameTooLongForANumberIsSaid(t *testing.T) {
	f := newFixture(t)
	name := strings.Repeat("x", 251) + ".hl7"
	if err := os.WriteFile(filepath.Join(f.local, name), []byte("MSH|unread\r"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.put(t, name, "MSH|new\r")
	fe := f.fetcher(t)
	poll(t, fe)
	err := fe.Poll(context.Background())
	if err == nil || strings.Contains(err.Error(), "1000") || !strings.Contains(err.Error(), "file name too long") {
		t.Errorf("poll: %v; want the name too long", err)
	}
	// The folder takes the unread one.
	if err := os.Remove(filepath.Join(f.local, name)); err != nil {
		t.Fatal(err)
	}
	poll(t, fe)
	if b, err := os.ReadFile(filepath.Join(f.local, name)); err != nil || string(b) != "MSH|new\r" {
		t.Errorf("the new file: %q, %v", b, err)
	}
}
