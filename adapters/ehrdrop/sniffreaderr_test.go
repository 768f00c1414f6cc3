package ehrdrop

import (
	"bytes"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// dropAfter reads r until n bytes are read, then fails as the folder
// engine's reader of a file on a share that dropped does.
type dropAfter struct {
	r io.Reader
	n int
}

func (d *dropAfter) Read(p []byte) (int, error) {
	if d.n <= 0 {
		return 0, &adapters.ReadError{Err: &fs.PathError{Op: "read", Path: "/drop/.ferry/processing/export.json", Err: syscall.EIO}}
	}
	if len(p) > d.n {
		p = p[:d.n]
	}
	n, err := d.r.Read(p)
	d.n -= n
	return n, err
}

func (d *dropAfter) Close() error { return nil }

// TestSniffReadErrorNotUnknown: the classification of a file above the
// in-memory limit reads on until it finds what the file is: a FHIR
// Bundle's resourceType after its entries (as serializers that sort
// keys write it), a C-CDA's root element after a long prologue. A read
// that failed on the way (the share dropped) was taken for the
// content's fault, "not valid JSON" or "XML without a root element",
// a file of no known format moved to failed/; it is now a read error,
// and the file read again.
func TestSniffReadErrorNotUnknown(t *testing.T) {
	pad := strings.Repeat("x", 200<<10)
	for _, tc := range []struct{ name, content string }{
		{"export.json", "{\n  \"entry\": [\n    {\"fullUrl\": \"urn:uuid:1\", \"resource\": {\"resourceType\": \"Patient\", \"id\": \"" + pad + "\"}}\n  ],\n  \"resourceType\": \"Bundle\",\n  \"type\": \"transaction\"\n}\n"},
		{"summary.xml", "<?xml version=\"1.0\"?>\n<!-- " + pad + " -->\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"></ClinicalDocument>\n"},
	} {
		got, err := Sniff(strings.NewReader(tc.content), tc.name)
		if err != nil || got.Format == "" {
			t.Fatalf("%s read whole: %+v %v", tc.name, got, err)
		}
		in := adapters.Raw{Name: tc.name, Size: int64(len(tc.content)),
			Open: func() (io.ReadCloser, error) {
				return &dropAfter{r: bytes.NewReader([]byte(tc.content)), n: 100 << 10}, nil
			}}
		_, err = SniffRaw(in)
		if err == nil || isUnknown(err) || queue.IsPermanent(err) || !adapters.IsReadError(err) {
			t.Errorf("%s whose reading failed at 100 KiB: %v (permanent %v), want a retryable read error", tc.name, err, queue.IsPermanent(err))
		}
	}
}
