package pipeline

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// droppingFile reads a real file as the folder engine hands it over
// (Raw.Open: Read, and ReadAt for PDFs, TIFFs and ZIPs), and fails at
// byte at, as a share that drops for a moment does: the engine's reader
// says so with an *adapters.ReadError around the operating system's EIO.
type droppingFile struct {
	*os.File
	at, pos int64
}

func (f *droppingFile) dropped() error {
	return &adapters.ReadError{Err: &fs.PathError{Op: "read", Path: f.Name(), Err: syscall.EIO}}
}

func (f *droppingFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *droppingFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.at {
		return 0, f.dropped()
	}
	short := int64(len(p)) > f.at-off
	if short {
		p = p[:f.at-off]
	}
	n, err := f.File.ReadAt(p, off)
	if err == nil && short {
		err = f.dropped()
	}
	return n, err
}

// TestInputReadErrorRetried: a file read through Raw.Open (one above the
// folder's in-memory limit) whose reading failed partway (an SMB or NFS
// drop folder returning EIO for a moment) was taken for a fault of its
// content: quarantined, and refused for good, so the folder moved a
// good file to failed/. A read error is now an ordinary error, the file
// is read again, and what an earlier attempt queued is not queued twice.
func TestInputReadErrorRetried(t *testing.T) {
	dir := t.TempDir()
	var hl7 strings.Builder
	hl7.WriteString("FHS|^~\\&|LAB|CLINIC\rBHS|^~\\&|LAB|CLINIC\r")
	for m := range 700 {
		fmt.Fprintf(&hl7, "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20261125083000||ORU^R01^ORU_R01|B-%d|P|2.5.1\r"+
			"PID|1||MRN-%d^^^CLINIC^MR||Doe^Pat||19800101|F\r"+
			"OBR|1|ORD-%d|FIL-%d|24323-8^Panel^LN|||20261125080000|||||||||||||||20261125083000|||F\r", m, m%40, m, m)
		for i := 1; i <= 20; i++ {
			fmt.Fprintf(&hl7, "OBX|%d|NM|%d-1^Analyte %d^LN||%d|mg/dL|||||F\r", i, 10000+i, i, m+i)
		}
	}
	fmt.Fprintf(&hl7, "BTS|700\rFTS|1\r")
	var ndjson strings.Builder
	for i := range 2*CSVBatchUnits + 100 {
		fmt.Fprintf(&ndjson, `{"resourceType":"Observation","id":"o%d","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p%d"}}`+"\n", i, i%50)
	}
	var csv strings.Builder
	csv.WriteString("MRN,LOINC,Result\n")
	for i := range 3000 {
		fmt.Fprintf(&csv, "%d,2345-7,%d\n", i, 90+i%40)
	}
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"7"}]},"request":{"method":"POST","url":"Patient"}}]}`
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pdf := filepath.Join(dir, "fax0001.pdf")
	writeTestPDF(t, pdf, 2<<20)
	for _, tc := range []struct {
		format, path string
		conv         Converter
	}{
		{"hl7v2-batch", write("history.hl7", hl7.String()), HL7{Conv: &v2fhir.Converter{Mode: v2fhir.ModePatientConditional}}},
		{"fhir-ndjson", write("Observation.ndjson", ndjson.String()), FHIRJSON{}},
		{"fhir-json", write("export.json", bundle), FHIRJSON{}},
		{"csv", write("labs_1.csv", csv.String()), csvConv()},
		{"fax", pdf, faxConverter(t)},
	} {
		t.Run(tc.format, func(t *testing.T) {
			info, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			raw := func(failAt int64) adapters.Raw {
				return adapters.Raw{Source: "folder/ehr", Format: tc.format, Name: filepath.Base(tc.path), Size: info.Size(),
					Received: time.Now(), Meta: map[string]string{"folder": "ehr"},
					Open: func() (io.ReadCloser, error) {
						f, err := os.Open(tc.path)
						if err != nil {
							return nil, err
						}
						return &droppingFile{File: f, at: failAt}, nil
					}}
			}
			// What the file queues, read without a hitch.
			want, err := diskq.Open(t.TempDir(), diskq.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close(context.Background())
			quar, err := OpenQuarantine(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := New(want, memSeen{}, quar, map[string]Converter{tc.format: tc.conv}, nil).Consume(context.Background(), raw(info.Size()+1)); err != nil {
				t.Fatal(err)
			}

			q, err := diskq.Open(t.TempDir(), diskq.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close(context.Background())
			p := New(q, memSeen{}, quar, map[string]Converter{tc.format: tc.conv}, nil)
			err = p.Consume(context.Background(), raw(info.Size()*2/3))
			if err == nil || queue.IsPermanent(err) || !adapters.IsReadError(err) {
				t.Fatalf("Consume of a file whose reading failed two thirds in: %v (permanent %v), want a retryable read error", err, queue.IsPermanent(err))
			}
			if !strings.Contains(err.Error(), filepath.Base(tc.path)) || !strings.Contains(err.Error(), syscall.EIO.Error()) {
				t.Errorf("error %q names neither the file nor the operating system's reason", err)
			}
			if ids, _ := quar.List(); len(ids) != 0 {
				t.Errorf("quarantine holds %d entries after a read error; want none", len(ids))
			}
			if err := p.Consume(context.Background(), raw(info.Size()+1)); err != nil {
				t.Fatalf("Consume read again whole: %v", err)
			}
			if q.Len() != want.Len() {
				t.Fatalf("queue holds %d bundles after a failed read and a good one, want %d, each once", q.Len(), want.Len())
			}
			// And they are the bundles of the whole file: none was made of
			// the part read before the error.
			bodies := func(q *diskq.Queue) map[string]int {
				m := map[string]int{}
				for range q.Len() {
					it, ack, err := q.Get(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					m[string(it.Body)]++
					ack(context.Background(), nil)
				}
				return m
			}
			if got, wanted := bodies(q), bodies(want); !maps.Equal(got, wanted) {
				t.Errorf("the bundles queued differ from those of the file read whole")
			}
		})
	}
}
