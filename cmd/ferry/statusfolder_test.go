package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusFolderNotThereAdvice: a folder source whose path is not there
// (a share not mounted yet) showed in `ferry status` as "FOLDER STUCK:
// ... (not started: no such file or directory; 1 failed attempts, ...) -
// check the permissions of PATH", sending the contractor to chmod a folder
// that does not exist, though ferry only waits for it to appear. The line
// now says the folder is not there and that ferry starts it once it is.
func TestStatusFolderNotThereAdvice(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "share", "exports")
	cfgFile := filepath.Join(dir, "ferry.yaml")
	yaml := fmt.Sprintf("data_dir: %q\nstatus: {listen: %q}\nsources:\n  folders:\n    - {name: ehr, kind: ehr, path: %q}\n",
		filepath.Join(dir, "data"), freeAddr(t), missing)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	runGateway(t, cfg)
	var out bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(out.String()) {
		if strings.HasPrefix(l, "FOLDER STUCK:") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no FOLDER STUCK line:\n%s", out.String())
	}
	for _, bad := range []string{"check the permissions", "1 failed attempts"} {
		if strings.Contains(line, bad) {
			t.Errorf("FOLDER STUCK line says %q: %s", bad, line)
		}
	}
	for _, want := range []string{"not there", missing, "once it is there"} {
		if !strings.Contains(line, want) {
			t.Errorf("FOLDER STUCK line lacks %q: %s", want, line)
		}
	}
}
