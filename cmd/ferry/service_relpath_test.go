package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallRefusesRelativePaths: a service does not start in the folder
// `ferry install` runs in (the unit starts it in data_dir, Windows in
// System32), and install already refused a relative data_dir and log.file
// so; a relative folder source's path or TLS file was taken, so the
// service watched a folder nobody fills (System32\inbox) and looked for
// its certificate where there is none, while ferry doctor, run beside the
// file, passed. install refuses each, naming it.
func TestInstallRefusesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "ferry-data")
	for _, tc := range []struct{ name, yaml, want string }{
		{"folder path", "sources:\n  folders:\n    - {name: ehr, kind: ehr, path: exports}\n", `sources.folders[0].path "exports"`},
		{"folder done_dir", "sources:\n  folders:\n    - {name: ehr, kind: ehr, path: " + filepath.ToSlash(filepath.Join(dir, "in")) + ", done_dir: archive}\n", `sources.folders[0].done_dir "archive"`},
		{"exchange certificate", "exchange:\n  url: https://hie.example.org/fhir\n  tls: {cert_file: client.pem, key_file: " + filepath.ToSlash(filepath.Join(dir, "client.key")) + "}\n", `exchange.tls.cert_file "client.pem"`},
		{"encryption key", "encryption:\n  key_file: ferry.key\n", `encryption.key_file "ferry.key"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			body := "data_dir: '" + data + "'\n" + tc.yaml
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			err := cmdInstall(context.Background(), []string{"--config", cfg, "--dry-run"}, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "absolute path") {
				t.Errorf("install of\n%s= %v, want an error naming %s as not an absolute path", body, err, tc.want)
			}
		})
	}
}
