package durable

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// onlyFiles lists dir's entries; a test uses it to prove no temporary
// file was left behind.
func onlyFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if err := WriteFile(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("second"), 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "second" {
		t.Fatalf("content %q, %v", got, err)
	}
	if runtime.GOOS != "windows" {
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640", st.Mode().Perm())
		}
	}
	if names := onlyFiles(t, dir); len(names) != 1 || names[0] != "a.json" {
		t.Errorf("directory holds %v, want only a.json", names)
	}
}

// TestModeIgnoresUmask: a private key must be 0600 even where the umask
// would allow more, and a public file gets its mode even under a strict
// umask.
func TestModeIgnoresUmask(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	dir := t.TempDir()
	for _, perm := range []os.FileMode{0o600, 0o644} {
		path := filepath.Join(dir, perm.String())
		if err := WriteFile(path, []byte("k"), perm); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != perm {
			t.Errorf("mode %v, want %v", st.Mode().Perm(), perm)
		}
	}
}

func TestMissingDirectoryIsNotExist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone", "a.json")
	err := WriteFile(path, []byte("x"), 0o600)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the destination", err)
	}
}

// TestReaderSeesOldOrNew replaces a file many times while readers read it:
// every read must be one of the complete contents, never a prefix, a mix or
// an empty file. On Windows a file cannot be replaced while it is open
// (the write waits the readers out: TestReplaceWhileDestinationOpen), so
// there the readers pause between reads, as real ones do, instead of
// holding the file open without a break; and an open that meets the
// rename in progress fails with a sharing violation (the rename holds the
// file open for delete, and a plain open does not share delete), which a
// reader tries again: that is neither torn nor missing.
func TestReaderSeesOldOrNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bundle.json")
	a := bytes.Repeat([]byte("A"), 256<<10)
	b := bytes.Repeat([]byte("B"), 300<<10)
	if err := WriteFile(path, a, 0o600); err != nil {
		t.Fatal(err)
	}
	const writes = 200
	done := make(chan struct{})
	var wg sync.WaitGroup
	var bad, reads int
	var mu sync.Mutex
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := os.ReadFile(path)
				var en syscall.Errno
				if runtime.GOOS == "windows" && errors.As(err, &en) && en == 32 { // ERROR_SHARING_VIOLATION
					continue
				}
				mu.Lock()
				reads++
				if err != nil || !(bytes.Equal(got, a) || bytes.Equal(got, b)) {
					bad++
				}
				mu.Unlock()
				if runtime.GOOS == "windows" {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	for i := range writes {
		data := a
		if i%2 == 0 {
			data = b
		}
		if err := WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if bad != 0 {
		t.Fatalf("%d of %d reads saw a torn or missing file", bad, reads)
	}
	if names := onlyFiles(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only the file", names)
	}
}

type failingReader struct {
	left int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, errors.New("source broke")
	}
	n := min(len(p), r.left)
	for i := range n {
		p[i] = 'N'
	}
	r.left -= n
	return n, nil
}

// TestFailedStreamKeepsOld: a source that breaks halfway leaves the old
// content in place and no temporary file.
func TestFailedStreamKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := WriteFrom(path, &failingReader{left: 100 << 10}, 0o600)
	if err == nil || !strings.Contains(err.Error(), "source broke") {
		t.Fatalf("err = %v", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "old" {
		t.Fatalf("content %q after failed write, want old", got)
	}
	if names := onlyFiles(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only f", names)
	}
}

func TestWriteFromCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	src := bytes.Repeat([]byte("0123456789"), 100_000)
	n, err := WriteFrom(path, bytes.NewReader(src), 0o600)
	if err != nil || n != int64(len(src)) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, src) {
		t.Fatal("content differs")
	}
}

// TestInterruptedWrite stands for a crash before Commit: the destination
// still has its old content and the leftover is recognisable by IsTemp,
// so its owner can remove it at the next start.
func TestInterruptedWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("half")); err != nil {
		t.Fatal(err)
	}
	// No Commit: the process "dies" here (the descriptor is closed by
	// the kernel; we close it so Windows can remove the directory).
	p.f.Close()
	got, _ := os.ReadFile(path)
	if string(got) != "old" {
		t.Fatalf("content %q, want old", got)
	}
	var temps int
	for _, n := range onlyFiles(t, dir) {
		if IsTemp(n) {
			temps++
			if filepath.Join(dir, n) != p.Name() {
				t.Errorf("temp %s is not %s", n, p.Name())
			}
		}
	}
	if temps != 1 {
		t.Fatalf("found %d temporary files, want 1", temps)
	}
	if strings.HasSuffix(p.Name(), ".json") {
		t.Errorf("temporary name %s would match *.json", p.Name())
	}
}

func TestAbortAndCommitOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "y")
	p, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p, "data")
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := onlyFiles(t, dir); len(names) != 0 {
		t.Fatalf("directory holds %v after Abort", names)
	}
	if err := p.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}

	p, err = Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p, "data")
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := p.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "data" {
		t.Fatalf("content %q", got)
	}
}

func TestIsTemp(t *testing.T) {
	for name, want := range map[string]bool{
		".a.json.tmp-123": true,
		"a.json":          false,
		"a.json.tmp":      false,
		".hidden":         false,
		"tmp-1":           false,
	} {
		if IsTemp(name) != want {
			t.Errorf("IsTemp(%q) = %v", name, !want)
		}
	}
}

func TestSyncDirAndFile(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SyncFile(path); err != nil {
		t.Fatal(err)
	}
	if err := SyncFile(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SyncFile of a missing file: %v", err)
	}
	if runtime.GOOS != "windows" {
		if err := SyncDir(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("SyncDir of a missing dir: %v", err)
		}
	}
}

func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	data := bytes.Repeat([]byte("xyz"), 50_000)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CopyFile(src, dst, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("copy differs from source")
	}
	err := CopyFile(filepath.Join(dir, "none"), dst, 0o600)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("copy of a missing file: %v", err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("failed copy changed dst")
	}
}

// TestReplaceWhileDestinationOpen: a write replaces a file that another
// handle has open for a moment (a reader of the old version; on Windows
// the virus scanner or the indexer opens every new file). Windows refuses
// to rename over an open file, so the write waits the open out instead of
// failing.
func TestReplaceWhileDestinationOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- WriteFile(path, []byte("new"), 0o600) }()
	time.Sleep(50 * time.Millisecond) // the write meets the open handle
	held.Close()
	if err := <-done; err != nil {
		t.Fatalf("write while the old version was open: %v", err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "new" {
		t.Fatalf("read %q, %v; want new", got, err)
	}
}

// TestWriteFileLongPath: a state file deep in a data folder whose path is
// longer than Windows' MAX_PATH (260) is written and replaced: the
// rename Windows makes itself (MoveFileEx with MOVEFILE_WRITE_THROUGH)
// takes the long-path form os.Rename would. The windows CI suite runs it;
// Wine takes long paths without the \\?\ form too, so there it shows the
// write-through rename works, not that the form is needed.
func TestWriteFileLongPath(t *testing.T) {
	dir := t.TempDir()
	for len(dir) < 300 {
		dir = filepath.Join(dir, "a-folder-name-of-forty-characters-long-x")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "state.json")
	for _, body := range []string{"one", "two"} {
		if err := WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatalf("WriteFile %d-byte path: %v", len(p), err)
		}
		if got, err := os.ReadFile(p); err != nil || string(got) != body {
			t.Fatalf("read back %q, %v; want %q", got, err, body)
		}
	}
}
