package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDescribeNamesEverySource: the "ferry started" line names every
// source in the configuration's order, and then the status page. It named the MLLP listeners only
// (in map order), so a site's log said nothing of the EHR and fax folders
// it watched, and an operator reading it took them for not running.
func TestDescribeNamesEverySource(t *testing.T) {
	dir := t.TempDir()
	ehr, fax := filepath.Join(dir, "exports"), filepath.Join(dir, "fax")
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - {name: lab, listen: 127.0.0.1:0}
    - {name: adt, listen: 127.0.0.1:0}
    - {name: pharmacy, listen: 127.0.0.1:0}
  folders:
    - {name: ehr, kind: ehr, path: %q}
    - {name: inbox, kind: fax, path: %q}
fax: {source_id: 1.3.6.1.4.1.21367.2026.1}
`, filepath.Join(dir, "data"), ehr, fax)
	cfg.Status.Listen = "127.0.0.1:0" // config check refuses port 0; the test reads the address
	gw := runGateway(t, cfg)
	got := gw.Describe()
	want := []string{
		"mllp/lab on " + gw.MLLPAddr("lab").String(),
		"mllp/adt on " + gw.MLLPAddr("adt").String(),
		"mllp/pharmacy on " + gw.MLLPAddr("pharmacy").String(),
		"folder/ehr (ehr) on " + ehr,
		"folder/inbox (fax) on " + fax,
		"no exchange configured",
		"status page on http://" + gw.statusAddr.String() + "/",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(got[at:], w)
		if i < 0 {
			t.Fatalf("Describe() = %q: lacks %q after position %d (every source, in the configuration's order)", got, w, at)
		}
		at += i + len(w)
	}
}
