package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
)

// TestConfigCheckListsEveryProblem: `ferry config check` lists an unknown
// key and the other problems of the file in one go, each with its line
// and field path, and `ferry run` refuses to start on the same file.
func TestConfigCheckListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ferry.yaml")
	yaml := "data_dir: " + filepath.Join(dir, "data") + "\nsources:\n  mllp:\n    - name: lab\n      listen: 127.0.0.1:2575\n      max_conn: 10\nlog:\n  level: loud\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("config check: %v\n%s", err, out.String())
	}
	want := []string{
		file + `: line 6: sources.mllp[0].max_conn: unknown key "max_conn"`,
		file + `: line 8: log.level: must be one of debug, info, warn, error; got "loud"`,
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("config check said:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
	err = cmdRun(context.Background(), []string{"--config", file}, io.Discard, io.Discard)
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("run started or said %v", err)
	}
}
