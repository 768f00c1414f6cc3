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

// TestPreviousKeyFiles: previous keys load as read-only keys of the
// configured one; a bad one is a problem at encryption.previous_key_files[i]
// with its line; previous keys without key_file, inside data_dir, or
// listed twice are validation problems.
func TestPreviousKeyFiles(t *testing.T) {
	dir := t.TempDir()
	cur := filepath.Join(dir, "new.key")
	old := filepath.Join(dir, "old.key")
	kc, err := seal.GenerateKeyFile(cur)
	if err != nil {
		t.Fatal(err)
	}
	ko, err := seal.GenerateKeyFile(old)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	parse := func(enc string) (*Config, error) {
		return Parse("ferry.yaml", []byte("data_dir: "+data+"\nencryption:\n"+enc))
	}
	c, err := parse("  key_file: " + cur + "\n  previous_key_files:\n    - " + old + "\n")
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.LoadKey()
	if err != nil || k.ID() != kc.ID() || !k.Knows(ko.ID()) {
		t.Fatalf("LoadKey = %v, %v", k, err)
	}

	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	for _, tc := range []struct{ file, msg string }{
		{bad, "not base64"},
		{filepath.Join(dir, "none.key"), "does not exist"},
	} {
		c, err := parse("  key_file: " + cur + "\n  previous_key_files:\n    - " + old + "\n    - " + tc.file + "\n")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.LoadKey()
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if p := ce.Problems[0]; p.Path != "encryption.previous_key_files[1]" || p.Line != 6 || !strings.Contains(p.Msg, tc.msg) {
			t.Errorf("%s: problem %+v, want %q", tc.file, p, tc.msg)
		}
	}

	for enc, want := range map[string]string{
		"  previous_key_files: [" + old + "]\n":                                       "encryption.previous_key_files",
		"  key_file: " + cur + "\n  previous_key_files: [" + data + "/k]\n":           "encryption.previous_key_files[0]",
		"  key_file: " + cur + "\n  previous_key_files: [" + old + ", " + old + "]\n": "encryption.previous_key_files[1]",
		"  key_file: " + cur + "\n  previous_key_files: [" + cur + "]\n":              "encryption.previous_key_files[0]",
	} {
		_, err := parse(enc)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("%q: %v", enc, err)
		}
		found := false
		for _, p := range ce.Problems {
			found = found || p.Path == want
		}
		if !found {
			t.Errorf("%q: problems %+v, want one at %s", enc, ce.Problems, want)
		}
	}
}
