package faxfhir

import (
	"bytes"
	"fmt"
	"testing"
)

// TestPDFObjectAcrossChunkBoundary: pdfObject reads the file a MiB at a
// time and finds "2 0 obj" only where no digit comes before it, but the
// start of each piece counted as such a place, so "12 0 obj" cut there
// between its "1" and its "2" was taken for object 2, and, coming after
// it, for the last one. A 3-page PDF whose second-level Pages node is
// object 12 then counted 1 page, that node's.
func TestPDFObjectAcrossChunkBoundary(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	off1 := b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	off2 := b.Len()
	b.WriteString("2 0 obj\n<< /Type /Pages /Kids [12 0 R 13 0 R] /Count 3 >>\nendobj\n")
	// A content stream fills the file up to the MiB, where object 12
	// begins one byte before it.
	head := "3 0 obj\n<< /Length %d >>\nstream\n"
	tail := "\nendstream\nendobj\n"
	fill := 1<<20 - 1 - b.Len() - len(fmt.Sprintf(head, 0)) - len(tail)
	fill -= len(fmt.Sprint(fill)) - 1
	fmt.Fprintf(&b, head, fill)
	b.Write(bytes.Repeat([]byte{'q', '\n'}, fill/2))
	if fill%2 == 1 {
		b.WriteByte('\n')
	}
	b.WriteString(tail)
	if b.Len() != 1<<20-1 {
		t.Fatalf("object 12 at %d, want %d", b.Len(), 1<<20-1)
	}
	off12 := b.Len()
	b.WriteString("12 0 obj\n<< /Type /Pages /Parent 2 0 R /Kids [] /Count 1 >>\nendobj\n")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n12 1\n%010d 00000 n \ntrailer\n<< /Size 13 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", off1, off2, off12, xref)
	pdf := b.Bytes()
	n, err := PDFPages(bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil || n != 3 {
		t.Errorf("PDFPages = %d, %v; want 3 (the root Pages node's /Count)", n, err)
	}
}
