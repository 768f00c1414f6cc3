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

// pdfOfPages is a whole PDF (catalog, page tree, cross-reference table)
// whose page tree says it has count pages; the pages themselves are not
// written, since only the tree's /Count is read.
func pdfOfPages(count int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	off1 := b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	off2 := b.Len()
	fmt.Fprintf(&b, "2 0 obj\n<< /Type /Pages /Kids [] /Count %d >>\nendobj\n", count)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \ntrailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", off1, off2, xref)
	return b.Bytes()
}

// TestZeroPagePDFIsRefused: a PDF whose page tree has no page (a cloud
// fax service's attachment for a call that brought none, a print driver
// that wrote an empty document) was filed at the exchange as the fax, a
// document with nothing in it, and archived in done/ as sent, the
// practice never learning that a fax did not come through. It is refused
// for good, naming the file and saying why, so it goes to failed/. A PDF
// with pages, and one whose page tree ferry cannot find, still convert.
func TestZeroPagePDFIsRefused(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.Convert(ctx, adapters.Raw{Name: "empty.pdf", Body: pdfOfPages(0)})
	if !queue.IsPermanent(err) || !errors.Is(err, ErrPDFNoPages) || !strings.Contains(err.Error(), "fax empty.pdf") {
		t.Errorf("zero-page PDF: %v", err)
	}
	for name, body := range map[string][]byte{
		"one.pdf":    pdfOfPages(1),
		"ferry.pdf":  writePDF(t, "g3-1d-normal-3p.tif"),
		"notree.pdf": []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 7 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\nstartxref\n0\n%%EOF\n"),
	} {
		if _, err := c.Convert(ctx, adapters.Raw{Name: name, Body: body}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestPDFDescribedByItsPages: a PDF fax is described by the pages it
// holds, as a TIFF is: with fax.pages 1 (a sidecar's, an e-mail
// subject's) a 3-page PDF went to the exchange as "1 page", its fax
// receipt saying pages 1.
func TestPDFDescribedByItsPages(t *testing.T) {
	fax := Fax{CallerNumber: "5550100", Pages: 1, Received: received}
	raw := adapters.Raw{Source: "fax/test", Format: "fax", Name: "x.pdf", Body: writePDF(t, "g3-1d-normal-3p.tif"), Received: received, Meta: fax.Meta()}
	b := convert(t, testConfig(), raw)
	var d any
	for _, e := range get(b, "entry").([]any) {
		if str(e, "resource", "resourceType") == "DocumentReference" {
			d = get(e, "resource")
		}
	}
	if desc := str(d, "description"); !strings.HasSuffix(desc, "from 5550100, 3 pages") {
		t.Errorf("description %q", desc)
	}
	for _, e := range get(d, "extension").([]any) {
		for _, s := range get(e, "extension").([]any) {
			if str(s, "url") == "pages" && get(s, "valueInteger") != 3.0 {
				t.Errorf("fax receipt pages %v", get(s, "valueInteger"))
			}
		}
	}
}
