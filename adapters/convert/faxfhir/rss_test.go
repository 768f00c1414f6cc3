package faxfhir

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// TestLargeFaxRSS converts a 200 MB PDF fax and a 200 MB TIFF fax (whose PDF
// rendition is generated twice, hash then write) with WriteBundle and checks
// that the process's peak RSS grows by at most 50 MB. Each measurement runs
// in a fresh child process so earlier tests cannot hide or inflate the peak.
//
//	go test -run TestLargeFaxRSS -v ./adapters/convert/faxfhir/
func TestLargeFaxRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 400 MB of test files")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc for RSS")
	}
	for _, kind := range []string{"pdf", "tiff"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "big."+kind)
			if kind == "pdf" {
				writeBigPDF(t, path, 200<<20)
			} else {
				writeBigTIFF(t, path, 200<<20)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.v")
			cmd.Env = append(os.Environ(), "FERRY_RSS_CHILD="+path)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var growth, bundle int64
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) == 3 && f[0] == "RSS-GROWTH-KB" {
					growth, _ = strconv.ParseInt(f[1], 10, 64)
					bundle, _ = strconv.ParseInt(f[2], 10, 64)
				}
			}
			if bundle == 0 {
				t.Fatalf("child printed no measurement:\n%s", out)
			}
			t.Logf("%s: %d MB fax → %d MB bundle, peak RSS growth %.1f MB", kind, 200, bundle>>20, float64(growth)/1024)
			if growth > 50*1024 {
				t.Errorf("peak RSS grew by %d KB, want ≤ 50 MB", growth)
			}
		})
	}
}

// TestRSSChild is the measured side of TestLargeFaxRSS.
func TestRSSChild(t *testing.T) {
	path := os.Getenv("FERRY_RSS_CHILD")
	if path == "" {
		t.Skip("run by TestLargeFaxRSS")
	}
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	runtime.GC()
	debug.FreeOSMemory()
	before := procKB(t, "VmRSS")
	// The bundle goes to a discarding writer: what is measured is the
	// converter, not a destination.
	res, err := c.WriteBundle(context.Background(), io.Discard, Input{Name: filepath.Base(path), R: f, Size: st.Size()}, testFax())
	if err != nil {
		t.Fatal(err)
	}
	peak := procKB(t, "VmHWM")
	fmt.Printf("RSS-GROWTH-KB %d %d\n", peak-before, res.BundleSize)
}

func procKB(t *testing.T, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			n, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return n
		}
	}
	t.Fatalf("%s not in /proc/self/status", field)
	return 0
}

// fill writes n pseudo-random bytes (xorshift) so the content is not
// trivially compressible or all-equal.
func fill(w io.Writer, n int64) error {
	buf := make([]byte, 1<<16)
	x := uint64(88172645463325252)
	for n > 0 {
		for i := 0; i < len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.LittleEndian.PutUint64(buf[i:], x)
		}
		m := min(n, int64(len(buf)))
		if _, err := w.Write(buf[:m]); err != nil {
			return err
		}
		n -= m
	}
	return nil
}

func writeBigPDF(t *testing.T, path string, size int64) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("%PDF-1.4\n")
	if err := fill(w, size-9-7); err != nil {
		t.Fatal(err)
	}
	w.WriteString("\n%%EOF\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeBigTIFF writes a one-page uncompressed bilevel TIFF of about size
// bytes: the strip comes first, the directory after it.
func writeBigTIFF(t *testing.T, path string, size int64) {
	const width = 1728
	stride := int64(width / 8)
	rows := size / stride
	strip := rows * stride
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	le := binary.LittleEndian
	hdr := make([]byte, 8)
	copy(hdr, "II*\x00")
	ifd := 8 + strip
	le.PutUint32(hdr[4:], uint32(ifd))
	w.Write(hdr)
	if err := fill(w, strip); err != nil {
		t.Fatal(err)
	}
	type e struct {
		tag, typ uint16
		val      uint32
	}
	entries := []e{{256, 4, width}, {257, 4, uint32(rows)}, {258, 3, 1}, {259, 3, 1}, {262, 3, 0},
		{273, 4, 8}, {277, 3, 1}, {278, 4, uint32(rows)}, {279, 4, uint32(strip)}}
	var d bytes.Buffer
	binary.Write(&d, le, uint16(len(entries)))
	for _, x := range entries {
		binary.Write(&d, le, x.tag)
		binary.Write(&d, le, x.typ)
		binary.Write(&d, le, uint32(1))
		if x.typ == 3 {
			binary.Write(&d, le, uint16(x.val))
			binary.Write(&d, le, uint16(0))
		} else {
			binary.Write(&d, le, x.val)
		}
	}
	binary.Write(&d, le, uint32(0))
	w.Write(d.Bytes())
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
