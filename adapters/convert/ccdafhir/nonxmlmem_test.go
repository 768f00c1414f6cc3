package ccdafhir

import (
	"bytes"
	"encoding/base64"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// A scanned record's PDF, base64 in its nonXMLBody, was read by the XML
// decoder into its token buffer and the element's chardata (each grown by
// doubling), copied into a string, and again without its line breaks
// before it was decoded: a 24 MB document took 170 MB to convert, over
// 140 MB of it copies of the text. The text is now decoded from the
// document's bytes as it lies there, the decoder reading its line breaks
// only, and the PDF is the same; base64 the decoder must read itself
// (CDATA, a character reference, a document in ISO-8859-1) is read as
// before, and an error after the text is still on its line.
func TestLargeNonXMLBodyDecodedInPlace(t *testing.T) {
	doc, pdf := largeNonXML(t, 6)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	bun, _, err := ConvertBytes(doc, Options{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if !hasBinary(bun, pdf) {
		t.Error("the PDF's Binary differs from the PDF")
	}
	if limit := 2 * uint64(len(doc)); alloc > limit {
		t.Errorf("%.1f MB allocated to convert a %.1f MB document, want at most %.1f MB",
			float64(alloc)/(1<<20), float64(len(doc))/(1<<20), float64(limit)/(1<<20))
	}

	small, err := os.ReadFile("../../../testdata/convert/ccda-unstructured/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ = base64.StdEncoding.DecodeString("JVBERi0xLjQKMSAwIG9iajw8Pj5lbmRvYmoKdHJhaWxlcjw8Pj4KJSVFT0YK")
	const sample = "JVBERi0xLjQK"
	at := bytes.Index(small, []byte(sample))
	for name, doc := range map[string][]byte{
		"CDATA":     bytes.Replace(small, []byte(sample), []byte("<![CDATA["+sample+"]]>"), 1),
		"reference": bytes.Replace(small, []byte(sample), []byte("JVBERi0x&#10;LjQK"), 1),
		"latin-1":   bytes.Replace(small, []byte(`encoding="UTF-8"`), []byte(`encoding="ISO-8859-1"`), 1),
		"CRLF":      bytes.ReplaceAll(small, []byte("\n"), []byte("\r\n")),
	} {
		if bytes.Equal(doc, small) || at < 0 {
			t.Fatalf("%s: test document changed", name)
		}
		bun, _, err := ConvertBytes(doc, Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !hasBinary(bun, pdf) {
			t.Errorf("%s: the PDF's Binary differs from the PDF", name)
		}
	}
	for name, text := range map[string]string{
		"not base64": "JVBERi0x!LjQK",
		"padded":     "JVBERi0=LjQK",
	} {
		bun, _, err := ConvertBytes(bytes.Replace(small, []byte(sample), []byte(text), 1), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if hasBinary(bun, nil) {
			t.Errorf("%s: a Binary was made of base64 that is not", name)
		}
	}

	// A syntax error on the line after the text names that line.
	bad := bytes.Replace(doc, []byte("</nonXMLBody>"), []byte("</nonXMLBody></broken>"), 1)
	line := bytes.Count(bad[:bytes.Index(bad, []byte("</broken>"))], []byte("\n")) + 1
	_, _, err = ConvertBytes(bad, Options{})
	if err == nil || !strings.Contains(err.Error(), "line "+strconv.Itoa(line)) {
		t.Errorf("error %v, want it on line %d", err, line)
	}
}

// hasBinary reports whether bun has a Binary other than the document's
// with data (any data, when data is nil).
func hasBinary(bun *fhir.Bundle, data []byte) bool {
	for _, e := range bun.Entry {
		if b, ok := e.Resource.(*fhir.Binary); ok && b.ContentType != "text/xml" && (data == nil || bytes.Equal(b.Data, data)) {
			return true
		}
	}
	return false
}
