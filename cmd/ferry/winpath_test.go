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

// TestPathsPlainKeepsUNCPaths: a UNC path (a watched folder on the
// clinic's file server, \\fileserver\scans\fax) begins with two
// backslashes of its own. Written as it is (a log's path attribute, an
// os error's "open \\fileserver\...") it lost one, since every doubled
// backslash was taken for %q's escape: the log and the command's error
// line named \fileserver\scans\fax, a folder on the current drive. Only
// the escapes inside a quoted string are undone; a quoted UNC path keeps
// its two.
func TestPathsPlainKeepsUNCPaths(t *testing.T) {
	for in, want := range map[string]string{
		`\\fileserver\scans\fax`:                                   `\\fileserver\scans\fax`,
		`open \\fileserver\scans\fax\x.pdf: Access is denied.`:     `open \\fileserver\scans\fax\x.pdf: Access is denied.`,
		`folder "\\\\fileserver\\scans\\fax": not started`:         `folder "\\fileserver\scans\fax": not started`,
		`key "C:\\ferry\\k.key" of \\nas\keys`:                     `key "C:\ferry\k.key" of \\nas\keys`,
		`two "C:\\a" and "D:\\b\\" then \\srv\share "E:\\c \"d\""`: `two "C:\a" and "D:\b\" then \\srv\share "E:\c \"d\""`,
	} {
		if got := pathsPlainOn("windows", in); got != want {
			t.Errorf("pathsPlainOn(%s) = %s, want %s", in, got, want)
		}
	}
}
