//go:build !windows

package outbox

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestReadersReachTheOutbox: under the service's umask (the systemd
// unit's UMask=0077) and in a data folder made 0700 (by ferry, or the
// package), a reader in the service account's group could not reach the
// outbox: the folder was made 0700 and data_dir let no one through. The
// outbox is 0750 whatever the umask, and Reachable gives data_dir the
// group's search bit alone (0710): its readers open data_dir/outbox by
// name, and cannot list data_dir. An administrator's wider mode stays.
func TestReadersReachTheOutbox(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Reachable(data); err != nil {
		t.Fatal(err)
	}
	s := New(filepath.Join(data, "outbox"))
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	it := &queue.Item{ID: "01JABCDEF0123456789XYZABCD", Body: []byte(`{"resourceType":"Bundle"}`)}
	if err := s.Send(ctx, it); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{data: 0o710, s.Dir(): 0o750, filepath.Join(s.Dir(), it.ID+".json"): 0o640} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %04o", p, st.Mode().Perm(), err, want)
		}
	}

	if err := os.Chmod(s.Dir(), 0o770); err != nil { // a reader that also removes what it took
		t.Fatal(err)
	}
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(s.Dir()); st.Mode().Perm() != 0o770 {
		t.Errorf("an administrator's 0770 became %v", st.Mode().Perm())
	}
}
