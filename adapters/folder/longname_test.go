package folder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// longName is a file name of n bytes ending in ext: a fax named after
// the patient and the sender, in a script whose letters take two bytes.
func longName(n int, ext string) string {
	s := strings.Repeat("Müller_Jörg_", n)
	for len(s) > n-len(ext) {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s + ext
}

// TestLongNamesAreArchived: a file whose name is near the file system's
// limit (255 bytes) is a legal input, and must reach failed/ (with its
// .error.txt) or done/ like any other. The names ferry made from it
// there (name.error.txt, name~2.tif, its temporary files) were too long
// for the file system: an input that could not be converted was then
// consumed again and again, never archived, and a second fax of the same
// long name stayed in processing/ after it was sent.
func TestLongNamesAreArchived(t *testing.T) {
	dir := t.TempDir()
	name := longName(250, ".tif")
	if len(name) != 250 && len(name) != 249 {
		t.Fatalf("name of %d bytes", len(name))
	}
	rec := &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
		if strings.HasPrefix(string(in.Body), "bad") {
			return queue.Permanent(errors.New("content is neither tiff nor pdf"))
		}
		return nil
	}}
	e := startEngine(t, testConfig(dir), rec)

	writeFile(t, filepath.Join(dir, name), []byte("bad 1"))
	waitFor(t, "the bad file in failed/", func() bool { return len(filesUnder(t, e.Paths().Failed)) == 2 })
	var reason []byte
	for _, f := range filesUnder(t, e.Paths().Failed) {
		if strings.HasSuffix(f, ".error.txt") {
			reason, _ = os.ReadFile(filepath.Join(e.Paths().Failed, f))
		}
	}
	if !strings.Contains(string(reason), "file: "+name+"\n") || !strings.Contains(string(reason), "reason: content is neither tiff nor pdf") {
		t.Errorf("error.txt does not name the file and the reason:\n%s", reason)
	}

	writeFile(t, filepath.Join(dir, name), []byte("bad 2"))
	waitFor(t, "the second bad file in failed/", func() bool { return len(filesUnder(t, e.Paths().Failed)) == 4 })

	for i, body := range []string{"fax one", "fax two"} {
		writeFile(t, filepath.Join(dir, name), []byte(body))
		waitFor(t, "the fax in done/", func() bool { return len(inDone(t, e)) == i+1 })
	}
	waitPasses(t, e, 2)
	if left := filesUnder(t, e.Paths().Processing); len(left) != 0 {
		t.Errorf("processing still holds %d files", len(left))
	}
	if n := rec.count(); n != 4 {
		t.Errorf("consumed %d times, want 4 (each input once)", n)
	}
}
