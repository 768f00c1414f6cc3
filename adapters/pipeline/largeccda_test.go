package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/diskq"
)

// TestLargeCCDASpills: a C-CDA's bundle carries the whole document in a
// Binary, and a nonXMLBody's PDF in another, so a large document's is a
// third larger than it. It was encoded whole into memory (json.Marshal's
// buffer grown by doubling, then its copy) and queued from there: a
// 24 MB scanned-record C-CDA allocated 400 MB. It now goes to the queue
// as a spilled file, the Binaries' data base64-encoded straight into it,
// with the same bytes and the same duplicate key as before.
//
//	go test ./adapters/pipeline -run TestLargeCCDASpills -v
func TestLargeCCDASpills(t *testing.T) {
	src, err := os.ReadFile("../../testdata/convert/ccda-unstructured/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	const tiny = "JVBERi0xLjQKMSAwIG9iajw8Pj5lbmRvYmoKdHJhaWxlcjw8Pj4KJSVFT0YK"
	pdf := bytes.Repeat([]byte("%PDF-1.4 scanned page\n"), 18<<20/22)
	var b64 strings.Builder
	enc := base64.StdEncoding.EncodeToString(pdf)
	for len(enc) > 76 { // as C-CDA writers wrap it
		b64.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b64.WriteString(enc)
	doc := bytes.Replace(src, []byte(tiny), []byte(b64.String()), 1)
	path := filepath.Join(t.TempDir(), "scanned.xml")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	in := fileRaw(t, path)
	in.Source, in.Format = "ehr/drop", "ccda"

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
	p := New(q, memSeen{}, quar, map[string]Converter{"ccda": CCDA{}}, nil)
	ctx := context.Background()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := p.Consume(ctx, in); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ack(ctx, nil)
	t.Logf("%d MB C-CDA → %d MB bundle: %.0f MB allocated", len(doc)>>20, it.BodySize()>>20, float64(alloc)/(1<<20))
	if it.Body != nil || it.Open == nil {
		t.Errorf("a %d MB bundle was queued from memory, not spilled", it.BodySize()>>20)
	}
	r, err := it.OpenBody()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes json.Marshal wrote, and the same duplicate key.
	units, err := CCDA{}.Convert(ctx, in)
	if err != nil || len(units) != 1 {
		t.Fatalf("in memory: %d units, %v", len(units), err)
	}
	var bun struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &bun); err != nil {
		t.Fatalf("spilled bundle: %v", err)
	}
	var found [2]bool
	for _, e := range bun.Entry {
		var res struct {
			ResourceType string `json:"resourceType"`
			Data         []byte `json:"data"`
		}
		json.Unmarshal(e.Resource, &res)
		found[0] = found[0] || res.ResourceType == "Binary" && bytes.Equal(res.Data, doc)
		found[1] = found[1] || res.ResourceType == "Binary" && bytes.Equal(res.Data, pdf)
	}
	if !found[0] || !found[1] {
		t.Errorf("the bundle's Binaries: the document %v, its PDF %v", found[0], found[1])
	}
	if !bytes.Equal(units[0].Bundle, body) || units[0].Dedup != sha256.Sum256(body) {
		t.Error("the bundle in memory differs from the spilled one, or its duplicate key is not its hash")
	}
	// The document read once and its PDF decoded (48 MB for a 24 MB
	// document; 183 MB while the XML decoder copied its base64 text);
	// never the bundle (474 MB when it was).
	if limit := 8 * uint64(len(doc)); alloc > limit {
		t.Errorf("%.0f MB allocated for a %d MB C-CDA, want at most %d MB", float64(alloc)/(1<<20), len(doc)>>20, limit>>20)
	}
}
