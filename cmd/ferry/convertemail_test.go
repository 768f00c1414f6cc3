package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertEmailedFaxWithFormatFax: `ferry convert --help` says --format
// fax is "a TIFF or PDF, or an e-mailed fax .eml", but an .eml given with
// --format fax was handed whole to the fax converter, which refused it
// ("content is neither tiff nor pdf"): only a detected .eml was split into
// its attachments. With --format fax it is read as a fax inbox reads it,
// as without.
func TestConvertEmailedFaxWithFormatFax(t *testing.T) {
	tif, err := os.ReadFile("../../testdata/fax/g4-fine-1p.tif")
	if err != nil {
		t.Fatal(err)
	}
	eml := "From: fax@efax.example\r\nTo: clinic@example.org\r\nSubject: Fax from 5551234567\r\n" +
		"Date: Mon, 23 Nov 2026 10:00:00 -0500\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nYou have a new fax.\r\n" +
		"--b1\r\nContent-Type: image/tiff; name=\"fax.tif\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"fax.tif\"\r\n\r\n" +
		base64.StdEncoding.EncodeToString(tif) + "\r\n--b1--\r\n"
	file := filepath.Join(t.TempDir(), "fax-5551234567.eml")
	if err := os.WriteFile(file, []byte(eml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{file}, {"--format", "fax", file}} {
		var out, errOut bytes.Buffer
		if err := cmdConvert(context.Background(), args, &out, &errOut); err != nil {
			t.Errorf("ferry convert %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
			continue
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var b struct{ ResourceType string }
		if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &b) != nil || b.ResourceType != "Bundle" {
			t.Errorf("ferry convert %s: want one Bundle, got:\n%.300s", strings.Join(args, " "), out.String())
		}
	}
}
