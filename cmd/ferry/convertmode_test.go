package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// `ferry convert --out` writes PHI: its folder and files are owner-only,
// also where an earlier run left a wider file of the same name.
func TestConvertOutModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	out := filepath.Join(t.TempDir(), "bundles")
	in := "../../testdata/hl7v2/batch-two-messages.hl7"
	if err := cmdConvert(context.Background(), []string{"--out", out, in}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(out, "batch-two-messages.1.json")
	if err := os.Chmod(first, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmdConvert(context.Background(), []string{"--out", out, in}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(files) == 0 {
		t.Fatal("no bundle written")
	}
	modes := map[string]os.FileMode{out: 0o700}
	for _, f := range files {
		modes[f] = 0o600
	}
	for path, want := range modes {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
}

// TestConvertFormatsOfferedAreFilesFormats: --format's list (in --help
// and in the error for a format it does not know) is what a file given
// to convert may be; the error offered xdm-document too, the form the
// EHR drop gives a document it took out of an XDM package with the XDS
// metadata beside it, which no file on the command line can be ("no
// xdm.entry in the input's metadata"). It is refused as unknown.
func TestConvertFormatsOfferedAreFilesFormats(t *testing.T) {
	f := filepath.Join(t.TempDir(), "a.pdf")
	if err := os.WriteFile(f, []byte("%PDF-1.4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"convert", "--format", "bogus", f}, &out, &errOut); code != 2 {
		t.Fatalf("--format bogus: exit %d, want 2", code)
	}
	if strings.Contains(errOut.String(), "xdm-document") {
		t.Errorf("convert offers a format no file can be:\n%s", errOut.String())
	}
	errOut.Reset()
	if code := runMain(context.Background(), []string{"convert", "--format", "xdm-document", f}, &out, &errOut); code != 2 {
		t.Errorf("--format xdm-document: exit %d, want 2 (not a format of files)\n%s", code, errOut.String())
	}
}
