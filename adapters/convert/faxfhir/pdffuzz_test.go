package faxfhir

import (
	"bytes"
	"testing"
)

// FuzzPDFPages feeds mutated PDFs to what ferry reads of a PDF fax (its
// trailer, encryption dictionary and page tree): no panic, no hang, and a
// page count that is -1 or one the page tree can say.
func FuzzPDFPages(f *testing.F) {
	f.Add(pdfOfPages(3))
	f.Add([]byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 7 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\nstartxref\n0\n%%EOF\n"))
	// A cross-reference stream (no trailer keyword; ISO 32000-1 7.5.8).
	f.Add([]byte("%PDF-1.5\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n" +
		"4 0 obj\n<< /Type /XRef /Size 5 /Root 1 0 R /W [1 2 1] /Length 0 >>\nstream\n\nendstream\nendobj\nstartxref\n101\n%%EOF\n"))
	f.Add(linearizedPDF(2, "", []byte("0123456789abcdef")))
	f.Add(encryptedPDF(pdfOfPages(2), "/Filter /Standard /V 1 /R 2 /O <00> /U <00> /P -4", []byte("0123456789abcdef"), false))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := Input{Name: "fuzz.pdf", R: bytes.NewReader(data), Size: int64(len(data))}
		_ = pdfOpens(in)
		n, err := PDFPages(in.R, in.Size)
		if err != nil {
			t.Fatalf("a PDF in memory failed to read: %v", err)
		}
		if n < -1 || n > 1<<30 {
			t.Fatalf("pages %d", n)
		}
	})
}
