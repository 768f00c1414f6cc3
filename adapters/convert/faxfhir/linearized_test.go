package faxfhir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// linearizedPDF is a PDF laid out as a linearized file ("Fast Web View";
// ISO 32000-1 Annex F): the first-page cross-reference table and its
// trailer (with /Root, /Encrypt, /ID and /Prev) near the start, the main
// table at the end, its trailer only /Size, and the final startxref giving
// the offset of the first-page table. encrypt is the encryption
// dictionary's entries ("" for none).
func linearizedPDF(pages int, encrypt string, id []byte) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	b.WriteString("10 0 obj\n<< /Linearized 1 /N 1 >>\nendobj\n")
	firstXref := b.Len()
	// The tables' entries are not read; their offsets are left at 0.
	b.WriteString("xref\n10 4\n0000000000 00000 n \n0000000000 00000 n \n0000000000 00000 n \n0000000000 00000 n \n")
	enc := ""
	if encrypt != "" {
		enc = " /Encrypt 13 0 R"
	}
	// The first-page trailer's /Prev, ten digits, is written once the
	// main table's offset is known.
	trailerAt := b.Len()
	fmt.Fprintf(&b, "trailer\n<< /Size 14 /Root 11 0 R /Info 12 0 R%s /ID [%s %s] /Prev 0000000000 >>\nstartxref\n0\n%%%%EOF\n", enc, hexStr(id), hexStr(id))
	b.WriteString("11 0 obj\n<< /Type /Catalog /Pages 1 0 R >>\nendobj\n12 0 obj\n<< /Producer (scanner) >>\nendobj\n")
	if encrypt != "" {
		fmt.Fprintf(&b, "13 0 obj\n<< %s >>\nendobj\n", encrypt)
	}
	fmt.Fprintf(&b, "1 0 obj\n<< /Type /Pages /Kids [] /Count %d >>\nendobj\n", pages)
	mainAt := b.Len()
	b.WriteString("xref\n0 2\n0000000000 65535 f \n0000000000 00000 n \ntrailer\n<< /Size 10 >>\n")
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", firstXref)
	out := b.Bytes()
	prev := bytes.Index(out[trailerAt:], []byte("/Prev ")) + trailerAt + len("/Prev ")
	copy(out[prev:], fmt.Sprintf("%010d", mainAt))
	return out
}

// TestLinearizedPDFTrailer: a linearized PDF (Acrobat's "Fast Web View",
// as scanners and fax services save them) has its trailer with /Root and
// /Encrypt after the first-page cross-reference table, which the final
// startxref names; the main trailer at the end of the file need hold only
// /Size (PDF 1.7 reference F.2.10: "The startxref line gives the offset of
// the first-page cross-reference table. [...] The main trailer has no Prev
// entry and in fact does not need to contain any entries other than
// Size."). ferry took the last trailer in the file, so a linearized PDF
// that opens only with a password went to the exchange as one that opens,
// and a linearized PDF's pages were not counted. The trailer read is the
// one startxref names.
func TestLinearizedPDFTrailer(t *testing.T) {
	id := esc(t, "%F6%C6%AF%17%F3rR%8DRM%9A%80%D1%EF%DF%18")
	pdf := linearizedPDF(3, "", id)
	if n, err := PDFPages(bytes.NewReader(pdf), int64(len(pdf))); n != 3 || err != nil {
		t.Errorf("linearized PDF of 3 pages: %d pages, err %v", n, err)
	}
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	// pdf.js's RC4 revision 3 vector (test/unit/crypto_spec.js), which
	// needs its user password.
	rc4 := "/Filter /Standard /V 2 /Length 128 /R 3 /P -1028 /O " +
		hexStr(esc(t, "%80%C3%04%96%91o%20sl%3A%E6%1B%13T%91%F2%0DV%12%E3%FF%5E%BB%E9VO%D8k%9A%CA%7C%5D")) + " /U " +
		hexStr(esc(t, "j%0C%8D%3EY%19%00%BCjd%7D%91%BD%AA%00%18%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00"))
	_, err = c.Convert(context.Background(), adapters.Raw{Name: "secure.pdf", Body: linearizedPDF(3, rc4, id)})
	if !queue.IsPermanent(err) || !errors.Is(err, ErrPDFEncrypted) || !strings.Contains(err.Error(), "fax secure.pdf") {
		t.Errorf("linearized PDF needing a password: %v; want it refused as encrypted", err)
	}
	if _, err := c.Convert(context.Background(), adapters.Raw{Name: "fast.pdf", Body: pdf}); err != nil {
		t.Errorf("linearized PDF: %v", err)
	}
}
