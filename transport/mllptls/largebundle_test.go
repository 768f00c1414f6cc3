package mllptls

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestLargeBundleMemory: what V2Message holds of a large queued bundle.
// A fax's bundle (a 90-page fax is hundreds of MB) going to an HL7 v2
// exchange is refused for what it is without being read: it was read
// whole and every Binary's data decoded, only to find no HL7 v2 message
// in it. The bundle of a message with an embedded PDF is read an entry at
// a time, the PDF's data never decoded, and the message's CRLF segment
// ends turned into CR in place.
//
//	go test ./transport/mllptls -run TestLargeBundleMemory -v
func TestLargeBundleMemory(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, entries ...string) (string, int64) {
		path := filepath.Join(dir, name)
		body := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path, int64(len(body))
	}
	binary := func(contentType string, data []byte) string {
		return fmt.Sprintf(`{"fullUrl":"urn:uuid:x","resource":{"resourceType":"Binary","contentType":%q,"data":%q},"request":{"method":"POST","url":"Binary"}}`,
			contentType, base64.StdEncoding.EncodeToString(data))
	}
	item := func(path string, size int64, format string, read *int64) *queue.Item {
		return &queue.Item{ID: "01LARGE", Size: size, Attrs: map[string]string{"format": format},
			Open: func() (io.ReadCloser, error) {
				f, err := os.Open(path)
				return &countReader{ReadCloser: f, n: read}, err
			}}
	}
	measure := func(it *queue.Item) ([]byte, error, uint64) {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		msg, err := V2Message(it)
		runtime.ReadMemStats(&after)
		return msg, err, after.TotalAlloc - before.TotalAlloc
	}

	pdf := bytes.Repeat([]byte("%PDF-1.4 fax page "), 48<<20/18)
	faxPath, faxSize := write("fax.json", binary("application/pdf", pdf))
	var read int64
	msg, err, alloc := measure(item(faxPath, faxSize, "fax", &read))
	t.Logf("fax: %d MB bundle, %d bytes read, %.1f MB allocated", faxSize>>20, read, float64(alloc)/(1<<20))
	if msg != nil || err == nil || !strings.Contains(err.Error(), "came from a fax input") {
		t.Fatalf("fax bundle: %q, %v; want the no-HL7 v2 error", msg, err)
	}
	if read != 0 || alloc > 1<<20 {
		t.Errorf("a fax's bundle was read (%d bytes, %d allocated) to find it holds no HL7 v2 message", read, alloc)
	}

	// An MDM with a 12 MB PDF in OBX-5: the message, the PDF it embeds
	// and the PDF again as the DocumentReference's Binary.
	v2 := []byte("MSH|^~\\&|EHR|CLINIC|HIE|HIE|20240101||MDM^T02|C1|P|2.5.1\r\nOBX|1|ED|18842-5||^AP^PDF^Base64^" +
		base64.StdEncoding.EncodeToString(pdf[:12<<20]) + "\r\n")
	v2Path, v2Size := write("mdm.json", binary("application/pdf", pdf[:12<<20]), binary(V2ContentType, v2))
	read = 0
	msg, err, alloc = measure(item(v2Path, v2Size, "hl7v2", &read))
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.ReplaceAll(v2, []byte("\r\n"), []byte("\r")); !bytes.Equal(msg, want) {
		t.Fatalf("message differs (%d bytes, want %d)", len(msg), len(want))
	}
	t.Logf("hl7v2: %d MB bundle, %d MB message, %.1f MB allocated", v2Size>>20, len(msg)>>20, float64(alloc)/(1<<20))
	// The decoder's buffer, grown by doubling to hold the largest entry,
	// and the message decoded from it (the whole bundle read and every
	// Binary decoded was 139 MB).
	if limit := 6 * uint64(len(v2)); alloc > limit {
		t.Errorf("%.1f MB allocated for a %d MB message, want at most %d MB", float64(alloc)/(1<<20), len(v2)>>20, limit>>20)
	}
}

type countReader struct {
	io.ReadCloser
	n *int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	*c.n += int64(n)
	return n, err
}
