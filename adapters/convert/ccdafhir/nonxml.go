package ccdafhir

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"io"
	"strings"
)

// docReader is the decoder's input: the document's bytes, which
// xml.Decoder reads one at a time from an io.ByteReader (it buffers
// none), so the base64 text of a nonXMLBody can be taken out of the
// stream before the decoder reads it (takeB64). Read whole, a scanned
// record's text was copied by the decoder into its token buffer and into
// the element's chardata (each grown by doubling), then into a string and
// a string without its line breaks: six times the text before it was
// decoded, 140 MB of the 170 MB that converting a 24 MB document took.
type docReader struct {
	b     []byte
	pos   int   // next byte of b
	nl    int   // line breaks to give before b[pos] (takeB64)
	given int64 // bytes given to the decoder, as its InputOffset counts them
}

func (r *docReader) ReadByte() (byte, error) {
	if r.nl > 0 {
		r.nl--
		r.given++
		return '\n', nil
	}
	if r.pos >= len(r.b) {
		return 0, io.EOF
	}
	r.pos++
	r.given++
	return r.b[r.pos-1], nil
}

func (r *docReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		p[n] = b
		n++
	}
	return n, nil
}

// takeB64 is called with the start tag of a nonXMLBody's text, which d
// has just read from r. When the text is base64 (representation B64) and
// all of the element's content, it decodes it from the document's bytes
// and gives the decoder only its line breaks in its place (so the lines
// of later errors are still counted right); the decoder then reads an
// element of line breaks. It returns nil, the decoder reading the text
// itself, for anything else: other content, text that is not base64 (the
// caller then finds it so, as before), a document the decoder reads
// transcoded from another encoding.
func (r *docReader) takeB64(d *xml.Decoder, start xml.StartElement) []byte {
	b64 := false
	for _, a := range start.Attr {
		b64 = b64 || a.Name.Local == "representation" && strings.EqualFold(a.Value, "B64")
	}
	if !b64 || r.nl > 0 || d.InputOffset() != r.given {
		return nil
	}
	end := bytes.IndexByte(r.b[r.pos:], '<')
	if end < 0 || !bytes.HasPrefix(r.b[r.pos+end:], []byte("</")) {
		return nil
	}
	text := r.b[r.pos : r.pos+end]
	data := decodeB64(text)
	if len(data) == 0 {
		return nil
	}
	r.pos += end
	r.nl = bytes.Count(text, []byte{'\n'})
	return data
}

// decodeB64 decodes base64 text with line breaks and spaces in it, as
// base64.StdEncoding.DecodeString(stripSpace(text)) does, without copying
// the text: nil when text is not such base64.
func decodeB64(text []byte) []byte {
	out := make([]byte, 0, base64.StdEncoding.DecodedLen(len(text)))
	var chunk [32 << 10]byte // a multiple of 4
	n, padded := 0, false
	flush := func() bool {
		if n == 0 {
			return true
		}
		m, err := base64.StdEncoding.Decode(out[len(out):cap(out)], chunk[:n])
		if err != nil {
			return false
		}
		out, n = out[:len(out)+m], 0
		return true
	}
	for _, b := range text {
		switch {
		case b == ' ' || b == '\n' || b == '\r' || b == '\t':
			continue
		case padded && b != '=':
			return nil // text after the padding
		case b == '=':
			padded = true
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '+', b == '/':
		default:
			return nil
		}
		if n == len(chunk) {
			if !flush() {
				return nil
			}
		}
		chunk[n] = b
		n++
	}
	if !flush() {
		return nil
	}
	return out
}
