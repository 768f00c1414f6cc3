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
// rendition (twice: hash, then write), base64, JSON; as an ITI-65 bundle
// (the default profile, the original TIFF kept beside the PDF) and as an
// ITI-105 Simplified Publish DocumentReference (the PDF alone). sent-bytes/op
// is what goes to the exchange.
//
//	go test -run '^$' -bench WriteBundle -benchmem ./adapters/convert/faxfhir/
func BenchmarkWriteBundle(b *testing.B) {
	body, err := os.ReadFile(filepath.Join(faxDir, "g4-fine-3p.tif"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		cfg  Config
	}{{"mhd-minimal", testConfig()}, {"mhd-simplified", simplifiedConfig()}} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			in := Input{Name: "g4-fine-3p.tif", R: bytes.NewReader(body), Size: int64(len(body))}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var res Result
			for b.Loop() {
				if res, err = c.WriteBundle(context.Background(), io.Discard, in, testFax()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.BundleSize), "sent-bytes/op")
		})
	}
}
