package ccdafhir

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkConvert converts corpus CCDs of about 100 KB, including the JSON
// encoding of the Bundle (what the pipeline queues). docs/s is per core
// with -cpu 1.
func BenchmarkConvert(b *testing.B) {
	for _, name := range []string{"170.314B2_Amb_CCD.xml", "Patient-1.xml", "C-CDA_R2-1_CCD.xml"} {
		raw, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			b.Skip("corpus not present")
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				bun, _, err := ConvertBytes(raw, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(bun); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "docs/cpu-s")
			}
		})
	}
}

// largeNonXML is the unstructured test document with its one-line PDF
// replaced by mb MiB of base64, wrapped at 76 columns as C-CDA writers
// wrap it; pdf is the PDF it carries.
func largeNonXML(tb testing.TB, mb int) (doc, pdf []byte) {
	src, err := os.ReadFile("../../../testdata/convert/ccda-unstructured/input.xml")
	if err != nil {
		tb.Fatal(err)
	}
	const tiny = "JVBERi0xLjQKMSAwIG9iajw8Pj5lbmRvYmoKdHJhaWxlcjw8Pj4KJSVFT0YK"
	pdf = bytes.Repeat([]byte("%PDF-1.4 scanned page\n"), mb<<20/22)
	enc := base64.StdEncoding.EncodeToString(pdf)
	var b64 strings.Builder
	for len(enc) > 76 {
		b64.WriteString(enc[:76] + "\n        ")
		enc = enc[76:]
	}
	b64.WriteString(enc)
	doc = bytes.Replace(src, []byte(tiny), []byte(b64.String()), 1)
	if len(doc) == len(src) {
		tb.Fatal("test document changed: nonXMLBody text not found")
	}
	return doc, pdf
}

// BenchmarkConvertLargeNonXML converts a 24 MB scanned-record C-CDA (an
// 18 MB PDF in its nonXMLBody), the Bundle not encoded: B/op is what the
// conversion itself allocates.
//
//	go test ./adapters/convert/ccdafhir -run '^$' -bench LargeNonXML -benchmem
func BenchmarkConvertLargeNonXML(b *testing.B) {
	doc, _ := largeNonXML(b, 18)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ConvertBytes(doc, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
