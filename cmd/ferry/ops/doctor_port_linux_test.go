package ops

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
)

// TestDoctorPortBelowUnprivilegedStart: `sudo ferry doctor` binds the
// listen addresses as root, which may take any port, and said "free" for
// an MLLP listener on a port below 1024 that the service, running as the
// ferry account with no capabilities (the unit's CapabilityBoundingSet=),
// cannot bind: it failed at start. With a service account to judge for,
// the check now fails and says why.
func TestDoctorPortBelowUnprivilegedStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind a port below 1024")
	}
	start := unprivilegedPortStart()
	var addr string
	for p := min(start, 1024) - 1; p > 0 && addr == ""; p-- {
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			addr = ln.Addr().String()
			ln.Close()
		}
	}
	if addr == "" {
		t.Skipf("no free port below %d", start)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Sources.MLLP[0].Listen = addr
	cfg.Status.Listen = ""
	acct := &ServiceAccount{Name: "ferry", UID: 54321, GIDs: []uint32{54321}}
	name := "sources.mllp[0].listen " + addr
	find := func(checks []Check) Check {
		for _, c := range checks {
			if c.Area == "port" && c.Name == name {
				return c
			}
		}
		t.Fatalf("no check %q in %+v", name, checks)
		return Check{}
	}
	c := find(Doctor(context.Background(), cfg, DoctorOptions{ServiceFiles: acct, Timeout: 1}))
	if c.Level != Fail || !strings.Contains(c.Detail, "service account ferry") || !strings.Contains(c.Detail, "2575") {
		t.Errorf("port %s for the service account: %+v", addr, c)
	}
	// No account to judge for (a ferry run by hand as root): free.
	if c := find(Doctor(context.Background(), cfg, DoctorOptions{Timeout: 1})); c.Level != OK {
		t.Errorf("port %s without a service account: %+v", addr, c)
	}
}
