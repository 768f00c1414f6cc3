package ehrdrop

import (
	"bytes"
	"testing"
)

// A bulk export's DocumentReference.ndjson (or Binary.ndjson) whose first
// line carries a scanned document inline runs past the first-line limit,
// yet it is NDJSON: a line a resource, more lines after it. Taken for one
// pretty-printed document, the whole file was read into memory and
// refused as "not valid JSON", none of its resources sent.
func TestSniffNDJSONLongFirstLine(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"DocumentReference","id":"d1","content":[{"attachment":{"contentType":"application/pdf","data":"`)
	b.Write(bytes.Repeat([]byte("QUFB"), maxNDJSONLine/4+1<<16))
	b.WriteString("\"}}]}\n")
	b.WriteString(`{"resourceType":"DocumentReference","id":"d2","status":"current"}` + "\n")
	for _, name := range []string{"DocumentReference.ndjson", "export.json"} {
		got, err := Sniff(bytes.NewReader(b.Bytes()), name)
		if err != nil || got.Format != FormatFHIRNDJSON || got.Type != "DocumentReference" {
			t.Errorf("%s: Sniff = %+v, %v; want %s of DocumentReference", name, got, err, FormatFHIRNDJSON)
		}
	}
	// One such resource alone, on one line, is NDJSON only when named so.
	one := b.Bytes()[:bytes.IndexByte(b.Bytes(), '\n')+1]
	for name, want := range map[string]string{"DocumentReference.ndjson": FormatFHIRNDJSON, "doc.json": FormatFHIRJSON} {
		got, err := Sniff(bytes.NewReader(one), name)
		if err != nil || got.Format != want {
			t.Errorf("%s alone: Sniff = %+v, %v; want %s", name, got, err, want)
		}
	}
}
