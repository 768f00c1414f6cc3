package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/seal"
)

func parseKeyConfig(t *testing.T, keyFile string) *Config {
	t.Helper()
	c, err := Parse("ferry.yaml", []byte("data_dir: "+filepath.Join(t.TempDir(), "data")+"\nencryption:\n  key_file: "+keyFile+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLoadKey: a good key file loads (with the id GenerateKeyFile gave);
// a missing, malformed or group-readable one is a problem at
// encryption.key_file with its line; no section means no key.
func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ferry.key")
	want, err := seal.GenerateKeyFile(good)
	if err != nil {
		t.Fatal(err)
	}
	k, err := parseKeyConfig(t, good).LoadKey()
	if err != nil || k.ID() != want.ID() {
		t.Fatalf("LoadKey = %v, %v", k, err)
	}
	if k, err := Default().LoadKey(); k != nil || err != nil {
		t.Fatalf("without encryption: %v, %v", k, err)
	}

	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	open := filepath.Join(dir, "open.key")
	os.WriteFile(open, []byte(strings.Repeat("A", 43)+"=\n"), 0o644)
	cases := map[string]string{
		filepath.Join(dir, "none.key"): "does not exist (make one with: ferry keygen",
		bad:                            "not base64",
	}
	if runtime.GOOS != "windows" {
		cases[open] = "chmod 600"
	}
	for path, msg := range cases {
		_, err := parseKeyConfig(t, path).LoadKey()
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 {
			t.Fatalf("%s: %v", path, err)
		}
		p := ce.Problems[0]
		if p.Path != "encryption.key_file" || p.Line != 3 || ce.File != "ferry.yaml" || !strings.Contains(strings.ToLower(p.Msg), strings.ToLower(msg)) {
			t.Errorf("%s: problem %+v, want %q", path, p, msg)
		}
	}
}
