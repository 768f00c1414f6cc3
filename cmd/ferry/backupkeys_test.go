package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// archiveMembers lists the names of the members of the backup archive.
func archiveMembers(t *testing.T, archive string) []string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
}

// TestBackupLeavesKeysInDataDirOut: a key file the configuration names
// that lies in data_dir (the client certificate's key kept in
// /var/lib/ferry/tls) was archived with the data, in clear, while the
// backup said it was not in the archive ("back them up apart from it")
// and README promises keys are never in it. It is now left out and named
// as such, and a restore names it among the files to put back.
func TestBackupLeavesKeysInDataDirOut(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	tlsDir := filepath.Join(data, "tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(tlsDir, "client.key")
	for name, body := range map[string]string{"ca.pem": "ca", "client.pem": "cert", "client.key": "-----BEGIN PRIVATE KEY-----\nsecret\n"} {
		if err := os.WriteFile(filepath.Join(tlsDir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(data, "site-id"), []byte("0b6c1d2e-3f40-4152-8394-a5b6c7d8e9f0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(base, "ferry.yaml")
	yml := "data_dir: " + data + "\nexchange:\n  url: https://hie.example.org/fhir\n  tls:\n    ca_file: " + filepath.Join(tlsDir, "ca.pem") +
		"\n    cert_file: " + filepath.Join(tlsDir, "client.pem") + "\n    key_file: " + key + "\n"
	if err := os.WriteFile(cfgFile, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(base, "ferry.tar.gz")
	var out bytes.Buffer
	if err := cmdBackup(context.Background(), []string{archive, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	names := archiveMembers(t, archive)
	for _, n := range names {
		if n == "data/tls/client.key" {
			t.Errorf("the key file %s is in the archive", key)
		}
	}
	if !slices.Contains(names, "data/tls/client.pem") || !slices.Contains(names, "data/site-id") {
		t.Errorf("the archive holds %v", names)
	}
	if !strings.Contains(out.String(), "not backed up: tls/client.key: exchange.tls.key_file, a key") {
		t.Errorf("backup said:\n%s", out.String())
	}
	// Restored on a new machine, the key is named among those to put back.
	if err := os.Rename(data, data+".old"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := cmdRestore(context.Background(), []string{archive, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "put these back from where you keep them: exchange.tls.key_file "+key) {
		t.Errorf("restore said:\n%s", out.String())
	}
}
