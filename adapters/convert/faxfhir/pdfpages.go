package faxfhir

import (
	"fmt"
	"io"

	"github.com/ferry-health/ferry/queue"
)

// pdfHasPages returns the pages of the PDF in (-1 when its page tree
// cannot be found), and refuses, with ErrPDFNoPages, one whose page tree
// says it has none. A PDF whose tree ferry cannot find is left to the
// exchange, as before.
func pdfHasPages(in Input) (int, error) {
	n, err := PDFPages(in.R, in.Size)
	if err != nil {
		return -1, fmt.Errorf("fax %s: read: %w", in.Name, err)
	}
	if n == 0 {
		return 0, queue.Permanent(fmt.Errorf("fax %s: %w", in.Name, ErrPDFNoPages))
	}
	return n, nil
}

// PDFPages returns the number of pages of the PDF r holds (size bytes):
// the trailer's /Root names the catalog, whose /Pages names the root of
// the page tree, whose /Count is the number of pages of the document (ISO
// 32000-1 7.7.2, 7.7.3.2). It is -1 when the tree cannot be found (in an
// object stream, or not where its references say); err when the file
// could not be read.
func PDFPages(r io.ReaderAt, size int64) (int, error) {
	in := Input{R: r, Size: size}
	trailer, err := pdfTrailer(in)
	if err != nil {
		return -1, err
	}
	catalog, err := pdfResolve(in, trailer["Root"])
	if err != nil || catalog["Type"] != pdfName("Catalog") {
		return -1, err
	}
	pages, err := pdfResolve(in, catalog["Pages"])
	if err != nil {
		return -1, err
	}
	if n, ok := pages["Count"].(int64); ok && pages["Type"] == pdfName("Pages") && n >= 0 && n <= 1<<30 {
		return int(n), nil
	}
	return -1, nil
}

// pdfResolve returns the dictionary v is, or the one it refers to; nil
// when it is neither; err when the file could not be read.
func pdfResolve(in Input, v any) (pdfDict, error) {
	if ref, ok := v.(pdfRef); ok {
		o, err := pdfObject(in, ref)
		if err != nil {
			return nil, err
		}
		v = o
	}
	d, _ := v.(pdfDict)
	return d, nil
}
