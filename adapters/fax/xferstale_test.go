package fax

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestStaleXferRecordIsNotUsed checks that a RECV record of xferfaxlog for
// an earlier fax of the same name (the spool's sequence numbers started
// over after a reinstall; xferfaxlog is kept) does not lend its caller,
// CSID and communication id to a new fax whose own record is not there.
func TestStaleXferRecordIsNotUsed(t *testing.T) {
	root := t.TempDir()
	logPath := filepath.Join(root, "xferfaxlog")
	log := "03/02/19 09:15\tRECV\t000000007\tttyS0\trecvq/fax000000001.tif\t\tfax\t\"5550199\"\t\"OLD SENDER\"\t4199434\t3\t0:01:10\t0:01:02\t\"\"\t\"OTHER PRACTICE\"\t\"5550777\"\t\"\"\t\"\"\n"
	if err := os.WriteFile(logPath, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(KindHylaFAX)
	cfg.Name, cfg.Path, cfg.XferFaxLog, cfg.TimeZone = "hylafax", root, logPath, "UTC"
	s, err := New(adapters.Settings{}, cfg, newCollector(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 14, 3, 0, 0, time.UTC)
	in := adapters.Raw{Name: "fax000000001.tif", Received: now, Meta: map[string]string{
		folder.MetaFile: "fax000000001.tif", folder.MetaModTime: now.Format(time.RFC3339Nano)}}
	fax, err := s.Describe(in)
	if err != nil {
		t.Fatal(err)
	}
	if fax.CSID != "" || fax.CallerNumber != "" || fax.CommID != "" || fax.Pages != 0 {
		t.Errorf("a 2019 record was taken for a fax of 2026: %+v", fax)
	}
	// The record of this very fax (minutes from its mtime) is used.
	log += "11/20/26 14:02\tRECV\t000000042\tttyS0\trecvq/fax000000001.tif\t\tfax\t\"5550199\"\t\"+1 555 0100\"\t4199434\t2\t0:01:10\t0:01:02\t\"\"\t\"TEST CLINIC\"\t\"5550100\"\t\"\"\t\"\"\n"
	if err := os.WriteFile(logPath, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if fax, _ = s.Describe(in); fax.CommID != "000000042" || fax.CSID != "+1 555 0100" {
		t.Errorf("this fax's own record was not used: %+v", fax)
	}
}
