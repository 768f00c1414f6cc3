package ops

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/diskq"
	"golang.org/x/sys/unix"
)

// asService runs fn on a thread without the capabilities that let root
// read any folder, as the gateway's account (ferry) runs; it skips the
// test where the capabilities cannot be changed.
func asService(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan bool)
	go func() {
		// Left locked: the thread, whose capabilities were changed, ends
		// with the goroutine.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil || data[0].Effective&(1<<unix.CAP_DAC_OVERRIDE) == 0 {
			done <- false
			return
		}
		data[0].Effective &^= 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_DAC_READ_SEARCH
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- false
			return
		}
		fn()
		done <- true
	}()
	if !<-done {
		t.Skip("needs root, whose capabilities the test drops")
	}
}

// TestLiveBackupBesideLostFound: a data_dir at the root of a disk of its
// own holds lost+found, root's alone. The gateway, which runs as the ferry
// account, could not read it, and every live backup failed ("snapshot of
// ...: open .../lost+found: permission denied"), as did a backup of the
// stopped gateway run as that account. It is the file system's, not the
// gateway's data: a backup leaves it out.
func TestLiveBackupBesideLostFound(t *testing.T) {
	data := gatewayDataDir(t)
	lf := filepath.Join(data, "lost+found")
	if err := os.Mkdir(lf, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(lf, "#1234"), []byte("a fragment fsck found"), 0o600)
	if err := os.Chmod(lf, 0); err != nil { // not the account's
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(lf, 0o700) })
	var s *Snapshot
	var serr, berr error
	var buf bytes.Buffer
	asService(t, func() {
		s, serr = TakeSnapshot(data, func(fn func([]diskq.Extent) error) error { return fn(nil) })
		_, berr = WriteBackup(&buf, BackupOptions{DataDir: data})
	})
	if serr != nil {
		t.Fatalf("live snapshot: %v", serr)
	}
	defer removeSnapshot(data, s.ID)
	if berr != nil {
		t.Fatalf("backup: %v", berr)
	}
	for _, f := range s.Files {
		if strings.HasPrefix(f.Path, "lost+found") {
			t.Errorf("in the snapshot: %s", f.Path)
		}
	}
	var live bytes.Buffer
	m, err := WriteBackup(&live, BackupOptions{DataDir: data, Root: s.Dir, Sizes: s.Sizes()})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) < 4 {
		t.Errorf("live backup of %d files", len(m.Files))
	}
	for _, b := range [][]byte{buf.Bytes(), live.Bytes()} {
		err := eachMember(bytes.NewReader(b), func(hdr *tar.Header, _ io.Reader) error {
			if strings.HasPrefix(hdr.Name, "data/lost+found") {
				t.Errorf("in the archive: %s", hdr.Name)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
