package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheckPathAsTyped: a problem that quotes a path shows it as
// the administrator typed it. On Windows the quoting (%q) doubled every
// backslash ("C:\\ProgramData\\ferry\\keys\\"), which is not the path
// Explorer shows; the windows CI suite runs this test under Wine. Also:
// `config check` takes --config as every other command does.
func TestConfigCheckPathAsTyped(t *testing.T) {
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys dir") + string(filepath.Separator)
	cfgFile := filepath.Join(dir, "ferry.yaml")
	yaml := "data_dir: '" + filepath.Join(dir, "data") + "'\nencryption:\n  key_file: '" + keyDir + "'\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"config", "check", "--config", cfgFile}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	if want := `"` + keyDir + `" names a directory`; !strings.Contains(out.String(), want) {
		t.Errorf("problem line %q does not quote the path as typed: want %s", out.String(), want)
	}
}

func TestPathsPlainOn(t *testing.T) {
	quoted := `open "C:\\ProgramData\\ferry\\queue": access denied`
	if got := pathsPlainOn("windows", quoted); got != `open "C:\ProgramData\ferry\queue": access denied` {
		t.Errorf("windows: %s", got)
	}
	if got := pathsPlainOn("linux", quoted); got != quoted {
		t.Errorf("linux changed the message: %s", got)
	}
}
