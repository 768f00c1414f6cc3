package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackfillHidesArchiveEntryNames: an EHI export's archive whose
// folders and files are named after the patient, one of whose entries
// ferry does not convert, is listed as failed with the reason, which
// names that entry; without --phi the entry's path and its folders are
// hidden, as the archive's own name is (and as `ferry quarantine list`
// hides them).
func TestBackfillHidesArchiveEntryNames(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "old-ehr")
	ccd, err := os.ReadFile("../../adapters/ehrdrop/testdata/ccd.xml")
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("DOE_JANE_MRN777123/summary.xml")
	w.Write(ccd)
	w, _ = zw.Create("DOE_JANE_MRN777123/ROE_letter_MRN888555.docx")
	w.Write([]byte("PK\x03\x04 a word file, not a document ferry converts"))
	zw.Close()
	putFile(t, filepath.Join(exp, "export-2020.zip"), zb.Bytes())
	cfgFile, _ := backfillCfg(t, dir, fmt.Sprintf("sources:\n  folders:\n    - {name: ehr, kind: ehr, path: %q}\n", filepath.Join(dir, "live")))
	var out bytes.Buffer
	err = cmdBackfill(context.Background(), []string{exp, "--folder", "ehr", "--config", cfgFile}, &out, io.Discard)
	t.Logf("%v\n%s", err, out.String())
	for _, leak := range []string{"DOE_JANE", "MRN777123", "ROE_letter", "MRN888555"} {
		if strings.Contains(out.String(), leak) || err != nil && strings.Contains(err.Error(), leak) {
			t.Errorf("output names %s", leak)
		}
	}
}
