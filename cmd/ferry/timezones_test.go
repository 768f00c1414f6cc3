package main

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestWindowsBinaryCarriesZoneDatabase: hl7v2.time_zone, a fax folder's
// and a CSV mapping's time_zone take IANA names (America/Chicago), which
// time.LoadLocation reads from the system's zoneinfo on Linux but, on
// Windows, only from $ZONEINFO, a Go installation's lib/time/zoneinfo.zip
// or the database embedded by time/tzdata: a clinic's Windows server has
// neither of the first two, so without the last every such setting was
// refused ("unknown time zone") and no configuration with one could run.
func TestWindowsBinaryCarriesZoneDatabase(t *testing.T) {
	if runtime.GOOS == "windows" {
		// Here the test binary itself is the Windows build (under Wine in
		// CI, with no Go installed): an IANA name must load.
		if _, err := time.LoadLocation("America/Chicago"); err != nil {
			t.Fatalf("time.LoadLocation(\"America/Chicago\") on Windows: %v", err)
		}
		return
	}
	if testing.Short() {
		t.Skip("runs go list")
	}
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "time/tzdata" {
			return
		}
	}
	t.Fatal("the Windows build of ferry does not embed time/tzdata: time.LoadLocation(\"America/Chicago\") fails on a machine without Go installed")
}
