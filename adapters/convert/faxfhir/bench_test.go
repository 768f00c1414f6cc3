package faxfhir

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWriteBundle measures a typical 3-page fine G4 fax: parse, PDF
// rendition (twice: hash, then write), base64, JSON.
//
//	go test -run '^$' -bench WriteBundle -benchmem ./adapters/convert/faxfhir/
func BenchmarkWriteBundle(b *testing.B) {
	body, err := os.ReadFile(filepath.Join(faxDir, "g4-fine-3p.tif"))
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(testConfig())
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Name: "g4-fine-3p.tif", R: bytes.NewReader(body), Size: int64(len(body))}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.WriteBundle(context.Background(), io.Discard, in, testFax()); err != nil {
			b.Fatal(err)
		}
	}
}
