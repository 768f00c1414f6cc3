package ehrdrop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
)

// Formats an EHR export drop hands to its Consumer in Raw.Format.
const (
	// FormatCCDA is a C-CDA document: an XML ClinicalDocument root.
	FormatCCDA = "ccda"
	// FormatHL7v2Batch is an HL7 v2 file: one message, bare concatenated
	// messages, or an FHS/BHS batch. The converter splits it.
	FormatHL7v2Batch = "hl7v2-batch"
	// FormatFHIRJSON is one FHIR resource (usually a Bundle) as JSON.
	FormatFHIRJSON = "fhir-json"
	// FormatFHIRNDJSON is newline-delimited FHIR resources (Bulk Data export).
	FormatFHIRNDJSON = "fhir-ndjson"
	// FormatZIP is a ZIP archive: an XDM package or another export (EHI).
	// The Source opens it and hands on the documents inside (see zip.go);
	// the archive itself never reaches the Consumer.
	FormatZIP = "zip"
	// FormatCSV is a CSV file whose name a csv mapping of the folder
	// matches (csvfhir.Match); Raw.Meta[MetaCSVMatch] names the mapping
	// by its match pattern, and the converter picks it the same way.
	FormatCSV = "csv"
	// FormatBulkManifest is a FHIR Bulk Data export's manifest (the
	// answer to its kick-off request: transactionTime, output[...]),
	// saved beside the export's files. It is no resource: the Source
	// archives it without handing it on (see bulk.go).
	FormatBulkManifest = "fhir-bulk-manifest"
	// FormatXDMDocument is a document of an XDM package in none of the
	// formats above (a PDF, a TIFF, plain text), handed on with the XDS
	// metadata METADATA.XML gives for it (xdmfhir.Entry in Raw.Meta) to
	// be filed as a DocumentReference with its Binary.
	FormatXDMDocument = xdmfhir.Format
)

// ErrUnknownFormat is wrapped by every Sniff error: the content is none of
// the formats above.
var ErrUnknownFormat = errors.New("unknown export format")

// Sniffed is what Sniff found.
type Sniffed struct {
	// Format is one of the Format constants.
	Format string
	// Charset is "utf-16le" or "utf-16be" when a byte-order mark says so,
	// else empty (UTF-8 or what the content declares).
	Charset string
	// Type is the resourceType of FHIR JSON, or of NDJSON's first line.
	Type string
}

const (
	// xmlSniffLimit bounds how far the XML prolog (declaration, comments,
	// processing instructions) may run before the root element.
	xmlSniffLimit = 1 << 20
	// maxNDJSONLine bounds the first line read whole to tell NDJSON from a
	// pretty-printed JSON document.
	maxNDJSONLine = 8 << 20
)

// Sniff reads the start of an export file and names its format. Content
// decides; the name's extension is only a hint: a single JSON resource in a
// file named *.ndjson is NDJSON, and error messages mention a mismatch.
// Errors wrap ErrUnknownFormat and describe the content without quoting it
// (it may hold PHI).
func Sniff(r io.Reader, name string) (Sniffed, error) {
	var out Sniffed
	br := bufio.NewReaderSize(r, 64<<10)
	bom, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(bom, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
	case bytes.HasPrefix(bom, []byte{0xFF, 0xFE}):
		out.Charset = "utf-16le"
		br = bufio.NewReaderSize(transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()), 64<<10)
	case bytes.HasPrefix(bom, []byte{0xFE, 0xFF}):
		out.Charset = "utf-16be"
		br = bufio.NewReaderSize(transform.NewReader(br, unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder()), 64<<10)
	}
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return out, unknown(name, "the file is empty or holds only white space")
		}
		if err != nil {
			return out, fmt.Errorf("sniff: read: %w", err)
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			br.UnreadByte()
			break
		}
	}
	head, _ := br.Peek(8)
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case isHL7Start(head), head[0] == 0x0b && isHL7Start(head[1:]):
		// A message saved with its MLLP framing starts with the start
		// block, which the batch splitter skips, as it does the end
		// block.
		out.Format = FormatHL7v2Batch
		return out, nil
	case head[0] == '<':
		f, err := sniffXML(br, name)
		out.Format = f
		return out, err
	case head[0] == '{':
		f, typ, err := sniffJSON(br, name, ext)
		out.Format, out.Type = f, typ
		return out, err
	case head[0] == '[':
		return out, unknown(name, "a JSON array is not a FHIR resource; export a Bundle or NDJSON")
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		// A local file header, or the end record alone (an empty archive).
		out.Format = FormatZIP
		return out, nil
	case bytes.HasPrefix(head, []byte("%PDF")):
		return out, unknown(name, "a PDF document belongs in a fax folder (kind: fax)")
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return out, unknown(name, "a TIFF image belongs in a fax folder (kind: fax)")
	}
	switch ext {
	case ".hl7", ".hl7v2", ".txt", ".dat", ".bat":
		return out, unknown(name, fmt.Sprintf("named %s but does not start with an MSH, FHS or BHS segment", ext))
	case ".xml", ".cda", ".ccd", ".ccda":
		return out, unknown(name, fmt.Sprintf("named %s but does not start with an XML element", ext))
	case ".json", ".ndjson":
		return out, unknown(name, fmt.Sprintf("named %s but does not start with a JSON object", ext))
	case ".csv", ".tsv":
		// A CSV is read only through a mapping, chosen by the file's
		// name before the content is sniffed (Source.consume): reaching
		// here means none matched.
		return out, unknown(name, "content is none of C-CDA XML (ClinicalDocument), HL7 v2 (MSH, FHS or BHS), FHIR JSON or NDJSON (resourceType), "+
			"and no csv mapping of the folder (sources.folders[].csv) matches its name")
	}
	return out, unknown(name, "content is none of C-CDA XML (ClinicalDocument), HL7 v2 (MSH, FHS or BHS), FHIR JSON or NDJSON (resourceType)")
}

func unknown(name, why string) error {
	return fmt.Errorf("cannot classify %q: %s: %w", name, why, ErrUnknownFormat)
}

// isHL7Start reports whether head starts an HL7 v2 message or batch: MSH,
// FHS or BHS followed by the field separator (MSH-1), which is any printable
// non-alphanumeric character, '|' in practice.
func isHL7Start(head []byte) bool {
	if len(head) < 4 {
		return false
	}
	switch string(head[:3]) {
	case "MSH", "FHS", "BHS":
	default:
		return false
	}
	c := head[3]
	return c > ' ' && c < 0x7f && !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z')
}

func sniffXML(r io.Reader, name string) (string, error) {
	d := xml.NewDecoder(io.LimitReader(r, xmlSniffLimit))
	d.Strict = false
	// The root element's name is ASCII in every charset a CDA is written in;
	// the converter deals with the declared encoding.
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	for {
		tok, err := d.RawToken()
		if err != nil {
			return "", invalid(name, "XML without a root element in its first MiB", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case se.Name.Local == "ClinicalDocument":
			return FormatCCDA, nil
		case nsOf(se) == "http://hl7.org/fhir":
			return "", unknown(name, fmt.Sprintf("FHIR XML (<%s>) is not read; export FHIR as JSON", se.Name.Local))
		default:
			return "", unknown(name, fmt.Sprintf("XML root element <%s> is not a C-CDA ClinicalDocument", se.Name.Local))
		}
	}
}

// nsOf returns the default namespace an element declares (RawToken leaves
// prefixes unresolved).
func nsOf(se xml.StartElement) string {
	for _, a := range se.Attr {
		if a.Name.Space == "" && a.Name.Local == "xmlns" {
			return a.Value
		}
	}
	return se.Name.Space
}

// sniffJSON tells a single FHIR resource from NDJSON. NDJSON lines cannot
// contain raw newlines, so a first line that is a whole JSON object followed
// by another object line is NDJSON; a document whose first line is not a
// whole object is one (pretty-printed) resource. A document without
// resourceType that has a Bulk Data manifest's transactionTime and output
// is FormatBulkManifest. typ is the (first) resource's type.
func sniffJSON(br *bufio.Reader, name, ext string) (format, typ string, err error) {
	line, whole, err := readLine(br, maxNDJSONLine)
	if err != nil {
		return "", "", fmt.Errorf("sniff: read: %w", err)
	}
	trimmed := trimEOFMark(line)
	rest := io.Reader(br) // what follows line, for a multi-line document
	if whole && ext == ".ndjson" && !isManifest(trimmed) {
		if _, err := resourceType(trimmed); err != nil {
			// Named NDJSON, a first line that is no resource (not
			// JSON, or without resourceType) and a later one that
			// is: the lines before it are bad lines of NDJSON, for
			// the pipeline to refuse each by its number, as it does
			// any other. Blank lines, and bad lines that start as an
			// object does, are read past (up to maxNDJSONLine in
			// all), and put back if no resource line follows them:
			// a pretty-printed document's second line is a member
			// ("resourceType": ...), which ends the search.
			held := []byte{'\n'} // what follows the first line, read past
			for {
				next, nextWhole, err := readLine(br, maxNDJSONLine)
				if err != nil {
					return "", "", fmt.Errorf("sniff: read: %w", err)
				}
				n := bytes.TrimSpace(bytes.TrimPrefix(trimEOFMark(next), []byte("\xEF\xBB\xBF")))
				if nextWhole && json.Valid(n) {
					if typ, err := resourceType(n); err == nil {
						return FormatFHIRNDJSON, typ, nil
					}
				}
				held = append(held, next...)
				if !nextWhole {
					break
				}
				held = append(held, '\n')
				if _, err := br.Peek(1); err != nil || len(n) > 0 && n[0] != '{' || len(held) > maxNDJSONLine {
					break
				}
			}
			rest = io.MultiReader(bytes.NewReader(held), br)
		}
	}
	if whole && json.Valid(trimmed) {
		typ, err := resourceType(trimmed)
		if err != nil {
			if isManifest(trimmed) {
				// Archived unsent: only if nothing follows it.
				return manifestAlone(br, name)
			}
			return "", "", unknown(name, err.Error())
		}
		for {
			next, _, err := readLine(br, maxNDJSONLine)
			if err != nil {
				return "", "", fmt.Errorf("sniff: read: %w", err)
			}
			next = bytes.TrimSpace(bytes.TrimPrefix(trimEOFMark(next), []byte("\xEF\xBB\xBF"))) // a part joined on
			if len(next) == 0 {
				if _, err := br.Peek(1); err == io.EOF {
					break
				}
				continue // blank line
			}
			if ext == ".ndjson" {
				// Named NDJSON and starting with a resource: a bad
				// second line is the pipeline's to refuse with its
				// number, as a bad third line is, the others sent.
				return FormatFHIRNDJSON, typ, nil
			}
			if next[0] != '{' {
				return "", "", unknown(name, "text follows the first JSON object")
			}
			if json.Valid(next) {
				if _, err := resourceType(next); err != nil {
					return "", "", unknown(name, "line 2: "+err.Error())
				}
			}
			return FormatFHIRNDJSON, typ, nil
		}
		if ext == ".ndjson" {
			return FormatFHIRNDJSON, typ, nil
		}
		return FormatFHIRJSON, typ, nil
	}
	// A multi-line (or very long) document: find resourceType among the
	// top-level keys without holding the whole thing. A first line longer
	// than maxNDJSONLine may still be NDJSON's (a bulk export's
	// DocumentReference or Binary with a scanned document inline): the
	// object is read on until it ends, or until a newline inside it shows
	// it pretty-printed.
	// Only the members' names and short values matter here: each string
	// is cut short on its way to the decoder, which would otherwise hold
	// a resource's inline attachment (hundreds of MiB of base64) whole,
	// several times over.
	nl := &newlineWatch{r: &stringCap{r: io.MultiReader(bytes.NewReader(line), rest), max: 1 << 10}, first: -1}
	d := json.NewDecoder(nl)
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return "", "", invalid(name, "not valid JSON", err)
	}
	var transactionTime, output bool
	for d.More() {
		if typ != "" && nl.first >= 0 && nl.first < d.InputOffset() {
			return FormatFHIRJSON, typ, nil // a newline within the object
		}
		tok, err := d.Token()
		if err != nil {
			return "", "", invalid(name, "not valid JSON", err)
		}
		key, _ := tok.(string)
		if key == "resourceType" && typ == "" {
			v, err := d.Token()
			if err != nil {
				return "", "", invalid(name, "not valid JSON", err)
			}
			if s, ok := v.(string); ok && s != "" {
				typ = s
				continue
			}
			return "", "", unknown(name, "resourceType is not a string")
		}
		switch key {
		case "transactionTime":
			transactionTime = true
		case "output":
			var v json.RawMessage
			if err := d.Decode(&v); err != nil {
				return "", "", invalid(name, "not valid JSON", err)
			}
			output = len(v) > 0 && v[0] == '['
			continue
		}
		if err := skipValue(d); err != nil {
			return "", "", invalid(name, "not valid JSON", err)
		}
	}
	if typ != "" {
		if _, err := d.Token(); err != nil { // the closing brace
			return "", "", invalid(name, "not valid JSON", err)
		}
		if nl.first >= 0 && nl.first < d.InputOffset() {
			return FormatFHIRJSON, typ, nil
		}
		// The object is the whole first line: NDJSON when more follows
		// (or the file is named so), as for a shorter first line.
		if !d.More() {
			if ext == ".ndjson" {
				return FormatFHIRNDJSON, typ, nil
			}
			return FormatFHIRJSON, typ, nil
		}
		if tok, err := d.Token(); (err != nil || tok != json.Delim('{')) && ext != ".ndjson" {
			return "", "", invalid(name, "text follows the first JSON object", err)
		}
		return FormatFHIRNDJSON, typ, nil
	}
	if transactionTime && output {
		if _, err := d.Token(); err != nil { // the closing brace
			return "", "", invalid(name, "not valid JSON", err)
		}
		if _, err := d.Token(); err != io.EOF {
			return "", "", invalid(name, "a FHIR Bulk Data manifest followed by more JSON: neither a manifest alone nor NDJSON of resources", err)
		}
		return FormatBulkManifest, "", nil
	}
	return "", "", unknown(name, "a JSON object without resourceType is not a FHIR resource")
}

// trimEOFMark returns line without white space or a Ctrl-Z (0x1A) at
// either end: the end-of-file mark Windows' copy appends when it joins
// files without /b (copy a.ndjson+b.ndjson c.ndjson), which the FHIR
// pass-through skips as the HL7 v2 and CSV readers do. JSON has none
// outside a string.
func trimEOFMark(line []byte) []byte {
	return bytes.TrimSpace(bytes.Trim(bytes.TrimSpace(line), "\x1a \t\r\n"))
}

// manifestAlone is what a file whose first line is a Bulk Data manifest
// is: FormatBulkManifest when only blank lines follow, else unknown (a
// manifest is archived without being sent, so resource lines after one
// must not be taken for it).
func manifestAlone(br *bufio.Reader, name string) (format, typ string, err error) {
	for {
		next, _, err := readLine(br, maxNDJSONLine)
		if err != nil {
			return "", "", fmt.Errorf("sniff: read: %w", err)
		}
		if len(trimEOFMark(next)) != 0 {
			return "", "", unknown(name, "a FHIR Bulk Data manifest followed by more lines: neither a manifest alone nor NDJSON of resources")
		}
		if _, err := br.Peek(1); err == io.EOF {
			return FormatBulkManifest, "", nil
		}
	}
}

// isManifest reports whether obj, a JSON object without resourceType,
// is a Bulk Data export's manifest: transactionTime and an output list
// (BulkDataManifest; request, which it also has, is deprecated in the
// IG's later versions).
func isManifest(obj []byte) bool {
	var m struct {
		TransactionTime json.RawMessage   `json:"transactionTime"`
		Output          []json.RawMessage `json:"output"`
	}
	return json.Unmarshal(obj, &m) == nil && m.TransactionTime != nil && m.Output != nil
}

func resourceType(obj []byte) (string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(obj, &top); err != nil {
		return "", errors.New("not a JSON object")
	}
	raw, ok := top["resourceType"]
	if !ok {
		return "", errors.New("a JSON object without resourceType is not a FHIR resource")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", errors.New("resourceType is not a string")
	}
	return s, nil
}

// skipValue consumes one JSON value from d.
func skipValue(d *json.Decoder) error {
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// stringCap passes JSON text on with each string cut to its first max
// bytes, whole escapes kept, so that it stays JSON of the same shape. A
// newline inside a string, which JSON does not allow, is passed on for
// the decoder to refuse.
type stringCap struct {
	r        io.Reader
	max      int
	inString bool
	n        int  // bytes of the current string passed
	esc      int  // inside an escape: -1 after its '\', then the hex digits of a \u left
	escDrop  bool // the escape is being dropped
}

func (c *stringCap) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		k := 0
		for _, b := range p[:n] {
			drop := false
			switch {
			case !c.inString:
				if b == '"' {
					c.inString, c.n = true, 0
				}
			case c.esc == -1:
				drop = c.escDrop
				if b == 'u' {
					c.esc = 4
				} else {
					c.esc = 0
				}
			case c.esc > 0:
				drop = c.escDrop
				c.esc--
			case b == '"':
				c.inString = false
			case b == '\n':
			default:
				drop = c.n >= c.max
				if !drop {
					c.n++
				}
				if b == '\\' {
					c.esc, c.escDrop = -1, drop
				}
			}
			if !drop {
				p[k] = b
				k++
			}
		}
		if k > 0 || err != nil || n == 0 {
			return k, err
		}
	}
}

// newlineWatch passes r on and notes the offset of the first '\n' read
// from it (first, -1 before one).
type newlineWatch struct {
	r     io.Reader
	n     int64
	first int64
}

func (w *newlineWatch) Read(p []byte) (int, error) {
	k, err := w.r.Read(p)
	if w.first < 0 {
		if i := bytes.IndexByte(p[:k], '\n'); i >= 0 {
			w.first = w.n + int64(i)
		}
	}
	w.n += int64(k)
	return k, err
}

// readLine returns the next line without its newline; whole is false when
// the line is longer than limit (the part read is returned).
func readLine(br *bufio.Reader, limit int) (line []byte, whole bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		switch {
		case err == nil:
			return bytes.TrimSuffix(line, []byte("\n")), true, nil
		case err == io.EOF:
			return line, true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(line) > limit {
				return line, false, nil
			}
		default:
			return line, false, err
		}
	}
}

func isUnknown(err error) bool { return errors.Is(err, ErrUnknownFormat) }

// invalid is the error of a decoder's err: the file's content is no
// known format, for why, unless reading it failed (a share that
// dropped), which is said as such, for the file to be read again.
func invalid(name, why string, err error) error {
	if adapters.IsReadError(err) {
		return fmt.Errorf("sniff: read: %w", err)
	}
	return unknown(name, why)
}
