package v2fhir

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// FuzzConvertParsed: whatever message parses, Convert either converts it
// to a bundle that encodes, or refuses it in one of the two ways a
// listener can answer: ErrUnsupported (AR) or a *ContentError (AE)
// naming the segment and field, so that the sender is told what to fix
// and the message is quarantined. Any other error would be answered as
// a failure of ferry's, for the sender to retry for ever. Seeded with
// the test messages and the shared corpus of real messages.
func FuzzConvertParsed(f *testing.F) {
	for _, pat := range []string{"../../../testdata/convert/v2-*/input.hl7", "../../../../shared/corpus/hl7v2/*.hl7"} {
		files, _ := filepath.Glob(pat)
		for _, in := range files {
			if raw, err := os.ReadFile(in); err == nil {
				f.Add(raw, byte(0))
			}
		}
	}
	f.Add([]byte(minimalADT), byte(1))
	f.Fuzz(func(t *testing.T, raw []byte, mode byte) {
		m, err := hl7v2.Parse(raw)
		if err != nil {
			return
		}
		c := &Converter{Location: time.UTC, Mode: Mode(mode % 3)}
		b, _, err := c.Convert(m, raw)
		if err != nil {
			var ce *ContentError
			switch {
			case errors.Is(err, ErrUnsupported):
			case errors.As(err, &ce):
				if ce.Field == "" || ce.Reason == "" || (ce.Segment != "" && !strings.HasPrefix(ce.Field, ce.Segment)) {
					t.Fatalf("content error without its place: %#v", ce)
				}
			default:
				t.Fatalf("neither unsupported nor a content error: %v", err)
			}
			return
		}
		if _, err := json.Marshal(b); err != nil {
			t.Fatalf("converted bundle does not encode: %v", err)
		}
		if _, err := c.Parts(b); err != nil {
			t.Fatalf("converted bundle does not split: %v", err)
		}
	})
}
