package v2fhir

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// cdaED reads the data of an OBX ED whose type of data is multipart and
// subtype x-hl7-cda-level-one: the way HL7 v2 carries a CDA document (HL7
// CDA R2, "CDA Document Exchange in HL7 Messages"). The data is either
// the CDA document itself or a MIME multipart/related package (RFC 2557)
// whose root part is the document. The attachment is then the document,
// text/xml, the content type ferry files every CDA under (ccdafhir) and
// the mimeType XDS and MHD give one. A package with other parts besides
// the document (the attested images it references) is kept whole, as the
// MIME message it is (message/rfc822): cutting it would drop them. What
// is neither is kept as it came, application/octet-stream. cda is the
// CDA document itself, also when the package is kept whole (its root
// part, the first), for the labels it gives (cdaConfidentiality); nil when
// there is none.
func cdaED(data []byte) (contentType string, out, cda []byte) {
	if looksXML(data) {
		return "text/xml", data, data
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return "application/octet-stream", data, nil
	}
	mt, params, err := mime.ParseMediaType(hdr.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return "application/octet-stream", data, nil
	}
	const whole = "message/rfc822"
	mr := multipart.NewReader(tp.R, params["boundary"])
	var doc []byte
	root := func() []byte {
		if looksXML(doc) {
			return doc
		}
		return nil
	}
	for n := 0; ; n++ {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil || n > 0 {
			return whole, data, root()
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return whole, data, nil
		}
		if strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
			if body, err = base64.StdEncoding.DecodeString(strings.Map(dropSpace, string(body))); err != nil {
				return whole, data, nil
			}
		}
		doc = body
	}
	if !looksXML(doc) {
		return whole, data, nil
	}
	return "text/xml", doc, doc
}

// looksXML reports whether b starts, after white space or a UTF-8 byte
// order mark, with markup.
func looksXML(b []byte) bool {
	b = bytes.TrimPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("<"))
}

// cdaConfidentiality is the highest v3-Confidentiality rank the
// confidentialityCodes of a CDA document give (its header's, a section's),
// as ccdafhir takes a C-CDA's high-water mark; -1 when doc is no CDA
// document (its root not ClinicalDocument) or gives none. Only the codes
// are read: the XML declaration's character set does not matter to them.
func cdaConfidentiality(doc []byte) int {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	rank, root := -1, true
	for {
		t, err := d.Token()
		if err != nil {
			return rank
		}
		el, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		if el.Name.Space != "" && el.Name.Space != "urn:hl7-org:v3" {
			if root {
				return -1
			}
			continue
		}
		if root {
			if el.Name.Local != "ClinicalDocument" {
				return -1
			}
			root = false
			continue
		}
		if el.Name.Local != "confidentialityCode" {
			continue
		}
		for _, a := range el.Attr {
			if a.Name.Local == "code" && a.Name.Space == "" {
				rank = max(rank, fhir.ConfidentialityRank(strings.ToUpper(strings.TrimSpace(a.Value))))
			}
		}
	}
}
