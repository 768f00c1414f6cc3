// Package hl7v2 reads and writes HL7 version 2 messages (ER7 "pipe and hat"
// encoding). Parse copies the input once into a normalised UTF-8 buffer (or,
// with ParseShared, uses an already normalised input in place) and
// indexes only segment boundaries; fields, repetitions, components and
// subcomponents are located on demand by scanning the segment's bytes, so a
// converter that reads a few dozen fields allocates almost nothing beyond the
// buffer itself. Text returned by Value.String aliases that buffer when no
// escape sequence needs decoding, which is why the buffer is never modified
// after Parse.
package hl7v2

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/text/encoding/charmap"
)

// Delimiters are the separators a message declares in MSH-1 and MSH-2. A zero
// byte means the message did not declare that delimiter.
type Delimiters struct {
	Field        byte // MSH-1, usually '|'
	Component    byte // MSH-2[0], usually '^'
	Repetition   byte // MSH-2[1], usually '~'
	Escape       byte // MSH-2[2], usually '\\'
	Subcomponent byte // MSH-2[3], usually '&'
	Truncation   byte // MSH-2[4] (v2.7+), usually '#'
}

// DefaultDelimiters are the delimiters HL7 recommends and nearly every
// sender uses; ferry writes its own messages (ACKs) with the sender's.
var DefaultDelimiters = Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&'}

// EncodingCharacters renders MSH-2 for d.
func (d Delimiters) EncodingCharacters() string {
	b := make([]byte, 0, 5)
	for _, c := range []byte{d.Component, d.Repetition, d.Escape, d.Subcomponent, d.Truncation} {
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// ParseError says where a message could not be read. Segment is the 1-based
// position of the segment in the message (0 when the problem is not tied to
// one), Name its segment ID, Field the 1-based field number (0 when none).
type ParseError struct {
	Segment int
	Name    string
	Field   int
	Reason  string
	// Quoted says Name is not a segment ID but the start of the line,
	// quoted, which the ACK's ERR-2 gives the sender: a line break
	// inside a field makes the field's text a line of its own, and that
	// may be a patient's name. Error leaves it out, as its text is
	// logged, kept in the quarantine's listing and shown in status.
	Quoted bool
}

// Error names the place first, then the reason.
func (e *ParseError) Error() string {
	s := "hl7v2 parse"
	switch {
	case e.Segment > 0 && e.Quoted:
		s += fmt.Sprintf(": segment %d", e.Segment)
	case e.Segment > 0:
		s += fmt.Sprintf(": segment %d (%s)", e.Segment, e.Name)
	}
	if e.Field > 0 {
		s += fmt.Sprintf(" field %s-%d", e.Name, e.Field)
	}
	return s + ": " + e.Reason
}

// ErrNotHL7 is wrapped by Parse's error when the input does not start with a
// header segment at all.
var ErrNotHL7 = errors.New("input is not an hl7 v2 message")

// Message is one parsed HL7 v2 message. It is immutable and safe for
// concurrent reads.
type Message struct {
	buf     []byte // normalised: UTF-8, CR-terminated segments, no BOM
	ctx     textCtx
	segs    []Segment
	charset string   // MSH-18 as written
	decoded string   // how the bytes were decoded: "ascii", "utf-8", "iso-8859-1", "windows-1252 (fallback)" ...
	seps    []uint32 // the field separator offsets of all segments (each Segment's seps is a part)
	guessed bool     // MSH-18 is a label ferry does not know, and the bytes were read as windows-1252
}

// msgPool holds the Messages given back by Recycle, with their segment
// and separator lists, for later parses.
var msgPool = sync.Pool{New: func() any { return new(Message) }}

// Recycle hands m's memory (the Message and its lists of segments and
// field separators) to later parses, saving a caller that parses many
// messages, such as the ingest pipeline, most of what a parse allocates.
// Neither m nor any Segment or Value read from it may be used
// afterwards. Strings read from m stay valid: they are never in that
// memory. Messages with unusually long lists are left to the garbage
// collector.
func (m *Message) Recycle() {
	if cap(m.segs) > recycleSegs || cap(m.seps) > recycleSeps {
		return
	}
	clear(m.segs)
	segs, seps := m.segs[:0], m.seps[:0]
	*m = Message{segs: segs, seps: seps}
	msgPool.Put(m)
}

// Bounds of the lists a recycled Message keeps.
const (
	recycleSegs = 256
	recycleSeps = 8192
)

// Segment is one segment of a message. The zero Segment is empty: every field
// of it is empty, so lookups on a missing segment need no nil checks.
type Segment struct {
	// Name is the segment ID, e.g. "PID" or "ZPI".
	Name string
	raw  []byte
	d    *textCtx
	pos  int // 1-based position in the message
	hdr  bool
	seps []uint32 // offsets of the field separators in raw
}

// Parse reads one HL7 v2 message. It accepts CR, CRLF or LF segment
// terminators, a leading UTF-8 byte-order mark and MLLP framing bytes left
// around the message, and decodes the character set named in MSH-18 to UTF-8.
// Input that is not valid UTF-8 and not labelled otherwise is read as
// windows-1252, the commonest unlabelled encoding in practice.
func Parse(raw []byte) (*Message, error) { return parse(raw, false) }

// ParseShared is Parse for a caller that owns raw and never modifies it
// afterwards (the pipeline, whose input bytes also back the Bundle's
// Binary and the queued unit's Raw). When raw needs no decoding and
// already ends its segments with CR alone, the Message uses raw itself
// as its buffer instead of a copy, saving an allocation as large as the
// message: strings read from the Message then alias raw.
func ParseShared(raw []byte) (*Message, error) { return parse(raw, true) }

func parse(raw []byte, share bool) (*Message, error) {
	raw = TrimEnvelope(raw)
	if len(raw) < 3 || !isHeader(raw) {
		return nil, fmt.Errorf("hl7v2 parse: %w: no MSH segment at the start", ErrNotHL7)
	}
	if !bytes.HasPrefix(raw, []byte("MSH")) {
		return nil, &ParseError{Segment: 1, Name: string(raw[:3]), Reason: "message must start with MSH (use SplitBatch for batch files)"}
	}
	d, err := readDelimiters(raw)
	if err != nil {
		return nil, err
	}
	m := msgPool.Get().(*Message) // zero but for its lists' room (Recycle)
	m.ctx = textCtx{Delimiters: d}

	// Character set: locate MSH-18 in the raw (ASCII-compatible) header.
	// Its first repetition is the default character set, later ones the
	// alternates the message may switch to.
	csStart, csEnd, alternates := rawHeaderField(raw, d, 18)
	label := raw[csStart:csEnd]
	buf, decoded, base, err := decode(raw, label, alternates, d.Escape)
	if err != nil {
		return nil, &ParseError{Segment: 1, Name: "MSH", Field: 18, Reason: err.Error()}
	}
	m.decoded = decoded
	m.ctx.base = base
	m.ctx.alternates = alternates
	m.ctx.hex = nil
	enc, known := lookupCharset(label)
	m.guessed = !known && decoded == fallback
	if cm, ok := enc.(*charmap.Charmap); ok && decoded != "utf-8" {
		m.ctx.hex = cm
		if cm == charmap.ISO8859_1 {
			m.ctx.hex = charmap.Windows1252 // see decode
		}
	}
	copied := decoded == "ascii" || decoded == "utf-8"
	switch {
	case share && copied && bytes.IndexByte(buf, '\n') < 0:
		// Already normalised: the copy would be byte for byte the same.
		// The capacity is cut so that no append to Bytes() reaches the
		// caller's bytes past the message.
		m.buf = buf[:len(buf):len(buf)]
	default:
		m.buf = normaliseTerminators(buf, !copied)
	}
	switch {
	case csStart == csEnd:
	case copied:
		// The first line is copied unchanged, so MSH-18 sits at the
		// same offsets in the buffer: alias it like Value.String does.
		m.charset = unsafe.String(&m.buf[csStart], csEnd-csStart)
	default:
		m.charset = string(label)
	}

	n := bytes.Count(m.buf, []byte{'\r'}) + 1
	if cap(m.segs) < n {
		m.segs = make([]Segment, 0, n)
	}
	// Field separator positions of all segments share one array, so that
	// Field(n) is a lookup rather than a scan.
	seps := m.seps
	if nf := bytes.Count(m.buf, []byte{d.Field}); cap(seps) < nf {
		seps = make([]uint32, 0, nf)
	}
	rest := m.buf
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\r'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		if isBlank(line) {
			continue
		}
		pos := len(m.segs) + 1
		if pos > 1 && len(line) >= 3 && isHeader(line) && (len(line) == 3 || line[3] != d.Field) {
			// A second header inside one message with other delimiters
			// would have its fields misread.
			return nil, &ParseError{Segment: pos, Name: string(line[:3]), Field: 1, Reason: "field separator differs from MSH-1"}
		}
		name := line
		if i := bytes.IndexByte(line, d.Field); i >= 0 {
			name = line[:i]
		}
		if !validName(name) {
			shown := name
			if len(shown) > 8 {
				shown = shown[:8]
			}
			return nil, &ParseError{Segment: pos, Name: fmt.Sprintf("%q", shown), Quoted: true,
				Reason: "invalid segment name: the line does not start with a segment ID (3 capital letters or digits), as when a line break is inside a field"}
		}
		s := Segment{Name: segName(name), raw: line, d: &m.ctx, pos: pos}
		s.hdr = s.Name == "MSH" || s.Name == "FHS" || s.Name == "BHS"
		first := len(seps)
		// Fields are mostly a few bytes apart: one plain pass beats a
		// bytes.IndexByte call per field.
		for off, c := range line {
			if c == d.Field {
				seps = append(seps, uint32(off))
			}
		}
		s.seps = seps[first:len(seps):len(seps)]
		m.segs = append(m.segs, s)
	}
	m.seps = seps
	if len(m.segs) == 0 {
		return nil, fmt.Errorf("hl7v2 parse: %w: empty", ErrNotHL7)
	}
	return m, nil
}

// Bytes is the normalised message: UTF-8, segments ended by CR. It must not
// be modified.
func (m *Message) Bytes() []byte { return m.buf }

// Delimiters returns the delimiters the message declared.
func (m *Message) Delimiters() Delimiters { return m.ctx.Delimiters }

// Segments returns all segments in order. The slice must not be modified.
func (m *Message) Segments() []Segment { return m.segs }

// Segment returns the first segment with the given ID and whether there was one.
func (m *Message) Segment(name string) (Segment, bool) {
	for _, s := range m.segs {
		if s.Name == name {
			return s, true
		}
	}
	return Segment{}, false
}

// All returns every segment with the given ID, in order.
func (m *Message) All(name string) []Segment {
	var out []Segment
	for _, s := range m.segs {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// Charset is MSH-18 as the sender wrote it ("" when absent).
func (m *Message) Charset() string { return m.charset }

// Decoding says how the bytes were turned into UTF-8: "ascii", "utf-8",
// "iso-8859-1", ..., or "windows-1252 (fallback)" when the bytes were not
// valid in the labelled (or default) character set, or were labelled 8859/1
// but held cp1252's letters at 0x80–0x9F. In a message labelled UTF-8 or
// ASCII, or not labelled, only the bytes that are not UTF-8 are read as
// windows-1252: its UTF-8 text stays as it is.
func (m *Message) Decoding() string { return m.decoded }

// Get returns the decoded text at an HL7 location such as "PID-5-1",
// "PID-3(2)-1" (second repetition), "OBX[2]-5" (second OBX segment) or
// "MSH-9-2"; '.' may replace '-'. A location naming a field returns its first
// repetition; one naming a component returns it whole, subcomponent
// delimiters included. Missing or malformed locations give "".
func (m *Message) Get(path string) string {
	v, ok := m.Lookup(path)
	if !ok {
		return ""
	}
	return v.String()
}

// Lookup is Get returning the Value, and false when path is malformed or
// names a segment that is absent.
func (m *Message) Lookup(path string) (Value, bool) {
	p, ok := parsePath(path)
	if !ok {
		return Value{}, false
	}
	occ := 0
	for _, s := range m.segs {
		if s.Name != p.seg {
			continue
		}
		occ++
		if occ != p.occ {
			continue
		}
		v := s.Field(p.field)
		if p.rep > 0 {
			v = v.Rep(p.rep)
		} else if v.level == levelField {
			v = v.Rep(1)
		}
		if p.comp > 0 {
			v = v.Comp(p.comp)
		}
		if p.sub > 0 {
			v = v.Sub(p.sub)
		}
		return v, true
	}
	return Value{}, false
}

type path struct {
	seg                        string
	occ, field, rep, comp, sub int
}

// parsePath reads SEG[occ]-field(rep)-comp-sub.
func parsePath(s string) (path, bool) {
	var p path
	if len(s) < 3 {
		return p, false
	}
	p.seg, s = s[:3], s[3:]
	p.occ = 1
	num := func() (int, bool) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 {
			return 0, false
		}
		n, _ := strconv.Atoi(s[:i])
		s = s[i:]
		return n, true
	}
	bracket := func(open, close byte) (int, bool) {
		if len(s) == 0 || s[0] != open {
			return 0, true
		}
		s = s[1:]
		n, ok := num()
		if !ok || len(s) == 0 || s[0] != close || n < 1 {
			return 0, false
		}
		s = s[1:]
		return n, true
	}
	var ok bool
	if p.occ, ok = bracket('[', ']'); !ok {
		return p, false
	}
	if p.occ == 0 {
		p.occ = 1
	}
	sep := func() bool {
		if len(s) > 0 && (s[0] == '-' || s[0] == '.') {
			s = s[1:]
			return true
		}
		return false
	}
	if !sep() {
		return p, false
	}
	if p.field, ok = num(); !ok {
		return p, false
	}
	if p.rep, ok = bracket('(', ')'); !ok {
		return p, false
	}
	if sep() {
		if p.comp, ok = num(); !ok || p.comp < 1 {
			return p, false
		}
		if sep() {
			if p.sub, ok = num(); !ok || p.sub < 1 {
				return p, false
			}
		}
	}
	return p, len(s) == 0
}

// Pos is the segment's 1-based position in its message (0 for the zero Segment).
func (s Segment) Pos() int { return s.pos }

// Raw is the segment's bytes without its terminator. It must not be modified.
func (s Segment) Raw() []byte { return s.raw }

// NumFields is the number of the segment's last field present (MSH counts
// MSH-1 and MSH-2).
func (s Segment) NumFields() int {
	if s.d == nil || len(s.raw) <= 3 {
		return 0
	}
	n := len(s.seps)
	if s.hdr {
		n++
	}
	return n
}

// Field returns field n (1-based, as in "PID-5"). For MSH, FHS and BHS,
// field 1 is the field separator and field 2 the encoding characters, both
// returned literally. Absent fields are empty.
func (s Segment) Field(n int) Value {
	if s.d == nil || n < 1 {
		return Value{}
	}
	if s.hdr {
		switch n {
		case 1:
			if len(s.raw) < 4 {
				return Value{}
			}
			return Value{raw: s.raw[3:4], level: levelLiteral}
		case 2:
			v := nth(s.raw, s.d.Field, 1)
			return Value{raw: v, level: levelLiteral}
		}
		n--
	}
	if n > len(s.seps) {
		return Value{}
	}
	start, end := int(s.seps[n-1])+1, len(s.raw)
	if n < len(s.seps) {
		end = int(s.seps[n])
	}
	return Value{raw: s.raw[start:end], d: s.d, level: levelField}
}

// Get is Field(n).String() for the first repetition: the field's text.
func (s Segment) Get(n int) string { return s.Field(n).Rep(1).String() }

const (
	levelField = iota
	levelRep
	levelComp
	levelSub
	levelLiteral
)

// Value is a field, one repetition, component or subcomponent. Its methods
// narrow it: Rep on a field, Comp on a field (first repetition) or a
// repetition, Sub on any of them (first component). The zero Value is empty.
type Value struct {
	raw   []byte
	d     *textCtx
	level uint8
}

// textCtx is what decoding a value's text needs from its message: the
// delimiters, and for character set switches to an 8-bit set the
// single-byte character set Parse read the bytes in (nil when the buffer
// holds them as received), so that the bytes can be recovered.
type textCtx struct {
	Delimiters
	base *charmap.Charmap
	// hex is the single-byte character set MSH-18 names, which the
	// bytes of a hex escape (\Xhh\) are in, also in a message that is
	// ASCII as sent. nil (UTF-8, unlabelled, multi-byte): UTF-8, or
	// cp1252 for bytes that are not.
	hex *charmap.Charmap
	// alternates: MSH-18 repeats, naming the sets the text may switch
	// to, so that every escape starting with C or M is read as a switch
	// (see isSwitch).
	alternates bool
}

// Raw is the value still encoded: escapes and inner delimiters as sent.
func (v Value) Raw() []byte { return v.raw }

// Empty reports whether the value is absent or empty.
func (v Value) Empty() bool { return len(v.raw) == 0 }

// IsNull reports whether the value is HL7's explicit null, `""`, which
// means "delete what you have" rather than "not sent".
func (v Value) IsNull() bool { return len(v.raw) == 2 && v.raw[0] == '"' && v.raw[1] == '"' }

// String decodes escape sequences and returns the text. On a field or
// repetition it returns the whole text with inner delimiters left as they are,
// so call it on the leaf you mean. HL7's explicit null `""` reads as "".
// Character set switches (\Cxxyy\, \Mxxyyzz\) apply up to the next switch
// or the end of the component or subcomponent they appear in, so a leaf
// reads the same whether it is read alone or as part of a wider value.
func (v Value) String() string {
	if len(v.raw) == 0 || v.IsNull() {
		return ""
	}
	if v.level == levelLiteral || v.d == nil || v.d.Escape == 0 || indexByte(v.raw, v.d.Escape) < 0 {
		return unsafe.String(&v.raw[0], len(v.raw))
	}
	return string(unescape(nil, v.raw, v.d))
}

// Reps returns the repetitions of a field (one for a non-repeating field,
// none for an empty one).
func (v Value) Reps() []Value {
	if len(v.raw) == 0 {
		return nil
	}
	if v.level != levelField || v.d.Repetition == 0 {
		return []Value{v}
	}
	out := make([]Value, 0, bytes.Count(v.raw, []byte{v.d.Repetition})+1)
	rest := v.raw
	for {
		i := bytes.IndexByte(rest, v.d.Repetition)
		if i < 0 {
			out = append(out, Value{raw: rest, d: v.d, level: levelRep})
			return out
		}
		out = append(out, Value{raw: rest[:i], d: v.d, level: levelRep})
		rest = rest[i+1:]
	}
}

// RepsSeq yields what Reps returns, one repetition at a time, without
// allocating the slice: converters walk repeating fields (identifiers,
// names, interpretations) of every segment, and most have one repetition.
func (v Value) RepsSeq() iter.Seq[Value] {
	return func(yield func(Value) bool) {
		if len(v.raw) == 0 {
			return
		}
		if v.level != levelField || v.d.Repetition == 0 {
			yield(v)
			return
		}
		rest := v.raw
		for {
			i := indexByte(rest, v.d.Repetition)
			if i < 0 {
				yield(Value{raw: rest, d: v.d, level: levelRep})
				return
			}
			if !yield(Value{raw: rest[:i], d: v.d, level: levelRep}) {
				return
			}
			rest = rest[i+1:]
		}
	}
}

// NumReps is len(v.Reps()) without allocating.
func (v Value) NumReps() int {
	if len(v.raw) == 0 {
		return 0
	}
	if v.level != levelField || v.d.Repetition == 0 {
		return 1
	}
	return bytes.Count(v.raw, []byte{v.d.Repetition}) + 1
}

// Rep returns repetition n (1-based) of a field; on anything narrower, n == 1
// returns the value itself.
func (v Value) Rep(n int) Value {
	switch {
	case v.level == levelField && v.d != nil && v.d.Repetition != 0:
		return Value{raw: nthSep(v.raw, v.d.Repetition, n-1), d: v.d, level: levelRep}
	case n == 1:
		return v
	}
	return Value{}
}

// Comp returns component n (1-based) of a field's first repetition or of a
// repetition.
func (v Value) Comp(n int) Value {
	switch v.level {
	case levelField:
		if d := v.d; d != nil && d.Component != 0 && d.Repetition != 0 && len(v.raw) <= shortValue {
			// One pass for "first repetition, then component n".
			return Value{raw: nthSepBefore(v.raw, d.Component, d.Repetition, n-1), d: d, level: levelComp}
		}
		v = v.Rep(1)
	case levelRep:
	default:
		if n == 1 {
			return v
		}
		return Value{}
	}
	if v.d == nil || v.d.Component == 0 {
		if n == 1 {
			return Value{raw: v.raw, d: v.d, level: levelComp}
		}
		return Value{}
	}
	return Value{raw: nthSep(v.raw, v.d.Component, n-1), d: v.d, level: levelComp}
}

// Sub returns subcomponent n (1-based) of a component (of the first
// component when called on a field or repetition).
func (v Value) Sub(n int) Value {
	switch v.level {
	case levelField, levelRep:
		v = v.Comp(1)
	case levelComp:
	default:
		if n == 1 {
			return v
		}
		return Value{}
	}
	if v.d == nil || v.d.Subcomponent == 0 {
		if n == 1 {
			return Value{raw: v.raw, d: v.d, level: levelSub}
		}
		return Value{}
	}
	return Value{raw: nthSep(v.raw, v.d.Subcomponent, n-1), d: v.d, level: levelSub}
}

// Get returns the text of component c (1-based) of the first repetition;
// a shorthand for Comp(c).String().
func (v Value) Get(c int) string { return v.Comp(c).String() }

// nth returns the n-th (0-based) piece of a segment split by the field
// separator, i.e. field n of a non-header segment.
func nth(b []byte, sep byte, n int) []byte { return nthSep(b, sep, n) }

// nthSep returns the n-th (0-based) piece of b split at sep, or nil.
func nthSep(b []byte, sep byte, n int) []byte {
	if n < 0 {
		return nil
	}
	if len(b) <= shortValue {
		// Components and repetitions are mostly a few bytes long; one
		// plain pass beats a bytes.IndexByte call per separator.
		start := 0
		for i := 0; i < len(b); i++ {
			if b[i] == sep {
				if n == 0 {
					return b[start:i]
				}
				n--
				start = i + 1
			}
		}
		if n == 0 {
			return b[start:]
		}
		return nil
	}
	for ; n > 0; n-- {
		i := bytes.IndexByte(b, sep)
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	if i := bytes.IndexByte(b, sep); i >= 0 {
		return b[:i]
	}
	return b
}

// nthSepBefore is nthSep(nthSep(b, stop, 0), sep, n): piece n of the
// part of b before the first stop byte, in one pass.
func nthSepBefore(b []byte, sep, stop byte, n int) []byte {
	if n < 0 {
		return nil
	}
	start := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case stop:
			if n == 0 {
				return b[start:i]
			}
			return nil
		case sep:
			if n == 0 {
				return b[start:i]
			}
			n--
			start = i + 1
		}
	}
	if n == 0 {
		return b[start:]
	}
	return nil
}

// shortValue is the length up to which a plain loop finds a byte faster
// than bytes.IndexByte's vectorised search, whose setup dominates on the
// few bytes of a typical component.
const shortValue = 64

// indexByte is bytes.IndexByte, with a plain loop for short values.
func indexByte(b []byte, c byte) int {
	if len(b) > shortValue {
		return bytes.IndexByte(b, c)
	}
	for i := 0; i < len(b); i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func isHeader(b []byte) bool {
	return bytes.HasPrefix(b, []byte("MSH")) || bytes.HasPrefix(b, []byte("FHS")) || bytes.HasPrefix(b, []byte("BHS"))
}

// readDelimiters reads MSH-1 and MSH-2 from a header segment.
func readDelimiters(raw []byte) (Delimiters, error) {
	var d Delimiters
	if len(raw) < 5 {
		return d, &ParseError{Segment: 1, Name: "MSH", Field: 1, Reason: "header too short for delimiters"}
	}
	d.Field = raw[3]
	if !okDelimiter(d.Field) {
		return d, &ParseError{Segment: 1, Name: "MSH", Field: 1, Reason: fmt.Sprintf("invalid field separator %q", d.Field)}
	}
	enc := raw[4:]
	if i := bytes.IndexByte(enc, d.Field); i >= 0 {
		enc = enc[:i]
	} else if i := bytes.IndexAny(enc, "\r\n"); i >= 0 {
		enc = enc[:i]
	}
	if len(enc) == 0 || len(enc) > 5 {
		return d, &ParseError{Segment: 1, Name: "MSH", Field: 2, Reason: fmt.Sprintf("encoding characters must be 1 to 5 characters, got %d", len(enc))}
	}
	slots := [...]*byte{&d.Component, &d.Repetition, &d.Escape, &d.Subcomponent, &d.Truncation}
	for i, c := range enc {
		// A delimiter repeats the field separator or one before it.
		if !okDelimiter(c) || c == d.Field || bytes.IndexByte(enc[:i], c) >= 0 {
			return d, &ParseError{Segment: 1, Name: "MSH", Field: 2, Reason: fmt.Sprintf("invalid or repeated delimiter %q", c)}
		}
		*slots[i] = c
	}
	return d, nil
}

func okDelimiter(c byte) bool {
	switch {
	case c < 0x21 || c > 0x7e:
		return false
	case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return false
	}
	return true
}

// rawHeaderField locates MSH field n (n ≥ 3) in undecoded bytes, first
// repetition, first component, without surrounding white space, for
// reading MSH-18 before decoding: it is raw[start:end]. reps reports
// whether the field has more than one repetition.
func rawHeaderField(raw []byte, d Delimiters, n int) (start, end int, reps bool) {
	line := raw
	for i, c := range line {
		if c == '\r' || c == '\n' {
			line = line[:i]
			break
		}
	}
	enc := []byte{d.Component, d.Repetition}
	f := pieceSep(line, d.Field, n-1, headerSet(line, d.Field, enc))
	if d.Repetition != 0 {
		if i := bytes.IndexByte(f, d.Repetition); i >= 0 {
			reps = true
			f = f[:i]
		}
	}
	if d.Component != 0 {
		f = nthSep(f, d.Component, 0)
	}
	f = bytes.TrimSpace(f)
	if len(f) == 0 {
		return 0, 0, reps
	}
	// f is a subslice of line, hence of raw: its offset is where its
	// capacity ends short of raw's.
	start = cap(raw) - cap(f)
	return start, start + len(f), reps
}

// TrimEnvelope strips what commonly surrounds a message: MLLP framing bytes,
// UTF-8 byte-order marks, leading whitespace and trailing NUL/EOF filler;
// Parse reads the message from what is left, and so should whatever else
// reads its header (the ACK, the audit trail, the log).
func TrimEnvelope(b []byte) []byte {
	for {
		switch {
		case len(b) > 0 && (b[0] == 0x0b || b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n'):
			b = b[1:]
			continue
		case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
			b = b[3:]
			continue
		}
		break
	}
	for len(b) > 0 {
		switch b[len(b)-1] {
		case 0x1c, 0x1a, 0x00, '\r', '\n', ' ', '\t':
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

// normaliseTerminators returns b with CRLF and LF turned into CR. It copies
// b unless owned is set, in which case b is rewritten in place.
func normaliseTerminators(b []byte, owned bool) []byte {
	out := b
	if !owned {
		out = make([]byte, 0, len(b))
	} else {
		out = b[:0]
	}
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			out = append(out, b[i:]...)
			break
		}
		out = append(out, b[i:i+j]...)
		if k := i + j; k == 0 || b[k-1] != '\r' {
			out = append(out, '\r') // LF alone; for CRLF the CR is already copied
		}
		i += j + 1
	}
	return out
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != 0x1a && c != 0 {
			return false
		}
	}
	return true
}

func validName(b []byte) bool {
	if len(b) != 3 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return b[0] >= 'A' && b[0] <= 'Z'
}

// segName interns the common segment IDs so that Parse does not allocate a
// string per segment.
func segName(b []byte) string {
	switch string(b) {
	case "MSH":
		return "MSH"
	case "EVN":
		return "EVN"
	case "PID":
		return "PID"
	case "PD1":
		return "PD1"
	case "PV1":
		return "PV1"
	case "PV2":
		return "PV2"
	case "NK1":
		return "NK1"
	case "OBR":
		return "OBR"
	case "OBX":
		return "OBX"
	case "ORC":
		return "ORC"
	case "NTE":
		return "NTE"
	case "AL1":
		return "AL1"
	case "DG1":
		return "DG1"
	case "PR1":
		return "PR1"
	case "IN1":
		return "IN1"
	case "GT1":
		return "GT1"
	case "SPM":
		return "SPM"
	case "MSA":
		return "MSA"
	case "ERR":
		return "ERR"
	case "RXA":
		return "RXA"
	case "RXR":
		return "RXR"
	case "TXA":
		return "TXA"
	case "SCH":
		return "SCH"
	case "MRG":
		return "MRG"
	case "ROL":
		return "ROL"
	}
	return string(b)
}

// Text is Comp(c).String() without surrounding white space: the usual way
// to read a leaf for output, since senders pad fields.
func (v Value) Text(c int) string {
	if d := v.d; v.level == levelField && d != nil && d.Component != 0 && d.Repetition != 0 && d.Escape != 0 && len(v.raw) <= shortValue && c >= 1 {
		// The usual call, on a short field: Comp's one pass over the first
		// repetition, noting the last escape character on the way, so
		// that String need not search the component again.
		b, n, start, esc := v.raw, c-1, 0, -1
		i := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case d.Repetition:
				if n != 0 {
					return "" // the first repetition has no component c
				}
			case d.Component:
				if n != 0 {
					n--
					start = i + 1
					continue
				}
			case d.Escape:
				esc = i
				continue
			default:
				continue
			}
			break
		}
		if n != 0 {
			return ""
		}
		comp := b[start:i]
		switch {
		case len(comp) == 0 || len(comp) == 2 && comp[0] == '"' && comp[1] == '"':
			return "" // absent, or the explicit null
		case esc < start:
			return trimSpace(unsafe.String(&comp[0], len(comp)))
		}
		return trimSpace(string(unescape(nil, comp, d)))
	}
	return trimSpace(v.Comp(c).String())
}

// trimSpace is strings.TrimSpace, returning s itself at once when its
// first and last bytes are printable ASCII, as nearly every v2 component
// is (strings.TrimSpace trims only ASCII white space, below '!', and
// Unicode white space, which starts with a byte from 0x80 up).
func trimSpace(s string) string {
	if len(s) == 0 || s[0]-'!' < 0x80-'!' && s[len(s)-1]-'!' < 0x80-'!' {
		return s
	}
	return strings.TrimSpace(s)
}

// Texts sets dst[i] to Text(i+1) for every i, in one pass over the value
// instead of one scan per component: converters read most components of
// a coded element, name or address.
func (v Value) Texts(dst []string) {
	switch v.level {
	case levelField:
		v = v.Rep(1)
	case levelRep:
	default:
		for i := range dst {
			dst[i] = ""
		}
		if len(dst) > 0 {
			dst[0] = v.Text(1)
		}
		return
	}
	if v.d == nil || v.d.Component == 0 {
		for i := range dst {
			dst[i] = ""
		}
		if len(dst) > 0 {
			dst[0] = strings.TrimSpace(Value{raw: v.raw, d: v.d, level: levelComp}.String())
		}
		return
	}
	rest, sep := v.raw, v.d.Component
	if v.d.Escape == 0 || indexByte(rest, v.d.Escape) < 0 {
		// No escape anywhere in the value: each component's text is its
		// bytes (String without the per-component search), trimmed.
		for i := range dst {
			if rest == nil {
				dst[i] = ""
				continue
			}
			comp := rest
			if j := indexByte(rest, sep); j >= 0 {
				comp, rest = rest[:j], rest[j+1:]
			} else {
				rest = nil
			}
			if len(comp) == 0 || len(comp) == 2 && comp[0] == '"' && comp[1] == '"' {
				dst[i] = "" // absent, or the explicit null
				continue
			}
			dst[i] = trimSpace(unsafe.String(&comp[0], len(comp)))
		}
		return
	}
	for i := range dst {
		if rest == nil {
			dst[i] = ""
			continue
		}
		comp := rest
		if j := indexByte(rest, sep); j >= 0 {
			comp, rest = rest[:j], rest[j+1:]
		} else {
			rest = nil
		}
		dst[i] = trimSpace(Value{raw: comp, d: v.d, level: levelComp}.String())
	}
}

// Trimmed is String() without surrounding white space.
func (v Value) Trimmed() string { return trimSpace(v.String()) }
