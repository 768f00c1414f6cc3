//go:build unix

package fax

import (
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestHylaFAXSpool runs a HylaFAX-style spool: recvq/ with seqf, a finished
// fax and one still being received (faxgetty's flock held), and
// etc/xferfaxlog. The finished fax is taken with its TIFF and log metadata;
// the locked one only after the lock is released.
func TestHylaFAXSpool(t *testing.T) {
	root := t.TempDir()
	recvq := filepath.Join(root, "recvq")
	for _, d := range []string{recvq, filepath.Join(root, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log := "11/20/26 14:02\tCALL\t000000041\tttyS0\t\t\tfax\t\"5550199\"\t\t0\t0\t0:00:05\t0:00:00\t\"\"\t\"TEST CLINIC\"\t\"5550100\"\t\"\"\t\"\"\n" +
		"11/20/26 14:03\tRECV\t000000042\tttyS0\trecvq/fax000000042.tif\t\tfax\t\"5550199\"\t\"+1 555 0100\"\t4199434\t2\t0:01:10\t0:01:02\t\"\"\t\"TEST CLINIC\"\t\"5550100\"\t\"\"\t\"\"\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "xferfaxlog"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(recvq, "seqf"), []byte("43"), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(faxDir, "hylafax/recvq/fax000000042.tif"), filepath.Join(recvq, "fax000000042.tif"))

	// fax000000043.tif is "being received": faxgetty holds flock(LOCK_EX).
	busyPath := filepath.Join(recvq, "fax000000043.tif")
	copyFile(t, filepath.Join(faxDir, "g4-fine-1p.tif"), busyPath)
	lock, err := os.OpenFile(busyPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	c := newCollector(t)
	var unlocked atomic.Bool
	cfg := DefaultConfig(KindHylaFAX)
	cfg.Name, cfg.Path, cfg.TimeZone = "hylafax", recvq, "America/New_York"
	cfg.MaxBodyBytes = 4096 // the 18 KB fax is streamed through Raw.Open
	s := start(t, cfg, c)

	g := c.next(t, s)
	if g.raw.Meta["file"] != "fax000000042.tif" {
		t.Fatalf("first fax taken is %q; the locked one must wait", g.raw.Meta["file"])
	}
	if !g.streamed {
		t.Error("fax above max_body_bytes was handed over in memory")
	}
	fax := faxfhir.FaxFromMeta(g.raw.Meta)
	// TIFF DateTime is the server's local time (New York, UTC-5 in November).
	want := faxfhir.Fax{Received: time.Date(2026, 11, 20, 19, 3, 7, 0, time.UTC), CallerNumber: "5550100", CallerName: "TEST CLINIC",
		CalledNumber: "5550199", CSID: "+1 555 0100", SubAddress: "201", Modem: "USRobotics Courier V.Everything", CommID: "000000042", Pages: 2}
	if !fax.Received.Equal(want.Received) {
		t.Errorf("received %v, want %v", fax.Received, want.Received)
	}
	fax.Received = want.Received
	if !reflect.DeepEqual(fax, want) {
		t.Errorf("fax = %+v\nwant %+v", fax, want)
	}
	// The metadata lands in the DocumentReference.
	d := docRef(g.bundle)
	r := receipt(d)
	for k, v := range map[string]any{"callerNumber": "5550100", "callerName": "TEST CLINIC", "calledNumber": "5550199",
		"csid": "+1 555 0100", "subAddress": "201", "commId": "000000042", "device": "USRobotics Courier V.Everything",
		"pages": 2.0, "received": "2026-11-20T19:03:07Z"} {
		if r[k] != v {
			t.Errorf("receipt %s = %v, want %v", k, r[k], v)
		}
	}
	if desc := str(d, "description"); desc != "Fax received 2026-11-20 19:03Z from 5550100 (CSID +1 555 0100), 2 pages" {
		t.Errorf("description %q", desc)
	}
	if str(d, "date") != "2026-11-20T19:03:07Z" || str(d, "type", "coding", 0, "code") != "UNK" {
		t.Errorf("date/type %q %v", str(d, "date"), get(d, "type"))
	}

	// More scans while the lock is held: the file stays where it is.
	for i := 0; i < 5; i++ {
		s.Engine().Rescan()
		time.Sleep(30 * time.Millisecond)
	}
	select {
	case g := <-c.got:
		t.Fatalf("locked fax %q was taken", g.raw.Meta["file"])
	default:
	}
	if _, err := os.Stat(busyPath); err != nil {
		t.Fatalf("locked fax moved: %v", err)
	}
	if _, err := os.Stat(filepath.Join(recvq, "seqf")); err != nil {
		t.Fatalf("seqf touched: %v", err)
	}

	unlocked.Store(true)
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	g = c.next(t, s)
	if g.raw.Meta["file"] != "fax000000043.tif" || !unlocked.Load() {
		t.Fatalf("after unlock got %q", g.raw.Meta["file"])
	}
	if p := g.raw.Meta[faxfhir.MetaPages]; p != "1" {
		t.Errorf("pages %q", p)
	}
}
