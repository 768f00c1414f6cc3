package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/configtls/tlstest"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// writeTestPDF writes a one-page PDF of about size bytes whose bulk is one
// image stream of pseudo-random (incompressible) bytes, as a scanned fax
// saved as PDF is.
func writeTestPDF(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	head := "%PDF-1.4\n" +
		"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
		"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n" +
		"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >> endobj\n"
	tail := "\nendstream endobj\n5 0 obj << /Length 31 >> stream\nq 612 0 0 792 0 0 cm /Im1 Do Q\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
	n := max(size-int64(len(head)+len(tail)+120), 1024)
	fmt.Fprintf(w, "%s4 0 obj << /Type /XObject /Subtype /Image /Width 1728 /Height %d /BitsPerComponent 1 /ColorSpace /DeviceGray /Length %d >> stream\n", head, n*8/1728, n)
	buf := make([]byte, 1<<16)
	x := uint64(0x9E3779B97F4A7C15)
	for left := n; left > 0; {
		for i := 0; i+8 <= len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.LittleEndian.PutUint64(buf[i:], x)
		}
		m := min(left, int64(len(buf)))
		w.Write(buf[:m])
		left -= m
	}
	w.WriteString(tail)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func faxConverter(t testing.TB) Fax {
	t.Helper()
	c, err := faxfhir.New(faxfhir.Config{
		SourceID:  "1.3.6.1.4.1.21367.2026.1",
		Author:    faxfhir.OrgRef{Display: "Main Street Clinic"},
		Custodian: faxfhir.OrgRef{Display: "Main Street Clinic"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return Fax{Conv: c}
}

// fileRaw is what the folder engine hands over for a file above its
// in-memory limit: no Body, only Open and Size.
func fileRaw(t testing.TB, path string) adapters.Raw {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return adapters.Raw{Source: "fax/inbox", Format: "fax", Name: filepath.Base(path), Size: st.Size(), Received: time.Now(),
		Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

func bodyFiles(t testing.TB, qdir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(qdir, "bodies"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, filepath.Join(qdir, "bodies", e.Name()))
	}
	return out
}

// TestFaxBundleSpills checks that a fax bundle above SpillBytes goes into
// the queue as a file (never as one []byte), that a small one stays in
// memory, and that a duplicate leaves no spill file behind.
func TestFaxBundleSpills(t *testing.T) {
	qdir := t.TempDir()
	q, err := diskq.Open(qdir, diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	quar, err := OpenQuarantine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := New(q, memSeen{}, quar, map[string]Converter{"fax": faxConverter(t)}, nil)
	ctx := context.Background()

	big := filepath.Join(t.TempDir(), "big.pdf")
	writeTestPDF(t, big, 3<<20)
	if err := p.Consume(ctx, fileRaw(t, big)); err != nil {
		t.Fatal(err)
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if it.Body != nil || it.Open == nil || it.Size < 4<<20 {
		t.Fatalf("large fax: Body %d bytes, Open %v, Size %d; want a spilled body of > 4 MiB", len(it.Body), it.Open != nil, it.Size)
	}
	r, err := it.OpenBody()
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				Data         []byte `json:"data"`
			} `json:"resource"`
		} `json:"entry"`
	}
	err = json.NewDecoder(r).Decode(&b)
	r.Close()
	if err != nil || b.ResourceType != "Bundle" || b.Type != "transaction" {
		t.Fatalf("spilled bundle: %v, %s/%s", err, b.ResourceType, b.Type)
	}
	pdf, _ := os.ReadFile(big)
	found := false
	for _, e := range b.Entry {
		found = found || e.Resource.ResourceType == "Binary" && string(e.Resource.Data) == string(pdf)
	}
	if !found {
		t.Error("the spilled bundle has no Binary with the fax")
	}
	ack(ctx, nil)

	if err := p.Consume(ctx, fileRaw(t, big)); err != nil {
		t.Fatal(err)
	}
	if p.Stats().Duplicates.Load() != 1 || q.Len() != 0 {
		t.Fatalf("second consume: duplicates %d, queue %d", p.Stats().Duplicates.Load(), q.Len())
	}
	q.Sync(ctx)
	if f := bodyFiles(t, qdir); len(f) != 0 {
		t.Errorf("spill files left: %v", f)
	}

	small := filepath.Join(t.TempDir(), "small.pdf")
	writeTestPDF(t, small, 20<<10)
	if err := p.Consume(ctx, fileRaw(t, small)); err != nil {
		t.Fatal(err)
	}
	it, ack, err = q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if it.Open != nil || len(it.Body) == 0 {
		t.Errorf("small fax: Body %d bytes, Open %v; want it in memory", len(it.Body), it.Open != nil)
	}
	ack(ctx, nil)
}

// TestLargeFaxEndToEndRSS sends a 200 MB PDF fax the way the gateway
// does — pipeline.Consume with a file Raw (no Body), the fax converter,
// the fsynced disk queue, the dispatcher and the HTTPS sink — to an
// exchange over mutual TLS that hashes and counts what it receives, and
// checks that the process's peak RSS grows by at most 50 MB. It runs in a
// child process so that nothing before it can hide or inflate the peak.
//
//	go test -run TestLargeFaxEndToEndRSS -v ./adapters/pipeline/
func TestLargeFaxEndToEndRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 200 MB fax and its 270 MB bundle")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc for RSS")
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "fax-200mb.pdf")
	writeTestPDF(t, pdf, 200<<20)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLargeFaxRSSChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "FERRY_PIPELINE_RSS_PDF="+pdf, "FERRY_PIPELINE_RSS_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var growth, base, bundle int64
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "RSS-GROWTH-KB" {
			growth, _ = strconv.ParseInt(f[1], 10, 64)
			base, _ = strconv.ParseInt(f[2], 10, 64)
			bundle, _ = strconv.ParseInt(f[3], 10, 64)
		}
	}
	if bundle == 0 {
		t.Fatalf("child printed no measurement:\n%s", out)
	}
	t.Logf("200 MB PDF → %d MB bundle delivered over mTLS; RSS before %.1f MB, peak growth %.1f MB", bundle>>20, float64(base)/1024, float64(growth)/1024)
	if growth > 50*1024 {
		t.Errorf("peak RSS grew by %.1f MB, want ≤ 50 MB", float64(growth)/1024)
	}
}

// TestLargeFaxRSSChild is the measured side of TestLargeFaxEndToEndRSS.
func TestLargeFaxRSSChild(t *testing.T) {
	pdf, dir := os.Getenv("FERRY_PIPELINE_RSS_PDF"), os.Getenv("FERRY_PIPELINE_RSS_DIR")
	if pdf == "" {
		t.Skip("run by TestLargeFaxEndToEndRSS")
	}
	ctx := context.Background()
	set, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var gotSize int64
	var gotSum string
	srv := tlstest.NewServer(t, set, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		entries := &keyCounter{key: []byte(`"request":`)}
		n, err := io.Copy(io.MultiWriter(h, entries), r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		gotSize, gotSum = n, hex.EncodeToString(h.Sum(nil))
		mu.Unlock()
		// The sink checks that each entry sent is answered.
		answers := strings.TrimSuffix(strings.Repeat(`{"response":{"status":"201 Created"}},`, entries.n), ",")
		w.Header().Set("Content-Type", fhirhttp.MediaType)
		io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[`+answers+`]}`)
	}), true)

	qdir := filepath.Join(dir, "queue")
	q, err := diskq.Open(qdir, diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	p := New(q, memSeen{}, quar, map[string]Converter{"fax": faxConverter(t)}, nil)
	sink, err := fhirhttp.New(fhirhttp.Config{
		URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/fhir/R4",
		TLS: configtls.ClientConfig{CAFile: set.CA, CertFile: set.ClientCert, KeyFile: set.ClientKey},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := transport.NewDispatcher(q, sink, transport.DispatcherOptions{Workers: 1})

	runtime.GC()
	debug.FreeOSMemory()
	before := procStatusKB(t, "VmRSS")

	if err := p.Consume(ctx, fileRaw(t, pdf)); err != nil {
		t.Fatal(err)
	}
	files := bodyFiles(t, qdir)
	if len(files) != 1 {
		t.Fatalf("queue holds %d body files, want the one spilled bundle", len(files))
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	wantSize, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	wantSum := hex.EncodeToString(h.Sum(nil))

	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for d.Stats().Delivered < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %+v", d.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	peak := procStatusKB(t, "VmHWM")
	mu.Lock()
	defer mu.Unlock()
	if gotSize != wantSize || gotSum != wantSum {
		t.Fatalf("exchange received %d bytes (sha256 %.12s), queued %d (sha256 %.12s)", gotSize, gotSum, wantSize, wantSum)
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if left := bodyFiles(t, qdir); len(left) != 0 {
		t.Fatalf("body file left after delivery: %v", left)
	}
	fmt.Printf("RSS-GROWTH-KB %d %d %d\n", peak-before, before, gotSize)
}

func procStatusKB(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	t.Fatalf("%s not in /proc/self/status", field)
	return 0
}

// keyCounter counts occurrences of key in what is written to it, across
// writes, without holding the stream (each bundle entry has one
// "request" key; base64 data holds no quotes).
type keyCounter struct {
	key  []byte
	tail []byte
	n    int
}

func (c *keyCounter) Write(p []byte) (int, error) {
	k := len(c.key) - 1 // c.tail holds the stream's last k bytes
	edge := append(c.tail, p[:min(len(p), k)]...)
	c.n += bytes.Count(edge, c.key) + bytes.Count(p, c.key)
	if len(p) >= k {
		edge = p[len(p)-k:]
	} else {
		edge = edge[max(0, len(edge)-k):]
	}
	c.tail = append(c.tail[:0:0], edge...)
	return len(p), nil
}
