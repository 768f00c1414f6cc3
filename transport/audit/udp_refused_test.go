package audit

import (
	"context"
	"net"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
)

// reserveUDPAddr returns a loopback UDP address nobody listens on (yet):
// a datagram sent there brings back an ICMP port unreachable.
func reserveUDPAddr(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		// Go turns the report off on Windows (SIO_UDP_CONNRESET,
		// net/fd_windows.go), see TestDTLSAssociationLost.
		t.Skip("Windows does not report ICMP port unreachable to a UDP socket")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// TestUDPRefusedEventsKept: a udp:// repository that is down (its port
// answers ICMP port unreachable) takes nothing, yet a UDP "dial" and the
// first write after it succeed locally. The events written then are kept
// in the spool and sent once the repository is up, not counted sent
// while lost, and ferry status does not say connected.
func TestUDPRefusedEventsKept(t *testing.T) {
	addr := reserveUDPAddr(t)
	s := newSink(t, "udp://"+addr, configtls.ClientConfig{}, filepath.Join(t.TempDir(), "spool"), nil)
	start(t, s)
	s.Record(exportN(0))
	waitStats(t, s, "the first event handled", func(st Stats) bool { return st.Sent+st.Spooled >= 1 })
	s.Record(exportN(1))
	st := waitStats(t, s, "both events handled", func(st Stats) bool { return st.Sent+st.Spooled >= 2 })
	if st.Sent != 0 || st.Connected {
		t.Fatalf("the repository refused every datagram, yet stats say sent %d, connected %v (%+v)", st.Sent, st.Connected, st)
	}
	r, _ := startUDPRepoAt(t, addr)
	waitStats(t, s, "spool sent", func(st Stats) bool { return st.Pending == 0 && st.Connected })
	wantOrder(t, bundleOrder(t, r.waitN(t, 2)), 0, 2)
	if st := s.Stats(); st.Dropped != 0 || st.Sent != 2 {
		t.Errorf("stats %+v", st)
	}
	shutdown(t, s)
}

// TestEmitterUDPRefusedHandedOff: a command's event (`ferry held release`,
// the one event of a disclosure override) sent to a udp:// repository that
// is down is handed off to the gateway, not taken for sent: the datagram
// left, and the ICMP port unreachable it brought back says it was not
// taken.
func TestEmitterUDPRefusedHandedOff(t *testing.T) {
	addr := reserveUDPAddr(t)
	dir := t.TempDir()
	handoff := filepath.Join(dir, "audit", "handoff")
	e := newEmitter(t, "udp://"+addr, Options{HandoffDir: handoff})
	n, err := e.Emit(context.Background(), purgeEvent("A1"))
	if err != nil || n != 1 {
		t.Fatalf("Emit to a refusing repository = %d handed off, %v; want 1", n, err)
	}
	if e.Unreachable() == nil {
		t.Error("the repository is not reported unreachable")
	}
	r, _ := startUDPRepoAt(t, addr)
	s := newSink(t, "udp://"+addr, configtls.ClientConfig{}, filepath.Join(dir, "audit", "spool"), func(o *Options) { o.HandoffDir = handoff })
	start(t, s)
	a := parseAudit(t, r.waitN(t, 1)[0].msg)
	if len(a.Objects) != 2 || a.Objects[1].ID != "A1" {
		t.Errorf("objects = %+v", a.Objects)
	}
	shutdown(t, s)
}
