package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// endless is a file that goes on: head, then filler for ever. Reading
// past stop fails, as a server would, out of memory, long before a
// multi-gigabyte file's end.
type endless struct {
	head   string
	filler byte
	read   int64
	stop   int64
}

func (r *endless) Read(p []byte) (int, error) {
	if r.read >= r.stop {
		return 0, fmt.Errorf("read past %d MiB of a file read whole", r.stop>>20)
	}
	n := 0
	for n < len(p) && r.read < r.stop {
		if r.read < int64(len(r.head)) {
			p[n] = r.head[r.read]
		} else {
			p[n] = r.filler
		}
		n++
		r.read++
	}
	return n, nil
}

func (r *endless) Close() error { return nil }

// TestWholeFileBounded: a FHIR JSON document (a bulk Bundle, a mistaken
// export) and an HL7 v2 batch file are read whole, and were read with no
// limit: a 4 GiB file dropped in an EHR folder was taken into memory,
// which a small clinic server does not have, and again at every retry.
// Past sources.max_whole_file_bytes (128 MiB by default) the file is now
// refused, unread, with an error naming it and the limit, and goes to
// failed/; a file that grows past the limit while read (its size said
// less) is refused having read no more than the limit.
func TestWholeFileBounded(t *testing.T) {
	for _, tc := range []struct {
		format, name, head string
		filler             byte
	}{
		{"fhir-json", "export.json", `{"resourceType":"Bundle","type":"transaction","entry":[`, ' '},
		{"hl7v2-batch", "history.hl7", "MSH|^~\\&|EHR|CLINIC|HIE|HIE|20240101120000||ADT^A08|C1|P|2.5.1\rPID|1||1^^^CLINIC^MR||", 'x'},
	} {
		t.Run(tc.format, func(t *testing.T) {
			q, err := diskq.Open(t.TempDir(), diskq.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close(context.Background())
			quar, err := OpenQuarantine(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			convs := map[string]Converter{"fhir-json": FHIRJSON{}, "hl7v2-batch": HL7{Conv: &v2fhir.Converter{}}}
			p := New(q, memSeen{}, quar, convs, nil)
			f := &endless{head: tc.head, filler: tc.filler, stop: 32 << 20}
			in := adapters.Raw{Source: "folder/ehr", Format: tc.format, Name: tc.name, Size: 4 << 30,
				Open: func() (io.ReadCloser, error) { return f, nil }}

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err = p.Consume(context.Background(), in)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d MiB read, %.1f MiB allocated: %v", f.read>>20, float64(alloc)/(1<<20), err)
			if err == nil || !queue.IsPermanent(err) {
				t.Fatalf("a 4 GiB %s: %v, want a permanent refusal (failed/)", tc.format, err)
			}
			for _, want := range []string{tc.name, "128 MiB", "sources.max_whole_file_bytes"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if f.read > 0 {
				t.Errorf("%d MiB of a 4 GiB file read before it was refused", f.read>>20)
			}
			if alloc > 4<<20 {
				t.Errorf("%.1f MiB allocated to refuse a 4 GiB file", float64(alloc)/(1<<20))
			}
			if ids, err := quar.List(); err != nil || len(ids) != 1 {
				t.Errorf("quarantine holds %d entries (%v), want the refused file's", len(ids), err)
			}

			// Grown past its size (and past a limit of 1 MiB) while read.
			convs = map[string]Converter{"fhir-json": FHIRJSON{MaxBytes: 1 << 20}, "hl7v2-batch": HL7{Conv: &v2fhir.Converter{}, MaxBytes: 1 << 20}}
			p = New(q, memSeen{}, quar, convs, nil)
			f = &endless{head: tc.head, filler: tc.filler, stop: 32 << 20}
			in.Size = 1000
			err = p.Consume(context.Background(), in)
			if !queue.IsPermanent(err) || !errors.Is(err, ErrFileTooLarge) || !strings.Contains(err.Error(), "1 MiB") {
				t.Fatalf("a file grown past the limit: %v, want it refused naming 1 MiB", err)
			}
			if f.read > 1<<20+1 {
				t.Errorf("%d bytes read of a file over a 1 MiB limit", f.read)
			}
		})
	}
}
