package pipeline

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
)

// TestHL7FileInUTF16: an HL7 v2 file saved as UTF-16 with its
// byte-order mark (Notepad's "Unicode", PowerShell 5's > and Out-File)
// is taken by an EHR drop for HL7 v2 (ehrdrop.Sniff reads it through
// its mark), but its bytes went to the splitter as they were, and the
// file was refused as "no MSH segment before line 1", a file whose
// first line is an MSH. It is read as the text it is, and converts to
// what the same file in UTF-8 does.
func TestHL7FileInUTF16(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "testdata", "hl7v2", "batch-two-messages.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	h := HL7{Conv: &v2fhir.Converter{}}
	convert := func(in adapters.Raw) ([][]byte, error) {
		units, err := h.Convert(context.Background(), in)
		var out [][]byte
		for _, u := range units {
			if u.Err != nil {
				return nil, u.Err
			}
			out = append(out, u.Bundle)
		}
		return out, err
	}
	want, err := convert(adapters.Raw{Name: "batch.hl7", Body: text})
	if err != nil || len(want) != 2 {
		t.Fatalf("UTF-8: %d bundles, %v", len(want), err)
	}
	for order, e := range map[string]unicode.Endianness{"LE": unicode.LittleEndian, "BE": unicode.BigEndian} {
		b, err := unicode.UTF16(e, unicode.UseBOM).NewEncoder().Bytes(text)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []adapters.Raw{
			{Name: "batch.hl7", Body: b},
			{Name: "batch.hl7", Size: int64(len(b)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }},
		} {
			got, err := convert(in)
			if err != nil || len(got) != len(want) {
				t.Errorf("UTF-16%s (streamed %v): %d bundles, %v; want %d", order, in.Body == nil, len(got), err, len(want))
				continue
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("UTF-16%s: bundle %d differs from the UTF-8 file's", order, i+1)
				}
			}
		}
		// Cut short by a byte: said so.
		if _, err := convert(adapters.Raw{Name: "batch.hl7", Body: b[:len(b)-1]}); err == nil || !strings.Contains(err.Error(), "UTF-16") {
			t.Errorf("UTF-16 cut short: %v, want an error saying so", err)
		}
	}
}
