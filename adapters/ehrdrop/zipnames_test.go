package ehrdrop

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// A ZIP written without the UTF-8 flag (Windows' "Send to compressed
// folder", older EHR exports) names its entries in code page 437 (ZIP
// APPNOTE 4.4.4 and appendix D). Two entries whose names differ only in
// an accented letter are two documents, not one name used twice, and each
// reaches the Consumer named as the sender wrote it, in UTF-8.
func TestZipCP437Names(t *testing.T) {
	ndjson := func(id string) []byte {
		return []byte(`{"resourceType":"Patient","id":"` + id + `"}` + "\n")
	}
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"r\x82sultats/Patient_1.ndjson", ndjson("a")}, // résultats
		{"r\x8asultats/Patient_1.ndjson", ndjson("b")}, // rèsultats
		{"Utf8Unflagged/Müller.ndjson", ndjson("c")},   // UTF-8 without the flag: kept
	} {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), NonUTF8: true})
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(f.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	src := &Source{next: c, zip: defaultZipLimits, maxBody: 64 << 20}
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "export.zip", Body: b.Bytes(), Meta: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	got := c.all()
	want := []string{"export.zip: Utf8Unflagged/Müller.ndjson", "export.zip: rèsultats/Patient_1.ndjson", "export.zip: résultats/Patient_1.ndjson"} // in name order
	if len(got) != len(want) {
		t.Fatalf("consumer got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].name != want[i] {
			t.Errorf("entry %d named %q, want %q", i, got[i].name, want[i])
		}
	}
}
