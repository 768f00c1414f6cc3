package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestConfigCheckKeyAndFileProblemsTogether: one `ferry config check`
// lists every problem (README, "A configuration for a real site"). A
// data-at-rest key other accounts can read stopped the check there, so the
// TLS key beside it that the gateway would refuse as well, and the files
// not installed yet, came out only at the next run, once the first was
// fixed.
func TestConfigCheckKeyAndFileProblemsTogether(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows protects key files by ACL, not mode bits")
	}
	dir := t.TempDir()
	paths, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "ferry.key")
	if _, err := seal.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	missingCA := filepath.Join(dir, "hie-ca.pem")
	file := filepath.Join(dir, "ferry.yaml")
	cfg := fmt.Sprintf("data_dir: %q\nsources:\n  mllp:\n    - name: s\n      listen: 127.0.0.1:2575\n      tls:\n        cert_file: %q\n        key_file: %q\nencryption:\n  key_file: %q\n"+
		"exchange:\n  url: https://hie.example.org/fhir/R4\n  tls: {ca_file: %q, cert_file: %q, key_file: %q}\n",
		filepath.Join(dir, "data"), paths.ServerCert, paths.ServerKey, keyFile, missingCA, paths.ClientCert, paths.ClientKey)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(paths.ServerKey, 0o644)
	os.Chmod(keyFile, 0o640)
	var out bytes.Buffer
	err = cmdConfig(context.Background(), []string{"check", file}, &out, io.Discard)
	for _, want := range []string{
		"line 10: encryption.key_file: key file " + keyFile + ": mode 0640 lets others read it",
		fmt.Sprintf("line 8: sources.mllp[0].tls.key_file: %q: mode 0644 lets other accounts read", paths.ServerKey),
		"2 problem(s)",
		missingCA,
	} {
		if !strings.Contains(out.String(), want) && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("config check does not say %q: %v\n%s", want, err, out.String())
		}
	}
}
