package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/installer"
)

// TestRestoreWithoutConfigurationRefused: on a new machine with no
// configuration installed, `ferry restore FILE` without --config or
// --write-config restored the backup of a gateway that ran with a
// configuration file into the embedded default's data_dir, ./ferry-data
// under whatever folder the shell was in (C:\Windows\system32 in an
// administrator prompt), where no gateway looks: the waiting patients'
// data went there, and the configuration nowhere. Restore now refuses,
// naming the archive's configuration and --write-config, and writes
// nothing; an archive of a gateway that ran on the embedded default
// restores there as before.
func TestRestoreWithoutConfigurationRefused(t *testing.T) {
	if _, err := os.Stat(installer.PackageLayout().ConfigFile); err == nil {
		t.Skip("a configuration is installed on this machine")
	}
	base := t.TempDir()
	data := filepath.Join(base, "data")
	cfgFile := filepath.Join(base, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+data+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(data, "queue"), 0o700); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(base, "ferry.tar.gz")
	if err := cmdBackup(context.Background(), []string{archive, "--config", cfgFile}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	shell := t.TempDir()
	t.Chdir(shell)
	// The restore test says how to put it in place here.
	var check bytes.Buffer
	if err := cmdRestore(context.Background(), []string{"--check", archive}, &check, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "`ferry restore " + archive + " --write-config " + installer.PackageLayout().ConfigFile + "` puts it in place"; !strings.Contains(check.String(), want) {
		t.Errorf("restore --check said, without %q:\n%s", want, check.String())
	}
	for _, arg := range []string{archive, "-"} {
		if arg == "-" {
			f, err := os.Open(archive)
			if err != nil {
				t.Fatal(err)
			}
			old := os.Stdin
			os.Stdin = f
			t.Cleanup(func() { os.Stdin = old; f.Close() })
		}
		var out bytes.Buffer
		err := cmdRestore(context.Background(), []string{arg}, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--write-config") || !strings.Contains(err.Error(), "ferry.yaml") {
			t.Errorf("restore %s with no configuration: %v\n%s", arg, err, out.String())
		}
		if ents, _ := os.ReadDir(shell); len(ents) != 0 {
			t.Errorf("restore %s wrote %s into the current folder", arg, ents[0].Name())
			os.RemoveAll(filepath.Join(shell, ents[0].Name()))
		}
	}

	// A gateway that ran on the embedded default (no configuration in
	// its backup) is restored into the embedded default's data_dir.
	t.Chdir(base)
	if err := os.MkdirAll(filepath.Join(base, "ferry-data", "queue"), 0o700); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "plain.tar.gz")
	if err := cmdBackup(context.Background(), []string{plain}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Chdir(shell)
	if err := cmdRestore(context.Background(), []string{plain}, io.Discard, io.Discard); err != nil {
		t.Errorf("restore of an embedded default's backup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(shell, "ferry-data", "queue")); err != nil {
		t.Errorf("not restored into ./ferry-data: %v", err)
	}
}
