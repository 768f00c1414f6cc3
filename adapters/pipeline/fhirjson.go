package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config/configtext"
	"github.com/ferry-health/ferry/queue"
)

// FHIRJSON passes FHIR JSON drops on: a transaction or batch Bundle goes as
// it is but for its plain POST entries (see repeatableEntries); a single
// resource (or each line of NDJSON) is wrapped in a transaction. Every write is safe to repeat, because the queue delivers
// at least once (a response lost after the exchange committed means a
// second delivery):
//   - a resource with an id is written as PUT Type/id;
//   - one without an id is POSTed with ifNoneExist on its first identifier
//     that has a system and a value;
//   - one with neither gets an identifier minted from its content (see
//     mintIdentifier) and is POSTed with ifNoneExist on that, or, when its
//     type cannot carry one, PUT under an id derived from the same hash.
//
// Each unit is keyed to its patient (see fhirPatientKey), so the lines of
// one export about one patient reach the exchange in the order written.
type FHIRJSON struct {
	// Base prefixes the identifier system minted for resources without
	// an id or identifier, as v2fhir.Converter.Base does (default
	// "urn:ferry"); the gateway passes config.IdentifierBase.
	Base string
	// MaxBytes bounds a JSON document, which is read whole (0:
	// DefaultMaxWholeFileBytes); NDJSON is read a line at a time.
	MaxBytes int64
}

// DirectoryKey is the queue key of the directory resources the FHIR
// pass-through sends (fhir.DirectoryTypes: Organization, Practitioner,
// Location...), and everything else it sends waits behind it
// (queue.Behind): an Encounter naming a Practitioner is not sent before
// that Practitioner, which an exchange checking references (HAPI FHIR
// does by default) would refuse, even when the Practitioner's delivery
// is being retried or several workers deliver at once. The directory
// resources go one at a time, in the order read (an export's
// Organizations before its Locations); the patients' resources still go
// in parallel, each patient's in order.
const DirectoryKey = "fhir-directory"

// behindDirectory is the After of every other pass-through unit. Shared:
// no one writes to it (the pipeline replaces After when it pseudonymizes).
var behindDirectory = []string{queue.Behind(DirectoryKey)}

var (
	_ Converter       = FHIRJSON{}
	_ StreamConverter = FHIRJSON{}
)

// Convert reads in.Body (or in.Open for a large file) and returns every
// unit at once (for `ferry convert` and tests; the pipeline streams
// NDJSON, see ConvertStream).
func (c FHIRJSON) Convert(_ context.Context, in adapters.Raw) ([]Unit, error) {
	if in.Format == "fhir-ndjson" {
		return c.convertNDJSON(in)
	}
	body, err := readAll(in, c.MaxBytes, "one FHIR JSON document: export it as NDJSON (a resource a line), which is read a line at a time")
	if err != nil {
		return nil, err
	}
	if body, err = io.ReadAll(jsonText(bytes.NewReader(body))); err != nil {
		return nil, err
	}
	body = trimEOFMark(body)
	env, err := xdmfhir.LabelsFromMeta(in.Meta)
	if err != nil {
		return nil, queue.Permanent(fmt.Errorf("fhir %s: %w", in.Name, err))
	}
	return fileScoped(c.unit("document", body, env), documentScope(in)), nil
}

// documentScope and ndjsonScope are what, beside its own bytes, makes a
// FHIR unit a duplicate of one queued before (see fileScoped): a unit is
// a duplicate only of the same file's, as a CSV export's bundle is (a
// retry, a rescan), never of an earlier export's that a later one
// undid. A JSON document is its file, but in an archive it is the
// archive's; an NDJSON line is its file's. A file the folder took again,
// another having come under its name since, is told apart by that other
// file (folder.MetaRetaken). Nil keeps the unit's own key: a file with no
// digest (`ferry convert`) and a document the folder has not seen under
// its name before.
func documentScope(in adapters.Raw) []byte {
	if in.Meta[metaArchiveSHA256] == "" && in.Meta[folder.MetaRetaken] == "" {
		return nil
	}
	return []byte(in.Meta[metaArchiveSHA256] + "\x00" + in.Meta[folder.MetaRetaken])
}

func ndjsonScope(in adapters.Raw) []byte {
	if in.Meta[folder.MetaSHA256] == "" && in.Meta[folder.MetaRetaken] == "" {
		return nil
	}
	return []byte(in.Meta[metaArchiveSHA256] + "\x00" + in.Meta[folder.MetaSHA256] + "\x00" + in.Meta[folder.MetaRetaken])
}

// fileScoped keys units' dedup by scope as well as their content.
func fileScoped(units []Unit, scope []byte) []Unit {
	if scope == nil {
		return units
	}
	for i := range units {
		if units[i].Dedup != ([32]byte{}) {
			units[i].Dedup = dedupKey(scope, units[i].Dedup[:])
		}
	}
	return units
}

func (c FHIRJSON) convertNDJSON(in adapters.Raw) ([]Unit, error) {
	var units []Unit
	err := c.eachNDJSON(context.Background(), in, func(u Unit) error {
		units = append(units, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return units, nil
}

// ConvertStream hands an NDJSON file's units to emit as its lines are
// read, in batches of at most CSVBatchUnits bundles or CSVBatchBytes as
// for a CSV export: a bulk export's file can be larger than memory, and
// its units held all at once took some fifteen times its size. A line
// that cannot be sent is quarantined on its own, as with Convert, so
// nothing needs the whole file checked first. A single JSON document is
// one unit.
func (c FHIRJSON) ConvertStream(ctx context.Context, in adapters.Raw, emit func([]Unit) error) error {
	if in.Format != "fhir-ndjson" {
		units, err := c.Convert(ctx, in)
		if err != nil {
			return err
		}
		return emit(units)
	}
	return inBatches(func(unit func(Unit) error) error { return c.eachNDJSON(ctx, in, unit) }, func(units []Unit) error {
		markRepeats(units)
		return emit(units)
	})
}

// markRepeats marks each unit of a batch whose dedup key an earlier unit
// of the batch has (the same line twice in an NDJSON file) as a repeat
// (Unit.repeat), which the duplicate filter would not know while both
// are stored in one commit; one in a later batch of the file it knows,
// the earlier batch remembered. Keys are distinct within one line's
// units (each part of a Bundle has its own).
func markRepeats(units []Unit) {
	var converted map[[32]byte]bool
	for i := range units {
		u := &units[i]
		if u.Err != nil || u.Dedup == ([32]byte{}) {
			continue
		}
		if converted == nil {
			converted = make(map[[32]byte]bool, len(units))
		}
		u.repeat = converted[u.Dedup]
		converted[u.Dedup] = true
	}
}

// eachNDJSON hands each line's unit to unit, in the file's order; an
// error from unit stops the reading and is returned as it is.
func (c FHIRJSON) eachNDJSON(ctx context.Context, in adapters.Raw, unit func(Unit) error) error {
	env, err := xdmfhir.LabelsFromMeta(in.Meta)
	if err != nil {
		return queue.Permanent(fmt.Errorf("fhir %s: %w", in.Name, err))
	}
	r, closeFn, err := open(in)
	if err != nil {
		return err
	}
	defer closeFn()
	scope := ndjsonScope(in)
	br := bufio.NewReaderSize(jsonText(r), 64<<10)
	var buf []byte
	line, n := 0, 0
	for {
		b, tooLong, err := readLine(br, buf[:0], maxNDJSONLine)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line+1, err)
		}
		buf = b
		line++
		// A byte-order mark inside the file starts a part joined on
		// (copy /b a.ndjson+b.ndjson), its text as the first part's,
		// and a Ctrl-Z may end a part (trimEOFMark).
		b = bytes.TrimSpace(bytes.TrimPrefix(trimEOFMark(b), []byte("\xEF\xBB\xBF")))
		if len(b) == 0 && !tooLong {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		n++
		name := "line " + strconv.Itoa(line)
		if u := in.Meta["unit"]; line == 1 && strings.HasPrefix(u, "line ") {
			// A line the quarantine kept (unitInput), replayed as an
			// input of its own: it keeps its number in the file.
			name = u
		}
		var units []Unit
		if tooLong {
			// Quarantined alone, without a copy, as a file too
			// large to keep is: the file, kept in failed/, has the
			// whole line. A part of it kept here would be replayed
			// as an NDJSON file of its own, and quarantined again
			// as line 1, not valid JSON, its reason lost.
			units = []Unit{{Name: name, Attrs: map[string]string{"format": "fhir"},
				Err: fmt.Errorf("the line is longer than %d MiB, the longest ferry reads: export the resource without inline data (an attachment's data as a Binary of its own)", maxNDJSONLine>>20)}}
		} else {
			units = fileScoped(c.unit(name, append([]byte(nil), b...), env), scope)
		}
		for _, u := range units {
			if err := unit(u); err != nil {
				return err
			}
		}
	}
	if n == 0 {
		return errors.New("no FHIR resource in the file")
	}
	return nil
}

// maxNDJSONLine is the longest NDJSON line read, its end included.
const maxNDJSONLine = 64 << 20

// readLine appends the next line of br to buf, without its end, and
// returns it, or, for a line longer than max, its first max bytes and
// tooLong, the rest of the line read past (so the lines after it are
// read); io.EOF when no line is left.
func readLine(br *bufio.Reader, buf []byte, max int) (_ []byte, tooLong bool, _ error) {
	got := false
	for {
		frag, err := br.ReadSlice('\n')
		got = got || len(frag) > 0
		if room := max - len(buf); len(frag) > room {
			frag, tooLong = frag[:room], true
		}
		buf = append(buf, frag...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && got:
			return buf, tooLong, nil
		case err != nil:
			return buf, tooLong, err
		}
		return bytes.TrimSuffix(buf, []byte("\n")), tooLong, nil
	}
}

// trimEOFMark returns b without a Ctrl-Z (0x1A) at its start or end, nor
// the white space around it: the end-of-file mark that Windows' copy
// appends when it joins files without /b (copy a.ndjson+b.ndjson
// c.ndjson), and DOS-era tools still write, as the HL7 v2 and CSV
// readers skip it. JSON has no 0x1A outside a string, nor a string
// there. Bytes without one are returned as they are.
func trimEOFMark(b []byte) []byte {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != 0x1a && t[len(t)-1] != 0x1a {
		return b
	}
	return bytes.Trim(t, "\x1a \t\r\n")
}

// jsonText returns r's text as UTF-8 without a byte-order mark. JSON is
// UTF-8 (RFC 8259), but Windows programs save it with a UTF-8 mark, or
// as UTF-16 with one (Notepad's "Unicode"); the sniffer takes such files
// for FHIR (ehrdrop.Sniff), so they are read here, not refused line by
// line as "not valid JSON". Bytes without a mark are passed as they are.
func jsonText(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	bom, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(bom, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
	case bytes.HasPrefix(bom, []byte{0xFF, 0xFE}):
		return transform.NewReader(&utf16Whole{r: br}, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder())
	case bytes.HasPrefix(bom, []byte{0xFE, 0xFF}):
		return transform.NewReader(&utf16Whole{r: br}, unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder())
	}
	return br
}

// utf16Whole reads a UTF-16 file's bytes, which end in
// configtext.ErrUTF16, not io.EOF, when their count is odd: the file cut
// short in the middle of a character, whose byte the decoder would give
// as U+FFFD, refused then as "invalid character 'ï'", a character the
// file does not hold. An HL7 v2 file so cut is refused alike.
type utf16Whole struct {
	r io.Reader
	n int64
}

func (w *utf16Whole) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.n += int64(n)
	if err == io.EOF && w.n%2 != 0 {
		err = configtext.ErrUTF16
	}
	return n, err
}

// fhirHead is what the pass-through reads of a resource: enough to choose
// the request and the patient key. Members whose type differs between
// resources (Bundle.type is a code, Encounter.type a list of
// CodeableConcepts; subject is one Reference or, in Account, several)
// stay raw, so that no resource fails to decode for its shape.
type fhirHead struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Type         json.RawMessage `json:"type"`
	Identifier   json.RawMessage `json:"identifier"`
	Patient      json.RawMessage `json:"patient"`
	Subject      json.RawMessage `json:"subject"`
	Beneficiary  json.RawMessage `json:"beneficiary"`
	Target       json.RawMessage `json:"target"` // Provenance's (resourcePatientKey)
	Entry        []fhirEntry     `json:"entry"`
	Meta         json.RawMessage `json:"meta"` // read for its labels only (securityOf)
}

// securityOf is a resource's meta.security; a meta that is not what FHIR
// says gives none here, and the resource goes as it came.
func securityOf(meta json.RawMessage) []fhir.Coding {
	var m struct {
		Security []fhir.Coding `json:"security"`
	}
	if len(meta) == 0 || json.Unmarshal(meta, &m) != nil {
		return nil
	}
	return m.Security
}

// fhirEntry is a Bundle entry (other resources' "entry" members, such as
// List.entry, leave Resource nil).
type fhirEntry struct {
	Resource *fhirHead `json:"resource"`
	Request  struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		IfNoneExist string `json:"ifNoneExist"`
	} `json:"request"`
}

// unit makes the units that send body, one FHIR resource or transaction
// as JSON, most often one (a large transaction may be cut in parts, see
// conditionalParts); env are the labels its envelope gives it
// (labelResource).
func (c FHIRJSON) unit(name string, body []byte, env []fhir.Coding) []Unit {
	u := Unit{Name: name, Raw: body, Dedup: sha256.Sum256(body), Attrs: map[string]string{"format": "fhir"}}
	var h fhirHead
	if err := json.Unmarshal(body, &h); err != nil {
		u.Err = headError(body, err)
		return []Unit{u}
	}
	// FHIR JSON is UTF-8 (RFC 8259 8.1). encoding/json reads other bytes
	// in a string as U+FFFD, but the resource goes as it came: such text
	// is refused by an exchange that reads JSON strictly (HAPI FHIR), and
	// stored garbled by one that does not.
	if off := invalidUTF8(body); off >= 0 {
		u.Err = fmt.Errorf("not UTF-8: byte 0x%02x at offset %d begins no UTF-8 character; FHIR JSON is UTF-8 (RFC 8259), so save the export as UTF-8, not in a code page such as Windows-1252", body[off], off)
		return []Unit{u}
	}
	if h.ResourceType == "" {
		u.Err = errors.New("JSON has no resourceType: not a FHIR resource")
		return []Unit{u}
	}
	u.Attrs["type"] = h.ResourceType
	if h.ResourceType == "Bundle" {
		var typ string
		_ = json.Unmarshal(h.Type, &typ)
		if typ != "transaction" && typ != "batch" {
			u.Err = fmt.Errorf("a Bundle of type %q cannot be sent as is; only transaction or batch", typ)
			return []Unit{u}
		}
		if err := checkEntries(h.Entry); err != nil {
			u.Err = err
			return []Unit{u}
		}
		var parts [][]byte
		var err error
		if typ == "transaction" {
			parts, err = c.conditionalParts(body, h.Entry)
		}
		if err == nil && parts == nil {
			var b []byte
			b, err = c.repeatableEntries(body, h.Entry, typ == "batch" || len(h.Entry) <= fhir.MaxConditionalEntries)
			parts = [][]byte{b}
		}
		if err != nil {
			u.Err = err
			return []Unit{u}
		}
		// Every part carries the high-water mark of the whole, as the
		// parts of an HL7 v2 message do: a part is held with the one
		// that holds a restricted entry, not sent without it. The mark
		// counts the labels deeper in too, as the hold does.
		whole := deepLabels(body)
		if len(parts) > 1 {
			whole = bundleLabels(body)
		}
		units := make([]Unit, len(parts))
		for i, b := range parts {
			if b, err = labelEntries(b, env, whole); err != nil {
				u.Err = fmt.Errorf("labels: %w", err)
				return []Unit{u}
			}
			p := u
			p.Bundle, p.Key, p.After = b, bundlePatientKey(h.Entry), behindDirectory
			if len(parts) > 1 {
				// Each part its own name and duplicate key: a file
				// tried again after some parts were queued queues
				// only the others.
				n := fmt.Sprintf(" part %d of %d", i+1, len(parts))
				p.Name += n
				p.Dedup = sha256.Sum256(append(slices.Clip(body), n...))
				if i > 0 {
					p.Attrs = maps.Clone(u.Attrs)
				}
			}
			units[i] = p
		}
		return units
	}
	if h.ID != "" && !validID(h.ID) {
		// The id becomes the request URL's last segment: one with '/' or
		// '?' would name another resource or a search.
		u.Err = fmt.Errorf("%s id %q is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)", h.ResourceType, h.ID)
		return []Unit{u}
	}
	if err := storedType(h.ResourceType); err != nil {
		u.Err = err
		return []Unit{u}
	}
	if u.Key = resourcePatientKey(&h); u.Key == "" && fhir.DirectoryType(h.ResourceType) {
		u.Key = DirectoryKey
	} else {
		u.After = behindDirectory
	}
	var req map[string]string
	resource := body
	if h.ID != "" {
		req = map[string]string{"method": "PUT", "url": h.ResourceType + "/" + h.ID}
	} else {
		var err error
		if resource, req, err = c.repeatableCreate(body, &h); err != nil {
			u.Err = err
			return []Unit{u}
		}
	}
	// The resource goes into the bundle as received, byte for byte but
	// for a minted identifier or id and its envelope's labels: no
	// re-encoding to round its numbers or escape its narrative's HTML.
	resource, err := labelResource(resource, env)
	if err != nil {
		u.Err = fmt.Errorf("labels: %w", err)
		return []Unit{u}
	}
	r, err := json.Marshal(req)
	if err != nil {
		u.Err = err
		return []Unit{u}
	}
	// The Bundle carries the resource's high-water mark, as a converter's
	// does: its labels but the refrain and obligation codes (DS4P).
	var meta []byte
	// Labels deeper in (a contained resource's, a DocumentReference's
	// securityLabel) count, as exchange.hold counts them.
	if hwm := fhir.HighWaterMark(withLabels(slices.Concat(securityOf(h.Meta), env), deepLabels(body))); len(hwm) > 0 {
		if meta, err = json.Marshal(map[string]any{"security": hwm}); err != nil {
			u.Err = err
			return []Unit{u}
		}
	}
	b := make([]byte, 0, len(resource)+len(r)+len(meta)+90)
	b = append(b, `{"resourceType":"Bundle","type":"transaction",`...)
	if meta != nil {
		b = append(append(append(b, `"meta":`...), meta...), ',')
	}
	b = append(b, `"entry":[{"resource":`...)
	b = append(b, resource...)
	b = append(b, `,"request":`...)
	b = append(b, r...)
	u.Bundle = append(b, "}]}"...)
	return []Unit{u}
}

// checkEntries refuses a transaction or batch holding an entry the
// exchange cannot apply, naming it by its number, as a resource sent
// alone is refused (storedType): one without a request (FHIR R4 bdl-3,
// "entry.request mandatory for batch/transaction") or with a method
// FHIR has not, a POST or PUT without a resource, of a type that is not
// R4's (an STU3 export's ProcedureRequest), or of another type than its
// request URL names. Sent, the exchange refused the whole transaction
// and it was dead-lettered there, the file taken as sent. A request that
// carries no resource of its own type (GET, HEAD, DELETE, a PATCH's
// Binary or Parameters) is left to the exchange.
func checkEntries(entries []fhirEntry) error {
	for i := range entries {
		e := &entries[i]
		switch m := e.Request.Method; m {
		case "":
			return fmt.Errorf("entry %d: no request: each entry of a transaction or batch says how the exchange applies it (Bundle.entry.request, FHIR R4 bdl-3)", i+1)
		case "GET", "HEAD", "DELETE", "PATCH":
			continue
		case "POST", "PUT":
		default:
			return fmt.Errorf("entry %d: request.method %q is none of FHIR's (GET, HEAD, POST, PUT, DELETE, PATCH)", i+1, m)
		}
		if e.Resource == nil {
			return fmt.Errorf("entry %d: a %s without a resource", i+1, e.Request.Method)
		}
		t := e.Resource.ResourceType
		if err := storedType(t); err != nil {
			return fmt.Errorf("entry %d: %w", i+1, err)
		}
		// request.url is relative to the exchange's base (R4 http.html):
		// Type, Type/id or Type?search. One given whole is left as it is.
		u := e.Request.URL
		if strings.Contains(u, "://") {
			continue
		}
		path, _, _ := strings.Cut(strings.TrimPrefix(u, "/"), "?")
		if typ, _, _ := strings.Cut(path, "/"); typ != t && (typ != "" || e.Request.Method != "POST") {
			return fmt.Errorf("entry %d: %s %s in %s %s, which writes %s", i+1, article(t), t, e.Request.Method, u, orNone(typ))
		}
	}
	return nil
}

// article is the indefinite article of a resource type's name.
func article(t string) string {
	if t != "" && strings.ContainsRune("AEIOU", rune(t[0])) {
		return "an"
	}
	return "a"
}

// orNone is a request URL's resource type as checkEntries names it.
func orNone(typ string) string {
	if typ == "" {
		return "no resource type"
	}
	return article(typ) + " " + typ
}

// headError is the refusal of body, which did not decode as a fhirHead
// (err): not valid JSON, or JSON not of FHIR's shape (an id written as a
// number, an entry's resource as a string), which is said as such,
// naming the member by its path and, in a Bundle, the entry by its
// number, as the other refusals of an entry do; encoding/json names it
// by Go's types (fhirHead.entry.resource.id).
func headError(body []byte, err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || !json.Valid(body) {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	var b struct {
		Entry []json.RawMessage `json:"entry"`
	}
	if json.Unmarshal(body, &b) == nil {
		for i, raw := range b.Entry {
			var e fhirEntry
			if err := json.Unmarshal(raw, &e); errors.As(err, &te) {
				return fmt.Errorf("entry %d: %s", i+1, shapeError(te))
			}
		}
	}
	return errors.New(shapeError(te))
}

// shapeError says which member of a FHIR resource holds a JSON value of
// another kind than FHIR has there.
func shapeError(te *json.UnmarshalTypeError) string {
	want := "a string"
	switch te.Type.Kind() {
	case reflect.Struct, reflect.Pointer, reflect.Map:
		want = "an object"
	case reflect.Slice, reflect.Array:
		want = "an array"
	}
	if te.Field == "" {
		return fmt.Sprintf("a JSON %s, not a FHIR resource (a JSON object)", te.Value)
	}
	return fmt.Sprintf("%s is a JSON %s, where FHIR has %s", te.Field, te.Value, want)
}

// repeatableCreate returns the resource (h is its head) and the request
// that create it without an id, repeatably: POST with ifNoneExist on its
// first identifier with a system and a value, or on one minted from its
// content and added to it, or, when its type cannot carry one, PUT under
// an id derived from the same hash.
func (c FHIRJSON) repeatableCreate(body []byte, h *fhirHead) ([]byte, map[string]string, error) {
	if q := firstIdentifierQuery(h.Identifier); q != "" {
		return body, map[string]string{"method": "POST", "url": h.ResourceType, "ifNoneExist": q}, nil
	}
	system, value, err := c.mintIdentifier(body)
	if err != nil {
		return nil, nil, err
	}
	if withIdent, ok := addIdentifier(body, h.ResourceType, system, value); ok {
		return withIdent, map[string]string{"method": "POST", "url": h.ResourceType, "ifNoneExist": fhir.IdentifierQuery(system, value)}, nil
	}
	// No identifier element to carry it: a client-assigned id, derived
	// from the same hash, makes the write just as repeatable. A UUID,
	// like the ids v2fhir and ccdafhir mint, so an exchange that takes
	// only UUIDs as client-assigned ids accepts it too.
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte(system+"|"+value)).String()
	resource, err := setID(body, id)
	if err != nil {
		return nil, nil, err
	}
	return resource, map[string]string{"method": "PUT", "url": h.ResourceType + "/" + id}, nil
}

// repeatablePut returns the resource (h is its head) with an id derived
// from its first identifier with a system and a value, or else from its
// content (mintIdentifier), and the PUT that writes it under that id:
// as repeatable as repeatableCreate, without a conditional create. Where
// repeatableCreate PUTs too (a type with no room for the minted
// identifier: a Binary, a Provenance), the id is the one it gives, so
// that the resource is one at the exchange whether it came in a small
// transaction, a large one or alone.
func (c FHIRJSON) repeatablePut(body []byte, h *fhirHead) ([]byte, map[string]string, error) {
	id, ok := firstIdentifier(h.Identifier)
	system, value := id.System, id.Value
	if !ok {
		resource, req, err := c.repeatableCreate(body, h)
		if err != nil || req["method"] == "PUT" {
			return resource, req, err
		}
		if system, value, err = c.mintIdentifier(body); err != nil {
			return nil, nil, err
		}
	}
	u := uuid.NewSHA1(uuid.NameSpaceURL, []byte(h.ResourceType+"|"+system+"|"+value)).String()
	resource, err := setID(body, u)
	if err != nil {
		return nil, nil, err
	}
	return resource, map[string]string{"method": "PUT", "url": h.ResourceType + "/" + u}, nil
}

// repeatableEntries returns a transaction or batch Bundle with each plain
// POST entry (no ifNoneExist) made repeatable as a resource sent alone
// is (repeatableCreate): the queue delivers at least once, and a plain
// POST would create its resource again at every redelivery, or every
// time the same export is dropped. Synthea and many EHR exports write
// every entry so. The entry's fullUrl stays, so references to it within
// the bundle still resolve; every other byte of the bundle is kept.
// conditional is false for a transaction larger than a Medplum-based
// exchange takes with a conditional create in it
// (fhir.MaxConditionalEntries) that conditionalParts could not cut: its
// entries are then PUT under an id derived from their first identifier,
// or from their content, instead.
func (c FHIRJSON) repeatableEntries(body []byte, entries []fhirEntry, conditional bool) ([]byte, error) {
	plain := false
	for i := range entries {
		if e := &entries[i]; e.Request.Method == "POST" && e.Request.IfNoneExist == "" {
			plain = true
		}
	}
	if !plain {
		return body, nil
	}
	start, end, found, err := topLevelMember(body, "entry")
	if err != nil || !found {
		return nil, fmt.Errorf("bundle entries: %v", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body[start:end], &raws); err != nil || len(raws) != len(entries) {
		return nil, fmt.Errorf("bundle entries: %v", err)
	}
	for i := range entries {
		e := &entries[i]
		if e.Request.Method != "POST" || e.Request.IfNoneExist != "" {
			continue
		}
		if e.Resource == nil {
			return nil, fmt.Errorf("entry %d: a POST without a resource", i+1)
		}
		if err := storedType(e.Resource.ResourceType); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		rs, re, _, err := topLevelMember(raws[i], "resource")
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		create := c.repeatableCreate
		if !conditional {
			create = c.repeatablePut
		}
		resource, req, err := create(raws[i][rs:re], e.Resource)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		if raws[i], err = rewriteEntry(raws[i], rs, re, resource, req); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
	}
	list := []byte{'['}
	for i, r := range raws {
		if i > 0 {
			list = append(list, ',')
		}
		list = append(list, r...)
	}
	return splice(body, start, end, append(list, ']')), nil
}

// mintIdentifier returns the identifier ferry gives a resource that has
// neither an id nor an identifier, which would otherwise be a plain POST
// and be created again by every redelivery. The value is the SHA-256 of
// the resource as received, whitespace removed (so a re-export that only
// reformats the file still names the same resource), in hex; the system
// is <Base>:content-sha256, scoped to the site like the systems v2fhir
// mints, so that byte-identical resources from two clinics stay two
// resources. The resource's members themselves are not normalised: an
// export that reorders them, or changes any value, is a new resource,
// since nothing else says it is the same one.
func (c FHIRJSON) mintIdentifier(body []byte) (system, value string, err error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(compact.Bytes())
	base := c.Base
	if base == "" {
		base = "urn:ferry"
	}
	return base + ":content-sha256", hex.EncodeToString(sum[:]), nil
}

// noIdentifier lists the FHIR R4 resource types that have no identifier
// element, so a minted identifier cannot be added to them (the exchange
// would reject an unknown element): they are PUT under an id derived
// from it instead. Bundle, which has one, is never wrapped.
var noIdentifier = map[string]bool{
	"AuditEvent": true, "Binary": true, "CapabilityStatement": true,
	"CompartmentDefinition": true, "GraphDefinition": true,
	"ImplementationGuide": true, "Linkage": true, "MedicationKnowledge": true,
	"MessageHeader": true, "VerificationResult": true,
	"MedicinalProductContraindication": true, "MedicinalProductIndication": true,
	"MedicinalProductInteraction": true, "MedicinalProductManufactured": true,
	"MedicinalProductUndesirableEffect": true, "NamingSystem": true,
	"OperationDefinition": true, "OperationOutcome": true, "Parameters": true,
	"Provenance": true, "SearchParameter": true, "Subscription": true,
	"SubstanceNucleicAcid": true, "SubstancePolymer": true, "SubstanceProtein": true,
	"SubstanceReferenceInformation": true, "SubstanceSourceMaterial": true,
	"TerminologyCapabilities": true,
}

// singleIdentifier lists the FHIR R4 resource types whose identifier is
// one Identifier (0..1), not a list.
var singleIdentifier = map[string]bool{
	"AdverseEvent": true, "Composition": true, "ConceptMap": true,
	"MedicinalProductIngredient": true, "SpecimenDefinition": true,
	"QuestionnaireResponse": true, "SubstanceSpecification": true,
	"TestReport": true, "TestScript": true,
}

// addIdentifier returns body with the identifier system|value added, the
// rest of its bytes unchanged (numbers keep their precision, members
// their order). ok is false when the type has no room for it: no
// identifier element, or a 0..1 one already taken (by an identifier
// without a system or value, which ifNoneExist cannot use).
func addIdentifier(body []byte, resourceType, system, value string) ([]byte, bool) {
	if noIdentifier[resourceType] {
		return nil, false
	}
	ident, err := json.Marshal(struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}{system, value})
	if err != nil {
		return nil, false
	}
	start, end, found, err := topLevelMember(body, "identifier")
	if err != nil {
		return nil, false
	}
	member := ident
	if !singleIdentifier[resourceType] {
		member = append(append([]byte{'['}, ident...), ']')
	}
	if found {
		cur := bytes.TrimSpace(body[start:end])
		switch {
		case string(cur) == "null":
			return splice(body, start, end, member), true
		case cur[0] == '[' && !singleIdentifier[resourceType]:
			var elems []json.RawMessage
			if json.Unmarshal(cur, &elems) != nil {
				return nil, false
			}
			at := end - 1 // the list's ']'
			if len(elems) > 0 {
				ident = append([]byte{','}, ident...)
			}
			return splice(body, at, at, ident), true
		}
		return nil, false
	}
	// Added as the last member, after everything the sender wrote.
	at := bytes.LastIndexByte(body, '}')
	if at < 0 {
		return nil, false
	}
	add := append([]byte(`,"identifier":`), member...)
	return splice(body, at, at, add), true
}

// setID returns body with its id member set to id (the resource has none,
// or an empty one), the rest of its bytes unchanged.
func setID(body []byte, id string) ([]byte, error) {
	quoted := []byte(strconv.Quote(id)) // a UUID: nothing to escape
	start, end, found, err := topLevelMember(body, "id")
	if err != nil {
		return nil, err
	}
	if found {
		return splice(body, start, end, quoted), nil
	}
	at := bytes.LastIndexByte(body, '}')
	if at < 0 {
		return nil, errors.New("resource is not a JSON object")
	}
	return splice(body, at, at, append([]byte(`,"id":`), quoted...)), nil
}

// topLevelMember finds the value of the member name of the JSON object
// obj: body[start:end] are its bytes as written. A name given twice is an
// error (FHIR's JSON has none): the receiver's parser may take the other
// one than the one edited here, which would lose a minted identifier or
// a security label.
func topLevelMember(obj []byte, name string) (start, end int, found bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, 0, false, errors.New("resource is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, false, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0, 0, false, err
		}
		if tok == name {
			if found {
				return 0, 0, false, fmt.Errorf("member %q appears twice", name)
			}
			// A decoded value ends where the decoder stopped, and its
			// bytes are exactly those written (no surrounding space).
			end = int(dec.InputOffset())
			start, found = end-len(v), true
		}
	}
	return start, end, found, nil
}

// splice returns a new slice: b with b[i:j] replaced by s.
func splice(b []byte, i, j int, s []byte) []byte {
	out := make([]byte, 0, len(b)-(j-i)+len(s))
	out = append(out, b[:i]...)
	out = append(out, s...)
	return append(out, b[j:]...)
}

// identifierToken is an Identifier's system and value.
type identifierToken struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// firstIdentifier returns the first identifier in raw (a list, or the one
// Identifier of the types in singleIdentifier) with both a system and a
// value: one without a system matches that value in any system, so it
// could name another record.
func firstIdentifier(raw json.RawMessage) (identifierToken, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return identifierToken{}, false
	}
	var ids []identifierToken
	if raw[0] == '{' {
		ids = make([]identifierToken, 1)
		if json.Unmarshal(raw, &ids[0]) != nil {
			return identifierToken{}, false
		}
	} else if json.Unmarshal(raw, &ids) != nil {
		return identifierToken{}, false
	}
	for _, id := range ids {
		if id.System != "" && id.Value != "" {
			return id, true
		}
	}
	return identifierToken{}, false
}

func firstIdentifierQuery(raw json.RawMessage) string {
	if id, ok := firstIdentifier(raw); ok {
		return fhir.IdentifierQuery(id.System, id.Value)
	}
	return ""
}

// DefaultMaxWholeFileBytes bounds a file read whole (a FHIR JSON
// document, an HL7 v2 batch file) when the converter's MaxBytes is 0: the
// gateway passes sources.max_whole_file_bytes. A larger file is refused,
// unread, rather than taken into memory (a bulk Bundle or a mistaken
// export of some gigabytes would exhaust a small server's, at every
// retry); NDJSON is read a line at a time and has no such limit.
const DefaultMaxWholeFileBytes = 128 << 20

// ErrFileTooLarge is the refusal of a file past the limit of files read
// whole.
var ErrFileTooLarge = errors.New("the file is too large to be read whole")

// readAll returns the input's bytes, reading the file when the source
// left Body empty because the file is large. Of a file it reads at most
// limit bytes (0: DefaultMaxWholeFileBytes), into a buffer of the file's
// size; a larger file is refused with ErrFileTooLarge, naming the limit
// and what a file of the kind (what) should be instead.
func readAll(in adapters.Raw, limit int64, what string) ([]byte, error) {
	if in.Open == nil {
		// A message in memory (MLLP's, bounded by max_frame_bytes).
		return in.Body, nil
	}
	if limit <= 0 {
		limit = DefaultMaxWholeFileBytes
	}
	tooLarge := func() error {
		return fmt.Errorf("%w: it is over %s (sources.max_whole_file_bytes, %d bytes), the most read whole as %s", ErrFileTooLarge, sizeMiB(limit), limit, what)
	}
	// A file is refused by its size, read or not (max_body_bytes may
	// be the larger).
	if in.Size > limit || int64(len(in.Body)) > limit {
		return nil, tooLarge()
	}
	if in.Body != nil {
		return in.Body, nil
	}
	r, err := in.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := bytes.NewBuffer(make([]byte, 0, min(max(in.Size, 0), limit+1)+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, tooLarge()
	}
	return buf.Bytes(), nil
}

// sizeMiB writes n bytes in MiB when it is a whole number of them.
func sizeMiB(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// open streams the input.
func open(in adapters.Raw) (io.Reader, func(), error) {
	if in.Body != nil || in.Open == nil {
		return bytes.NewReader(in.Body), func() {}, nil
	}
	r, err := in.Open()
	if err != nil {
		return nil, nil, err
	}
	return r, func() { r.Close() }, nil
}

// validID reports whether id matches FHIR's id type,
// [A-Za-z0-9\-\.]{1,64}.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// storedType refuses a resourceType that is not an R4 resource type a
// server stores (fhir.StoredResourceType): it becomes the request URL's
// first segment, and the exchange would answer 4xx to anything else and
// the item be dead-lettered there, after the file was taken as sent.
// An OperationOutcome is most often a Bulk Data export's error file
// (OperationOutcome.ndjson) dropped with the rest, so its refusal says so.
func storedType(t string) error {
	switch {
	case fhir.StoredResourceType(t):
		return nil
	case t == "OperationOutcome":
		return fmt.Errorf("resourceType %q is not a FHIR resource type a server stores: it is a server's error report (a bulk export's error file), not data to send", t)
	case t == "Parameters":
		return fmt.Errorf("resourceType %q is not a FHIR resource type a server stores: it is an operation's input or output", t)
	}
	return fmt.Errorf("resourceType %q is not a FHIR resource type: not one of FHIR R4's", t)
}

// rewriteEntry puts resource in place of entry raw's resource member
// (raw[rs:re]) and req, marshalled, in place of its request member.
func rewriteEntry(raw []byte, rs, re int, resource []byte, req any) ([]byte, error) {
	qs, qe, found, err := topLevelMember(raw, "request")
	if err != nil || !found {
		return nil, errors.New("no request")
	}
	r, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	// The later member first, so the earlier's offsets still hold.
	if qs > rs {
		return splice(splice(raw, qs, qe, r), rs, re, resource), nil
	}
	return splice(splice(raw, rs, re, resource), qs, qe, r), nil
}

// invalidUTF8 is the offset of the first byte of b that begins no UTF-8
// character, or -1 when b is all UTF-8.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}
