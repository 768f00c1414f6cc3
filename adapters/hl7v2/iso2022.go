package hl7v2

// Character set switching.
//
// HL7 v2 (v2.3 §2.9.2, v2.5 §2.7.2 "Escape sequences supporting multiple
// character sets", for PN and XPN values) writes an ISO 2022 designation as
// an HL7 escape: \Cxxyy\ is the single-byte designation ESC xx yy and
// \Mxxyyzz\ (zz optional) the multi-byte one ESC xx yy zz, the bytes given
// in hex. \M2442\ (ESC $ B) switches to JIS X 0208 and \C2842\ (ESC ( B)
// back to ASCII. MSH-18's first repetition is the default character set and
// later repetitions name the alternates (table 0211, e.g. "ISO IR6~ISO
// IR87"); MSH-20 (table 0356) says whether the switches are these HL7
// escapes ("2.3") or raw ESC bytes ("ISO 2022-1994").
//
// Scope: the standard's text names the escapes and the sets but does not
// spell out how far a switch reaches. ferry applies a switch up to the next
// switch or the end of the component or subcomponent it appears in (and a
// raw ESC designation up to the next one or the end of the segment), so a
// value reads the same whether it is read as a leaf or as part of its
// field, and a sender that forgets to switch back cannot garble the
// following components.
//
// The text inside a switch is decoded by golang.org/x/text: the Japanese
// sets by the ISO-2022-JP decoder after the designation's own escape
// bytes, the 8-bit (G1) sets by their EUC or ISO 8859 decoder, and the
// 7-bit double-byte Chinese and Korean sets in their EUC form (each byte
// with its high bit set). Delimiter and hex escapes inside a switched run
// give the raw bytes of that run (a JIS X 0208 character may contain '^'
// or '\', which a sender must escape as \S\ or \E\). JIS X 0201 Roman is
// read as ASCII, as x/text (following WHATWG) reads it: 0x5C and 0x7E stay
// '\' and '~' rather than becoming '¥' and '‾'.

import (
	"bytes"
	"fmt"
	"slices"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

const asciiEsc = 0x1b

// gset is a character set a switch designates.
type gset struct {
	name string
	how  uint8
	// esc is the designation after ESC, fed to the ISO-2022-JP decoder
	// ahead of a runJP run.
	esc string
	enc encoding.Encoding
}

// How a switched run is decoded.
const (
	runDefault = iota // ASCII into G0: back to the default character set
	runJP             // ISO-2022-JP decoder, after ESC esc
	runGR             // an 8-bit (G1) set: enc decodes the bytes, G0 stays ASCII
	runGL             // a 7-bit double-byte set: enc decodes the bytes in EUC form
)

// designations maps the bytes after ESC to the set they designate: every
// set of v2.3 §2.9.2's list, the JIS X 0208 variants, and the Korean and
// Chinese designations (DICOM PS3.5 table K-1 uses the same ones).
var designations = map[string]*gset{
	"(B":  {name: "ISO-IR 6 (ASCII)", how: runDefault},
	"(J":  {name: "ISO-IR 14 (JIS X 0201 Roman)", how: runJP, esc: "(J"},
	"(I":  {name: "ISO-IR 13 (JIS X 0201 katakana)", how: runJP, esc: "(I"},
	")I":  {name: "ISO-IR 13 (JIS X 0201 katakana, G1)", how: runGR, enc: japanese.ShiftJIS},
	"$@":  {name: "ISO-IR 42 (JIS C 6226-1978)", how: runJP, esc: "$@"},
	"$B":  {name: "ISO-IR 87 (JIS X 0208)", how: runJP, esc: "$B"},
	"$(B": {name: "ISO-IR 87 (JIS X 0208)", how: runJP, esc: "$B"},
	"$(D": {name: "ISO-IR 159 (JIS X 0212)", how: runJP, esc: "$(D"},
	"$)C": {name: "ISO-IR 149 (KS X 1001)", how: runGR, enc: korean.EUCKR},
	"$(C": {name: "ISO-IR 149 (KS X 1001, G0)", how: runGL, enc: korean.EUCKR},
	"$A":  {name: "ISO-IR 58 (GB 2312)", how: runGL, enc: simplifiedchinese.GBK},
	"$(A": {name: "ISO-IR 58 (GB 2312)", how: runGL, enc: simplifiedchinese.GBK},
	"$)A": {name: "ISO-IR 58 (GB 2312, G1)", how: runGR, enc: simplifiedchinese.GBK},
	"-A":  {name: "ISO-IR 100 (ISO 8859-1)", how: runGR, enc: charmap.ISO8859_1},
	"-B":  {name: "ISO-IR 101 (ISO 8859-2)", how: runGR, enc: charmap.ISO8859_2},
	"-C":  {name: "ISO-IR 109 (ISO 8859-3)", how: runGR, enc: charmap.ISO8859_3},
	"-D":  {name: "ISO-IR 110 (ISO 8859-4)", how: runGR, enc: charmap.ISO8859_4},
	"-L":  {name: "ISO-IR 144 (ISO 8859-5)", how: runGR, enc: charmap.ISO8859_5},
	"-G":  {name: "ISO-IR 127 (ISO 8859-6)", how: runGR, enc: charmap.ISO8859_6},
	"-F":  {name: "ISO-IR 126 (ISO 8859-7)", how: runGR, enc: charmap.ISO8859_7},
	"-H":  {name: "ISO-IR 138 (ISO 8859-8)", how: runGR, enc: charmap.ISO8859_8},
	"-M":  {name: "ISO-IR 148 (ISO 8859-9)", how: runGR, enc: charmap.ISO8859_9},
	"-b":  {name: "ISO-IR 203 (ISO 8859-15)", how: runGR, enc: charmap.ISO8859_15},
}

// switchError says why a \C or \M escape cannot be honoured.
type switchError struct {
	unknown bool   // well formed, but designates no set ferry decodes
	esc     []byte // the designation's bytes after ESC, when well formed
}

func (e *switchError) Error() string {
	if !e.unknown {
		return "malformed: \\C takes 4 hex digits and \\M 4 or 6"
	}
	var b []byte
	for _, c := range e.esc {
		b = append(b, ' ')
		b = append(b, c)
	}
	return "designates an unknown character set (ESC" + string(b) + ")"
}

// isSwitch reports whether seq, an escape sequence without its escape
// characters, is read as a character set switch: in a message whose
// MSH-18 names alternate sets, any that starts with C or M (one ferry
// cannot read is refused, see CharsetSwitchError); in one that names
// none, one written as a switch (switchShaped).
func (c *textCtx) isSwitch(seq []byte) bool {
	if len(seq) == 0 || seq[0] != 'C' && seq[0] != 'M' {
		return false
	}
	return c.alternates || switchShaped(seq)
}

// switchShaped reports whether seq, an escape sequence without its escape
// characters, is written as a character set switch: C and four hex
// digits, or M and four or six (v2.3 §2.9.2, v2.5 §2.7.2: "\Cxxyy\
// single-byte character set escape sequence with two hexadecimal values,
// xx and yy", "\Mxxyyzz\ multi-byte character set escape sequence with
// three hexadecimal values, xx, yy and zz. zz is optional"). Another
// escape starting with C or M is
// none, but what a sender makes of a backslash its user typed (HTN\CAD\DM,
// \\srv\Clinical\scan.pdf): an escape ferry does not know, kept as
// written like any other.
func switchShaped(seq []byte) bool {
	if len(seq) == 0 {
		return false
	}
	switch n := len(seq) - 1; {
	case seq[0] == 'C' && n == 4, seq[0] == 'M' && (n == 4 || n == 6):
	default:
		return false
	}
	for _, c := range seq[1:] {
		if _, ok := unhex(c); !ok {
			return false
		}
	}
	return true
}

// parseSwitch reads seq, an escape sequence starting with 'C' or 'M'
// without its escape characters, as the set it designates.
func parseSwitch(seq []byte) (*gset, error) {
	hex := seq[1:]
	if seq[0] == 'C' && len(hex) != 4 || seq[0] == 'M' && len(hex) != 4 && len(hex) != 6 {
		return nil, &switchError{}
	}
	var tmp [3]byte
	b, ok := appendHexBytes(tmp[:0], hex)
	if !ok {
		return nil, &switchError{}
	}
	if g := designations[string(b)]; g != nil {
		return g, nil
	}
	return nil, &switchError{unknown: true, esc: slices.Clone(b)}
}

// unescapeSwitched is unescape from just after a switch to g up to the end
// of raw. The bytes of a switched run are gathered (delimiter and hex
// escapes contributing their raw bytes) and decoded when the run ends: at
// the next switch, delimiter or the end of raw.
func unescapeSwitched(dst, raw []byte, c *textCtx, g *gset, room *int) []byte {
	d := &c.Delimiters
	esc := d.Escape
	var run []byte
	cur := g
	flush := func() {
		if cur != nil && len(run) > 0 {
			dst = cur.appendRun(dst, run)
		}
		run = run[:0]
	}
	text := func(b []byte) {
		switch {
		case cur == nil:
			dst = append(dst, b...)
		case cur.how == runGR:
			run = recoverBytes(run, b, c.base)
		default:
			run = append(run, b...)
		}
	}
	for {
		i := bytes.IndexByte(raw, esc)
		chunk := raw
		if i >= 0 {
			chunk = raw[:i]
		}
		// A delimiter ends the switch's scope.
		for cur != nil {
			k := indexDelimiter(chunk, d)
			if k < 0 {
				break
			}
			text(chunk[:k])
			flush()
			cur = nil
			dst = append(dst, chunk[k])
			chunk = chunk[k+1:]
		}
		text(chunk)
		if i < 0 {
			flush()
			return dst
		}
		raw = raw[i+1:]
		j := bytes.IndexByte(raw, esc)
		if j < 0 { // unterminated: keep literally
			flush()
			cur = nil
			dst = append(dst, esc)
			return append(dst, raw...)
		}
		seq := raw[:j]
		raw = raw[j+1:]
		if c.isSwitch(seq) {
			flush()
			g, err := parseSwitch(seq)
			switch {
			case err != nil:
				// Kept as written; the text after it is read in the
				// default character set.
				cur = nil
				dst = append(dst, esc)
				dst = append(dst, seq...)
				dst = append(dst, esc)
			case g.how == runDefault:
				cur = nil
			default:
				cur = g
			}
			continue
		}
		if cur == nil {
			if out, ok := decodeEscape(dst, seq, c, room); ok {
				dst = out
			} else {
				dst = append(dst, esc)
				dst = append(dst, seq...)
				dst = append(dst, esc)
			}
			continue
		}
		// Inside a switched run, escapes give bytes of the run (an
		// empty one, two escape characters in a row, is kept as
		// written, as outside a run).
		var ok bool
		if len(seq) > 0 && seq[0] == 'X' {
			run, ok = appendHexBytes(run, seq[1:])
		} else {
			run, ok = decodeEscape(run, seq, c, room)
		}
		if !ok {
			flush()
			dst = append(dst, esc)
			dst = append(dst, seq...)
			dst = append(dst, esc)
		}
	}
}

// indexDelimiter is the index of the first component, repetition or
// subcomponent separator in b, or -1.
func indexDelimiter(b []byte, d *Delimiters) int {
	for i, c := range b {
		if c == d.Component && c != 0 || c == d.Subcomponent && c != 0 || c == d.Repetition && c != 0 {
			return i
		}
	}
	return -1
}

// recoverBytes appends the bytes text (UTF-8 in the message buffer) was
// received as: text itself when the buffer holds the bytes as received
// (base nil), otherwise each character encoded back to base, the
// single-byte set Parse read the message in. A character base cannot
// encode (one Parse could not decode either) becomes '?'.
func recoverBytes(dst, text []byte, base *charmap.Charmap) []byte {
	if base == nil {
		return append(dst, text...)
	}
	for len(text) > 0 {
		r, n := utf8.DecodeRune(text)
		text = text[n:]
		if r < utf8.RuneSelf {
			dst = append(dst, byte(r))
			continue
		}
		b, ok := base.EncodeRune(r)
		if !ok {
			b = '?'
		}
		dst = append(dst, b)
	}
	return dst
}

// appendRun appends run, bytes in g, decoded to UTF-8.
func (g *gset) appendRun(dst, run []byte) []byte {
	switch g.how {
	case runJP:
		t := japanese.ISO2022JP.NewDecoder()
		// The designation first, so the decoder is in g's state.
		_, _, _ = t.Transform(nil, append([]byte{asciiEsc}, g.esc...), false)
		return appendTransformed(dst, t, run)
	case runGR:
		if cm, ok := g.enc.(*charmap.Charmap); ok {
			for _, b := range run {
				dst = utf8.AppendRune(dst, cm.DecodeByte(b))
			}
			return dst
		}
		return appendTransformed(dst, g.enc.NewDecoder(), run)
	case runGL:
		euc := make([]byte, len(run))
		for i, b := range run {
			if b > 0x20 && b < 0x7f {
				b |= 0x80
			}
			euc[i] = b
		}
		return appendTransformed(dst, g.enc.NewDecoder(), euc)
	}
	return append(dst, run...)
}

// appendTransformed appends t's output for all of src to dst. x/text's
// decoders write U+FFFD for bytes they cannot decode rather than fail; any
// other failure leaves one U+FFFD for the rest.
func appendTransformed(dst []byte, t transform.Transformer, src []byte) []byte {
	for {
		if cap(dst)-len(dst) < utf8.UTFMax {
			dst = slices.Grow(dst, 3*len(src)+utf8.UTFMax)
		}
		nDst, nSrc, err := t.Transform(dst[len(dst):cap(dst)], src, true)
		dst = dst[:len(dst)+nDst]
		src = src[nSrc:]
		switch {
		case err == nil:
			return dst
		case err == transform.ErrShortDst:
			dst = slices.Grow(dst, 3*len(src)+utf8.UTFMax)
		default:
			if len(src) > 0 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			}
			return dst
		}
	}
}

// decodeISO2022 decodes a message that designates character sets with raw
// ESC sequences (MSH-18 repeating, MSH-20 "ISO 2022-1994"). Text outside a
// designation is read in def (nil: UTF-8, and windows-1252 where it is not
// valid UTF-8); a designation lasts to the next one or the end of the
// segment. An ESC that starts no known designation becomes U+FFFD and the
// text after it is read in def. It returns the single-byte set the default
// text was read in, for \C switches to 8-bit sets inside the message.
func decodeISO2022(raw []byte, def encoding.Encoding) ([]byte, *charmap.Charmap) {
	base, _ := def.(*charmap.Charmap)
	out := make([]byte, 0, len(raw)+len(raw)/2)
	var cur *gset
	start := 0
	flush := func(end int) {
		seg := raw[start:end]
		switch {
		case len(seg) == 0:
		case cur != nil:
			out = cur.appendRun(out, seg)
		case base != nil:
			for _, b := range seg {
				out = utf8.AppendRune(out, base.DecodeByte(b))
			}
		case utf8.Valid(seg):
			out = append(out, seg...)
		default:
			for _, b := range seg {
				out = utf8.AppendRune(out, charmap.Windows1252.DecodeByte(b))
			}
		}
	}
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\r', '\n':
			flush(i)
			cur = nil
			start = i
		case asciiEsc:
			flush(i)
			g, n := designationAt(raw[i+1:])
			switch {
			case g == nil:
				out = utf8.AppendRune(out, utf8.RuneError)
				cur = nil
			case g.how == runDefault:
				cur = nil
			default:
				cur = g
			}
			i += n
			start = i + 1
		}
	}
	flush(len(raw))
	return out, base
}

// literal reports whether the bytes of a run in g are characters other
// than the ASCII ones they look like (a double-byte or a katakana set),
// so that none of them is a delimiter; false for nil (the default set),
// ASCII, JIS X 0201 Roman and the 8-bit (G1) sets.
func (g *gset) literal() bool {
	return g != nil && (g.how == runGL || g.how == runJP && g.esc != "(J")
}

// designationAt reads the designation b starts with (the bytes after an
// ESC) and returns its set and length; nil and 0 when it is none ferry
// knows.
func designationAt(b []byte) (*gset, int) {
	for _, n := range [...]int{3, 2} {
		if len(b) >= n {
			if g := designations[string(b[:n])]; g != nil {
				return g, n
			}
		}
	}
	return nil, 0
}

// CharsetSwitchError reports the first character set switch (\Cxxyy\ or
// \Mxxyyzz\) in the message that cannot be honoured: one that is malformed
// (in a message whose MSH-18 names alternate sets; see isSwitch) or
// designates a set ferry does not decode. Value.String keeps such an
// escape as written and reads the text after it in the default character
// set, which for text the sender wrote in another set is wrong: a converter
// should refuse the message rather than pass that text on. The error is a
// *ParseError naming the segment and field; nil when every switch is
// readable.
func (m *Message) CharsetSwitchError() error {
	esc := m.ctx.Escape
	if esc == 0 {
		return nil
	}
	for _, s := range m.segs {
		n := s.NumFields()
		first := 1
		if s.hdr {
			first = 3 // MSH-1 and MSH-2 are literal
		}
		scan := s.raw
		if s.hdr {
			// MSH-2 holds the escape character itself: look from MSH-3 on.
			if len(s.seps) < 2 {
				continue
			}
			scan = s.raw[s.seps[1]:]
		}
		if bytes.IndexByte(scan, esc) < 0 {
			continue
		}
		for f := first; f <= n; f++ {
			raw := s.Field(f).raw
			if bytes.IndexByte(raw, esc) < 0 {
				continue
			}
			if seq, err := firstBadSwitch(raw, &m.ctx); err != nil {
				return &ParseError{Segment: s.pos, Name: s.Name, Field: f,
					Reason: fmt.Sprintf("character set escape %c%s%c %v", esc, seq, esc, err)}
			}
		}
	}
	return nil
}

// firstBadSwitch finds the first \C or \M escape in one field's raw text
// that parseSwitch refuses. Escapes pair up within a component or
// subcomponent, as unescape pairs them when a leaf is read.
func firstBadSwitch(raw []byte, c *textCtx) ([]byte, error) {
	d := &c.Delimiters
	for len(raw) > 0 {
		leaf := raw
		if k := indexDelimiter(raw, d); k >= 0 {
			leaf, raw = raw[:k], raw[k+1:]
		} else {
			raw = nil
		}
		for {
			i := bytes.IndexByte(leaf, d.Escape)
			if i < 0 {
				break
			}
			leaf = leaf[i+1:]
			j := bytes.IndexByte(leaf, d.Escape)
			if j < 0 {
				break
			}
			seq := leaf[:j]
			leaf = leaf[j+1:]
			if c.isSwitch(seq) {
				if _, err := parseSwitch(seq); err != nil {
					return seq, err
				}
			}
		}
	}
	return nil, nil
}
