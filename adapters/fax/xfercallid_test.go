package fax

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestXferCallerNameBeforeNumber reads a RECV record as HylaFAX's
// FaxAcctInfo::record writes it: field 15 is CallID2, the caller's name
// (CIDName), field 16 CallID1, the number (CIDNumber), then the further
// caller-id values joined by "::", the owner, the DCS and (HylaFAX+) the
// job info. The TIFF of this fax says nothing of the caller, so the
// record is all there is.
func TestXferCallerNameBeforeNumber(t *testing.T) {
	root := t.TempDir()
	logPath := filepath.Join(root, "xferfaxlog")
	rec := "11/20/26 14:02\tRECV\t000000042\tttyS0\trecvq/fax000000009.tif\t\tfax\t\"5550199\"\t\"+1 555 0100\"\t4199434\t2\t0:01:10\t0:01:02\t\"\"\t\"TEST CLINIC\"\t\"5550100\"\t\"\"\t\"\"\t\"\"\t\n"
	if err := os.WriteFile(logPath, []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(KindHylaFAX)
	cfg.Name, cfg.Path, cfg.XferFaxLog, cfg.TimeZone = "hylafax", root, logPath, "UTC"
	s, err := New(adapters.Settings{}, cfg, newCollector(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 14, 3, 0, 0, time.UTC)
	in := adapters.Raw{Name: "fax000000009.tif", Received: now, Meta: map[string]string{
		folder.MetaFile: "fax000000009.tif", folder.MetaModTime: now.Format(time.RFC3339Nano)}}
	fax, err := s.Describe(in)
	if err != nil {
		t.Fatal(err)
	}
	if fax.CallerNumber != "5550100" || fax.CallerName != "TEST CLINIC" {
		t.Errorf("caller number %q, name %q; want 5550100 and TEST CLINIC", fax.CallerNumber, fax.CallerName)
	}
}
