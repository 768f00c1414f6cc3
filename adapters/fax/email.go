package fax

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	htmlcharset "golang.org/x/net/html/charset"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir/tiffpdf"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config/configtext"
	"github.com/ferry-health/ferry/queue"
)

// MaxEmailBytes bounds an e-mailed fax (.eml) read into memory: its
// attachments are decoded whole. Fax-to-e-mail services send a few MB; a
// larger message is refused (the file goes to failed/ with the reason).
const MaxEmailBytes = 32 << 20

// maxEmailParts bounds the MIME parts read from one message, nested ones
// included.
const maxEmailParts = 200

// emailFax is what an e-mailed fax (an RFC 5322 message saved as .eml: a
// fax-to-e-mail service's message, or ITU-T T.37 / RFC 3965 simple mode
// internet fax) holds: its images and what its headers and text say.
type emailFax struct {
	*emailCall              // what the message's own header and text say
	docs       [][]byte     // PDF or TIFF attachments, in order
	calls      []*emailCall // the call of each of docs: the message's, or the forwarded message's it came in
	skipped    int          // attachments that are neither PDF nor TIFF (logos, signatures)
	tnef       bool         // one of them is a winmail.dat (TNEF), which may pack a fax
	sizeHint   int64        // the decoded size of the message, for the first image's buffer
	maxParts   bool         // the part bound was reached
}

// emailCall is what one message says of the call its faxes came from:
// the e-mail's own, or a fax e-mail's forwarded as an attachment in it,
// each a call of its own.
type emailCall struct {
	fields  map[string]string // "Key: value" lines of its text, by normalised key
	htmlKV  map[string]string // the same of its HTML text, after fields
	subject string
	to      string
	date    time.Time
	id      string     // Message-ID, without angle brackets
	outer   *emailCall // the message that forwarded this one; nil for the e-mail's own
}

func newEmailCall(h mail.Header, outer *emailCall) *emailCall {
	c := &emailCall{fields: map[string]string{}, htmlKV: map[string]string{}, outer: outer}
	c.headers(h)
	return c
}

// isEmail reports whether in is an e-mail file (.eml).
func isEmail(in adapters.Raw) bool {
	name := in.Meta[folder.MetaFile]
	if name == "" {
		name = in.Name
	}
	return strings.EqualFold(filepath.Ext(name), ".eml")
}

// ioErrReader remembers the first read error other than io.EOF, which
// the MIME parsers would report as a malformed message.
type ioErrReader struct {
	r   *io.LimitedReader
	err error
}

func (e *ioErrReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}

// readEmail parses an e-mail message and collects its fax images.
func readEmail(r io.Reader) (*emailFax, error) { return readEmailSized(r, 0) }

// readEmailSized is readEmail for a message of about size bytes (0:
// unknown): the first image's buffer is sized for the message's base64
// once, so that decoding a 20 MB fax does not copy it as it grows.
func readEmailSized(r io.Reader, size int64) (*emailFax, error) {
	br := bufio.NewReader(r)
	// A message saved by a Windows tool (PowerShell 5's Set-Content
	// -Encoding UTF8, Out-File) begins with a byte-order mark: UTF-8's
	// is no part of the first header's name, and UTF-16 is read as the
	// text it is, as configtext reads sidecars.
	switch head, _ := br.Peek(3); {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, _ = br.Discard(3)
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		br = bufio.NewReader(unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder().Reader(br))
	}
	if head, _ := br.Peek(5); string(head) == "From " {
		// An mbox separator line ("From sender date"), as some mail
		// tools write before the message: not a header.
		if _, err := br.ReadString('\n'); err != nil {
			return nil, fmt.Errorf("not an e-mail message (RFC 5322): %w", err)
		}
	}
	msg, err := mail.ReadMessage(br)
	if err != nil {
		return nil, fmt.Errorf("not an e-mail message (RFC 5322): %w", err)
	}
	e := &emailFax{emailCall: newEmailCall(msg.Header, nil), sizeHint: size * 3 / 4}
	parts := 0
	if err := e.walk(msg.Header, msg.Body, 0, &parts, e.emailCall); err != nil {
		return nil, err
	}
	return e, nil
}

// headers takes what a message's header says of the call: its subject,
// the address it was sent to, its date and Message-ID.
func (e *emailCall) headers(h mail.Header) {
	if s, err := (&mime.WordDecoder{CharsetReader: configtext.CharsetReader}).DecodeHeader(h.Get("Subject")); err == nil {
		e.subject = s
	} else {
		e.subject = h.Get("Subject")
	}
	e.to = h.Get("To")
	e.date = mailDate(h.Get("Date"))
	e.id = strings.Trim(strings.TrimSpace(h.Get("Message-ID")), "<>")
}

// obsZones are the zones RFC 5322 (4.3) reads in a date's obsolete
// syntax, which a receiver must accept: net/mail reads them by the host's
// own zone, and as UTC where it has no such abbreviation.
var obsZones = map[string]string{"UT": "+0000", "GMT": "+0000", "EDT": "-0400", "EST": "-0500", "CDT": "-0500",
	"CST": "-0600", "MDT": "-0600", "MST": "-0700", "PDT": "-0700", "PST": "-0800"}

// mailDate reads a Date header (zero when it cannot), an obsolete
// zone as the offset RFC 5322 gives it.
func mailDate(v string) time.Time {
	f := strings.Fields(v)
	if n := len(f); n > 0 {
		if off, ok := obsZones[strings.ToUpper(f[n-1])]; ok {
			f[n-1] = off
			v = strings.Join(f, " ")
		}
	}
	d, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	return d
}

// header is the part of a MIME header walk reads.
type header interface{ Get(string) string }

// walk reads one MIME entity: a multipart is walked part by part (to a
// nesting depth of 8), a text/plain or text/html part gives "Key: value"
// lines of call, and any other part whose decoded bytes are a PDF or
// TIFF is a fax image, of call.
func (e *emailFax) walk(h header, body io.Reader, depth int, parts *int, call *emailCall) (err error) {
	if *parts++; *parts > maxEmailParts {
		e.maxParts = true
		return nil
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	media, params, err := mime.ParseMediaType(ct)
	if err != nil {
		media, params = lenientMediaType(ct)
	}
	if strings.HasPrefix(media, "multipart/") {
		if depth >= 8 || params["boundary"] == "" {
			return nil
		}
		// A multipart that ends before its closing boundary (RFC 2046
		// 5.1.1) ends there when a part holds it (one a mailer left
		// unclosed, the message whole around it), as mail programs read
		// it; the message's own is cut short, and nothing of it is read.
		ended := func() error {
			if depth == 0 {
				return errCutShort
			}
			return nil
		}
		tail := &tailReader{r: body}
		mr := multipart.NewReader(tail, params["boundary"])
		for n := 0; ; n++ {
			p, err := mr.NextRawPart()
			switch {
			case err == io.EOF && !tail.cutAfter(params["boundary"]): // its closing boundary
				return nil
			case err == io.EOF: // cut in a part's header, read as the end
				return ended()
			case errors.Is(err, io.EOF) && n == 0: // no part at all
				return nil
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				return ended()
			case err != nil:
				return fmt.Errorf("e-mail MIME structure: %w", err)
			}
			pr := &partReader{r: p}
			if err := e.walk(p.Header, pr, depth+1, parts, call); pr.cut {
				return ended()
			} else if err != nil {
				return err
			}
		}
	}
	if media == "message/rfc822" && depth < 8 {
		// A fax e-mail forwarded as an attachment (a person's "forward
		// as attachment" into the fax mailbox, of one or of several):
		// its images are faxes, and its header and text, not the
		// forwarder's, say when and from whom they came.
		inner, err := mail.ReadMessage(decodeTransfer(h.Get("Content-Transfer-Encoding"), body))
		if err != nil {
			return fmt.Errorf("e-mail attached to the message: not an e-mail message (RFC 5322): %w", err)
		}
		return e.walk(inner.Header, inner.Body, depth+1, parts, newEmailCall(inner.Header, call))
	}
	var buf bytes.Buffer
	// Only a part that may be the fax is sized: a logo must not take the
	// fax's buffer.
	switch media {
	case "application/pdf", "image/tiff", "image/tif", "application/octet-stream":
		if e.sizeHint > 0 {
			buf.Grow(int(min(e.sizeHint, MaxEmailBytes)))
			e.sizeHint = 0
		}
	}
	_, rerr := buf.ReadFrom(decodeTransfer(h.Get("Content-Transfer-Encoding"), body))
	if rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) {
		return fmt.Errorf("e-mail part %s: %w", media, rerr)
	}
	if rerr != nil {
		// Read as far as it goes, for a part of a multipart left
		// unclosed (walk's caller decides); the error stands.
		defer func() { err = fmt.Errorf("e-mail part %s: %w", media, rerr) }()
	}
	data := buf.Bytes()
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")) || tiffpdf.IsTIFF(data),
		// One the message says is a fax, though its bytes are none (an
		// empty fax.pdf, an error page under its name), is handed on,
		// so that the converter's refusal sends the message to failed/
		// rather than its page nowhere.
		media != "text/plain" && media != "text/html" && declaredFax(h, media, params):
		e.docs = append(e.docs, data)
		e.calls = append(e.calls, call)
	case media == "text/plain":
		readFieldLines(call.fields, textOf(data, params["charset"]))
	case media == "text/html":
		// Many fax services send HTML only, or HTML beside a text
		// part that says less; the text part, when there is one,
		// counts first. One whose Content-Type declares no charset
		// says it in its <meta>, read as a browser reads it (HTML's
		// prescan of the first 1024 bytes).
		cs := params["charset"]
		if cs == "" {
			_, cs, _ = htmlcharset.DetermineEncoding(data, "text/html")
		}
		readFieldLines(call.htmlKV, htmlText(textOf(data, cs)))
	case strings.HasPrefix(media, "message/") || strings.HasPrefix(media, "text/"):
	default:
		e.skipped++
		e.tnef = e.tnef || bytes.HasPrefix(data, tnefSignature)
	}
	return nil
}

// tnefSignature begins a TNEF stream (0x223E9F78, little-endian): the
// winmail.dat (application/ms-tnef) in which Outlook and Exchange pack
// the attachments of a message sent in Outlook's rich text format.
var tnefSignature = []byte{0x78, 0x9f, 0x3e, 0x22}

// errCutShort is a message that ends before the boundary that closes
// its parts.
var errCutShort = errors.New("the message is cut short: it ends before the boundary that closes its MIME parts (RFC 2046), as a message saved or received incomplete does, so nothing of it was read; have it sent again, or save its attachments into the inbox")

// partReader reads a part of a multipart, noting whether it was cut
// short: the multipart ended before the boundary that ends the part.
type partReader struct {
	r   io.Reader
	cut bool
}

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		p.cut = true
	}
	return n, err
}

// tailReader keeps the last bytes read of a multipart, so that one cut
// short in a part's header, which mime/multipart reports as the io.EOF
// of its closing boundary, is told from one closed.
type tailReader struct {
	r    io.Reader
	tail []byte
	eof  bool
}

// tailKeep is more than mime/multipart reads ahead of a boundary (4 KiB).
const tailKeep = 16 << 10

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.tail = append(t.tail, p[:n]...)
	if len(t.tail) > tailKeep {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-tailKeep/2:]...)
	}
	t.eof = t.eof || errors.Is(err, io.EOF)
	return n, err
}

// cutAfter reports whether the multipart of boundary ended without its
// closing boundary: it was read to its end, and that is not in its last
// bytes (a closed one is read no further than a little past it).
func (t *tailReader) cutAfter(boundary string) bool {
	if !t.eof {
		return false
	}
	closing := "--" + boundary + "--"
	return !bytes.HasPrefix(t.tail, []byte(closing)) && !bytes.Contains(t.tail, []byte("\n"+closing))
}

// declaredFax reports whether a part says it is a fax image: a PDF or
// TIFF by its Content-Type, or by the file name its Content-Disposition
// or Content-Type gives (RFC 2183 filename, RFC 2231 filename*, an RFC
// 2047 encoded word as Outlook and Gmail write one).
func declaredFax(h header, media string, params map[string]string) bool {
	switch media {
	case "application/pdf", "image/tiff", "image/tif":
		return true
	}
	name := params["name"]
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
		name = dp["filename"]
	}
	if d, err := (&mime.WordDecoder{CharsetReader: configtext.CharsetReader}).DecodeHeader(name); err == nil {
		name = d
	}
	switch strings.ToLower(filepath.Ext(strings.TrimSpace(name))) {
	case ".pdf", ".tif", ".tiff":
		return true
	}
	return false
}

// unquotedBoundaryRE finds the boundary of a Content-Type that
// mime.ParseMediaType refuses: written unquoted with characters a token
// may not hold (boundary=----=_Part_1_2.3, as some fax services'
// mailers write it).
var unquotedBoundaryRE = regexp.MustCompile(`(?i)(?:^|;)\s*boundary\s*=\s*("?)([^";\s]+)`)

// lenientCharsetRE finds the charset of a Content-Type that
// mime.ParseMediaType refuses for another of its parameters, or for a
// comment RFC 2045 allows ("charset=us-ascii (Plain text)").
var lenientCharsetRE = regexp.MustCompile(`(?i)(?:^|;)\s*charset\s*=\s*"?([^";\s()]+)`)

// lenientMediaType reads a Content-Type that mime.ParseMediaType
// refuses: a multipart type keeps its boundary, so that its parts are
// still read, a text one its charset, so that its lines are, and a
// forwarded message is one; anything else is application/octet-stream (a
// part whose bytes may still be a PDF or TIFF).
func lenientMediaType(ct string) (string, map[string]string) {
	media, _, _ := strings.Cut(ct, ";")
	media = strings.ToLower(strings.TrimSpace(media))
	switch {
	case strings.HasPrefix(media, "multipart/"):
		if m := unquotedBoundaryRE.FindStringSubmatch(ct); m != nil {
			return media, map[string]string{"boundary": m[2]}
		}
	case media == "text/plain" || media == "text/html":
		params := map[string]string{}
		if m := lenientCharsetRE.FindStringSubmatch(ct); m != nil {
			params["charset"] = m[1]
		}
		return media, params
	case media == "message/rfc822":
		return media, nil
	}
	return "application/octet-stream", nil
}

// decodeTransfer undoes a part's Content-Transfer-Encoding.
func decodeTransfer(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return &base64Reader{r: r}
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// base64Value is the value of each letter of the base64 alphabet (RFC
// 2045, Table 1), 0xff for any other byte.
var base64Value = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = 0xff
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// base64Reader decodes base64 as RFC 2045 (6.8) has a receiver read it,
// which encoding/base64 does not: "Any characters outside of the base64
// alphabet are to be ignored" (line breaks, spaces, a form feed or a
// stray byte a gateway left); a last group written without its "="
// padding gives the bytes it holds; and data encoded in pieces, each
// padded, goes on after each piece's "=".
type base64Reader struct {
	r    io.Reader
	err  error
	quad [4]byte // letters of the group being read
	n    int     // how many
	in   [4096]byte
	out  []byte // decoded, not yet returned
	dec  [3072]byte
}

func (d *base64Reader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			if d.out = d.flush(d.dec[:0]); len(d.out) == 0 {
				return 0, d.err
			}
			break
		}
		n, err := d.r.Read(d.in[:])
		d.out, d.err = d.dec[:0], err
		for _, c := range d.in[:n] {
			if c == '=' {
				d.out = d.flush(d.out) // the end of a piece
				continue
			}
			v := base64Value[c]
			if v == 0xff {
				continue
			}
			d.quad[d.n] = v
			if d.n++; d.n == 4 {
				q := uint32(d.quad[0])<<18 | uint32(d.quad[1])<<12 | uint32(d.quad[2])<<6 | uint32(d.quad[3])
				d.out = append(d.out, byte(q>>16), byte(q>>8), byte(q))
				d.n = 0
			}
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// flush appends what the letters of an unfinished group hold: one byte
// for two letters, two for three (one letter holds no whole byte).
func (d *base64Reader) flush(out []byte) []byte {
	q := uint32(d.quad[0])<<18 | uint32(d.quad[1])<<12 | uint32(d.quad[2])<<6
	switch d.n {
	case 2:
		out = append(out, byte(q>>16))
	case 3:
		out = append(out, byte(q>>16), byte(q>>8))
	}
	d.n = 0
	return out
}

// textOf is a text part's bytes as UTF-8: decoded from the charset the
// part declares (the single-byte ones of Windows fax servers and older
// services, UTF-16 by its byte-order mark), and text that declares none,
// or UTF-8, yet is not UTF-8 read as Windows-1252, as a JSON sidecar is.
func textOf(data []byte, charset string) []byte {
	if out, err := configtext.UTF8(data); err == nil {
		data = out
	}
	if r, err := configtext.CharsetReader(charset, bytes.NewReader(data)); err == nil && charset != "" {
		if out, err := io.ReadAll(r); err == nil {
			data = out
		}
	}
	if !utf8.Valid(data) {
		data, _ = charmap.Windows1252.NewDecoder().Bytes(data)
	}
	return data
}

// htmlBreaks are the HTML elements that begin or end a line of the
// text a reader sees; a table cell is set apart by a space, so that a
// row's "Caller ID:" and "555-0100" cells read as one line.
var htmlBreaks = map[atom.Atom]bool{atom.Br: true, atom.P: true, atom.Div: true, atom.Tr: true, atom.Li: true,
	atom.Table: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Hr: true, atom.Dt: true, atom.Dd: true, atom.Title: true, atom.Blockquote: true, atom.Pre: true,
	atom.Ul: true, atom.Ol: true, atom.Section: true, atom.Header: true, atom.Footer: true, atom.Body: true}

// htmlText is the text an HTML part shows, a line for each line a
// reader sees: tags left out, entities decoded, the source's own line
// breaks and runs of spaces one space, and scripts and style sheets
// not text at all.
func htmlText(data []byte) []byte {
	var out bytes.Buffer
	z := html.NewTokenizer(bytes.NewReader(data))
	skip := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return out.Bytes()
		case html.TextToken:
			if !skip {
				out.WriteString(strings.Join(strings.Fields(string(z.Text())), " "))
				out.WriteByte(' ')
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			switch a := atom.Lookup(name); {
			case a == atom.Script || a == atom.Style:
				skip = tt == html.StartTagToken
			case htmlBreaks[a]:
				out.WriteByte('\n')
			case a == atom.Td || a == atom.Th:
				out.WriteByte(' ')
			}
		}
	}
}

// readFieldLines reads "Key: value" lines (Caller ID: …, Pages: 3) of a
// fax service's text into fields, by normalised key, keeping the first.
// A caller's or called number that is an e-mail address is none: the
// From: and To: lines of a message quoted in the text (a fax e-mail
// forwarded inline, under "Forwarded message" or "Original Message")
// are passed over, so that the service's own lines after them count,
// but for an RFC 3192 address (FAX=+1…/T33S=22@…), whose number and
// subaddress are the call's.
func readFieldLines(fields map[string]string, text []byte) {
	for line := range strings.Lines(string(text)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || len(k) > 40 {
			continue
		}
		k = normKey(k)
		if _, known := sidecarKeys[k]; !known {
			continue
		}
		v = strings.TrimSpace(v)
		if f := sidecarKeys[k]; (f == "caller" || f == "called") && strings.Contains(v, "@") {
			m := t37ToRE.FindStringSubmatch(v)
			if m == nil {
				continue
			}
			v = m[1]
			if _, seen := fields["subaddress"]; !seen && f == "called" && m[2] != "" {
				fields["subaddress"] = m[2]
			}
		}
		if _, seen := fields[k]; !seen {
			fields[k] = v
		}
	}
}

var (
	// subjectNumberRE finds a phone number in a subject such as "Fax
	// from +1 (555) 123-4567" or "New fax from 5551234567 - 3 pages";
	// an area code in parentheses that begins it ("from (555) 123-4567")
	// is part of it, not left behind by a number from its first digit.
	subjectNumberRE = regexp.MustCompile(`\+?(?:\(\d{1,4}\)[ .-]?)?\d[\d ().-]{5,18}\d`)
	subjectPagesRE  = regexp.MustCompile(`(?i)\b(\d{1,4})\s*(?:pages?|pgs?)\b`)
	// subjectDateRE finds a date a subject gives (2026-11-24, 11-24-2026,
	// 24.11.2026), with its time when one follows, and a time alone
	// (09:15:02): no phone number, though as many digits.
	subjectDateRE = regexp.MustCompile(`\b(?:(\d{4})[-./](\d{1,2})[-./](\d{1,2})|(\d{1,2})[-./](\d{1,2})[-./](\d{4}))(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?|\b\d{1,2}:\d{2}(?::\d{2})?\b`)
	// t37ToRE reads an RFC 3192 fax address, FAX=+12125551234/T33S=123@…
	t37ToRE = regexp.MustCompile(`(?i)\bFAX=(\+?[\d-]{4,20})(?:/T33S=(\d{1,20}))?`)
)

// applyDoc fills what f, the fax of the message's image i, does not
// know yet from the message that image came in (apply).
func (e *emailFax) applyDoc(f *faxfhir.Fax, i int, loc *time.Location) {
	e.calls[i].apply(f, loc)
}

// apply fills what f does not know yet from the message: its text's
// "Key: value" lines (as a sidecar's fields), the RFC 3192 address it
// was sent to (the number dialled and subaddress), the caller's number
// and page count a subject gives, the Date header and the Message-ID;
// then, for a forwarded message, the text lines of the message that
// forwarded it (its header is the forwarder's, not the call's).
func (e *emailCall) apply(f *faxfhir.Fax, loc *time.Location) {
	applyFields(f, e.fields, loc)
	applyFields(f, e.htmlKV, loc)
	if m := t37ToRE.FindStringSubmatch(e.to); m != nil {
		setIf(&f.CalledNumber, m[1])
		setIf(&f.SubAddress, m[2])
	}
	subject := subjectPagesRE.ReplaceAllStringFunc(e.subject, func(s string) string {
		if f.Pages == 0 {
			f.Pages, _ = strconv.Atoi(subjectPagesRE.FindStringSubmatch(s)[1])
		}
		return " "
	})
	subject = subjectDateRE.ReplaceAllStringFunc(subject, func(s string) string {
		switch m := subjectDateRE.FindStringSubmatch(s); {
		case m[1] == "" && m[4] == "": // a time
		case m[1] != "" && !validDay(m[2], m[3]),
			m[4] != "" && !validDay(m[4], m[5]) && !validDay(m[5], m[4]):
			return s // a phone number, no month or day (0221-12-34)
		}
		return " "
	})
	if n := subjectNumberRE.FindString(subject); n != "" && countDigits(n) >= 7 {
		setIf(&f.CallerNumber, strings.TrimSpace(n))
	}
	if f.Received.IsZero() && !e.date.IsZero() {
		f.Received = e.date
	}
	setIf(&f.CommID, e.id)
	for o := e.outer; o != nil; o = o.outer {
		applyFields(f, o.fields, loc)
		applyFields(f, o.htmlKV, loc)
	}
}

// validDay reports whether month and day (digits) can be a date's.
func validDay(month, day string) bool {
	m, _ := strconv.Atoi(month)
	d, _ := strconv.Atoi(day)
	return m >= 1 && m <= 12 && d >= 1 && d <= 31
}

func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// emailInputs turns an e-mailed fax into one input per image: the same
// file, the image as its body. An e-mail without a PDF or TIFF is a
// permanent error naming the file, so it goes to failed/ with the reason.
func emailInputs(in adapters.Raw) ([]adapters.Raw, *emailFax, error) {
	var r io.Reader
	switch {
	case in.Body != nil:
		r = bytes.NewReader(in.Body)
	case in.Open != nil:
		rc, err := in.Open()
		if err != nil {
			return nil, nil, fmt.Errorf("fax e-mail %s: %w", in.Name, err)
		}
		defer rc.Close()
		r = rc
	default:
		return nil, nil, queue.Permanent(fmt.Errorf("fax e-mail %s: no content", in.Name))
	}
	size := max(in.Size, int64(len(in.Body)))
	tooBig := func() error {
		return queue.Permanent(fmt.Errorf("fax e-mail %s: more than the %d bytes an e-mailed fax may have; save its attachment into the inbox instead", in.Name, MaxEmailBytes))
	}
	if size > MaxEmailBytes {
		return nil, nil, tooBig()
	}
	// The message is parsed as it is read, so that only its decoded
	// images are held, not the message beside them.
	src := &ioErrReader{r: &io.LimitedReader{R: r, N: MaxEmailBytes + 1}}
	e, err := readEmailSized(src, size)
	switch {
	case src.r.N <= 0:
		return nil, nil, tooBig()
	case src.err != nil:
		// The file could not be read: not the message's fault.
		return nil, nil, fmt.Errorf("fax e-mail %s: %w", in.Name, src.err)
	case err != nil:
		return nil, nil, queue.Permanent(fmt.Errorf("fax e-mail %s: %w", in.Name, err))
	}
	if len(e.docs) == 0 && e.tnef {
		return nil, nil, queue.Permanent(fmt.Errorf("fax e-mail %s: no PDF or TIFF attachment: its attachments are packed in a winmail.dat (TNEF, as Outlook and Exchange send a message in rich text format), which ferry does not read; have the sender's Outlook send it as HTML or plain text, or its Exchange send MIME (Set-RemoteDomain -TNEFEnabled $false), or save the fax from it into the inbox", in.Name))
	}
	if len(e.docs) == 0 {
		return nil, nil, queue.Permanent(fmt.Errorf("fax e-mail %s: no PDF or TIFF attachment (%d other attachments)", in.Name, e.skipped))
	}
	out := make([]adapters.Raw, len(e.docs))
	for i, doc := range e.docs {
		o := in
		o.Body, o.Size = doc, int64(len(doc))
		o.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil }
		if len(e.docs) > 1 {
			o.Name = fmt.Sprintf("%s (attachment %d of %d)", in.Name, i+1, len(e.docs))
		}
		out[i] = o
	}
	return out, e, nil
}

// Emailed splits an e-mailed fax (.eml) into its images, each an input
// of Format "fax" whose Meta adds to in.Meta what the message says of the
// call, as an inbox reads it (without the inbox's sidecars, file name
// patterns and lines). Times without a zone are in loc. `ferry convert`
// uses it; an error is permanent (not an e-mail, or no PDF or TIFF in it).
func Emailed(in adapters.Raw, loc *time.Location) ([]adapters.Raw, error) {
	ins, e, err := emailInputs(in)
	if err != nil {
		return nil, err
	}
	for i := range ins {
		var f faxfhir.Fax
		e.applyDoc(&f, i, loc)
		if f.DOB != "" {
			f.DOB, _ = birthDate(f.DOB, time.Now())
		}
		meta := make(map[string]string, len(in.Meta)+8)
		maps.Copy(meta, in.Meta)
		maps.Copy(meta, f.Meta())
		ins[i].Meta, ins[i].Format = meta, Format
	}
	return ins, nil
}
