package faxfhir

import (
	"fmt"

	"github.com/ferry-health/ferry/queue"
)

// pdfHasPages refuses, with ErrPDFNoPages, a PDF whose page tree says it
// has no page: the trailer's /Root names the catalog, whose /Pages names
// the root of the page tree, whose /Count is the number of pages of the
// document (ISO 32000-1 7.7.2, 7.7.3.2). A PDF whose tree ferry cannot
// find (in an object stream, or not where its references say) is left to
// the exchange, as before.
func pdfHasPages(in Input) error {
	trailer, err := pdfTrailer(in)
	if err != nil {
		return fmt.Errorf("fax %s: read: %w", in.Name, err)
	}
	catalog, err := pdfResolve(in, trailer["Root"])
	if err != nil {
		return fmt.Errorf("fax %s: read: %w", in.Name, err)
	}
	if catalog["Type"] != pdfName("Catalog") {
		return nil
	}
	pages, err := pdfResolve(in, catalog["Pages"])
	if err != nil {
		return fmt.Errorf("fax %s: read: %w", in.Name, err)
	}
	if n, ok := pages["Count"].(int64); ok && pages["Type"] == pdfName("Pages") && n <= 0 {
		return queue.Permanent(fmt.Errorf("fax %s: %w", in.Name, ErrPDFNoPages))
	}
	return nil
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
