package hl7v2

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// unescape appends the decoded form of raw to dst. Escape sequences are
// never nested (v2.3.1 §2.7); an unknown or unterminated one is kept as
// written rather than dropped, so no text is lost. A character set switch
// (\Cxxyy\, \Mxxyyzz\) hands the rest of the value to unescapeSwitched;
// until one is met, the loop below is all a value pays.
func unescape(dst, raw []byte, c *textCtx) []byte {
	d := &c.Delimiters
	esc := d.Escape
	room := formattingRoom(len(raw))
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, esc)
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i+1:]
		j := bytes.IndexByte(raw, esc)
		if j < 0 { // unterminated: keep literally
			dst = append(dst, esc)
			return append(dst, raw...)
		}
		seq := raw[:j]
		if c.isSwitch(seq) {
			if g, err := parseSwitch(seq); err == nil {
				if g.how == runDefault {
					raw = raw[j+1:]
					continue
				}
				return unescapeSwitched(dst, raw[j+1:], c, g, &room)
			}
			// Malformed or unknown: kept as written, like any escape
			// that cannot be read (Message.CharsetSwitchError reports it).
		}
		if out, ok := decodeEscape(dst, seq, c, &room); ok {
			dst = out
		} else {
			dst = append(dst, esc)
			dst = append(dst, seq...)
			dst = append(dst, esc)
		}
		raw = raw[j+1:]
	}
	return dst
}

// decodeEscape appends what seq (an escape sequence without its escape
// characters) stands for. Locally defined escapes (\Zxx\) have no meaning
// ferry could know and are dropped. Character set switches are handled by
// unescape; one that reaches here is malformed or unknown and is kept, as
// is an escape that starts with C or M and is no switch (isSwitch).
// room is what formatting commands may still add to the value
// (formattingRoom).
func decodeEscape(dst, seq []byte, c *textCtx, room *int) ([]byte, bool) {
	d := &c.Delimiters
	if len(seq) == 0 {
		return dst, false
	}
	if len(seq) == 1 {
		switch seq[0] {
		case 'F':
			return append(dst, d.Field), true
		case 'S':
			return append(dst, d.Component), true
		case 'T':
			return append(dst, d.Subcomponent), true
		case 'R':
			return append(dst, d.Repetition), true
		case 'E':
			return append(dst, d.Escape), true
		case 'P':
			if d.Truncation != 0 {
				return append(dst, d.Truncation), true
			}
		case 'H', 'N': // highlighting on/off: no plain-text meaning
			return dst, true
		}
		return dst, false
	}
	switch seq[0] {
	case 'X':
		return decodeHex(dst, seq[1:], c.hex)
	case 'Z': // locally defined: meaningless outside the sender's site
		return dst, true
	case '.':
		return formatting(dst, string(seq[1:]), room)
	}
	return dst, false
}

// decodeHex decodes \Xhh..\: bytes in cs, the message's single-byte
// character set, or with none (UTF-8, unlabelled), UTF-8 when they are
// valid, otherwise windows-1252, like unlabelled message text.
func decodeHex(dst, hex []byte, cs *charmap.Charmap) ([]byte, bool) {
	var tmp [64]byte
	b, ok := appendHexBytes(tmp[:0], hex)
	if !ok {
		return dst, false
	}
	if cs == nil && utf8.Valid(b) {
		return append(dst, b...), true
	}
	dec := charmap.Windows1252.DecodeByte
	if cs != nil {
		dec = cs.DecodeByte
	}
	for _, c := range b {
		dst = utf8.AppendRune(dst, dec(c))
	}
	return dst, true
}

// appendHexBytes appends the bytes hex (an even number of hex digits)
// stands for; false when it is empty, odd or holds a non-hex character.
func appendHexBytes(dst, hex []byte) ([]byte, bool) {
	if len(hex) == 0 || len(hex)%2 != 0 {
		return dst, false
	}
	for i := 0; i < len(hex); i += 2 {
		hi, ok1 := unhex(hex[i])
		lo, ok2 := unhex(hex[i+1])
		if !ok1 || !ok2 {
			return dst, false
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// formatting renders FT formatting commands as plain text: line breaks stay
// line breaks, skipped spaces (.sk <number>, "skip <number> spaces to the
// right", v2.5.1 §2.7.6) stay spaces, indentation and fill commands are
// dropped.
func formatting(dst []byte, cmd string, room *int) ([]byte, bool) {
	switch {
	case cmd == "br", cmd == "ce":
		return append(dst, '\n'), true
	case strings.HasPrefix(cmd, "sp"), strings.HasPrefix(cmd, "sk"):
		n, ok := formattingCount(cmd[2:])
		if !ok {
			return dst, false
		}
		c := byte('\n')
		if cmd[1] == 'k' {
			c = ' '
		}
		// Past the value's room, a command is one line break or space.
		if n > *room {
			n = max(*room, 1)
		}
		*room -= n
		for ; n > 0; n-- {
			dst = append(dst, c)
		}
		return dst, true
	case cmd == "fi", cmd == "nf", strings.HasPrefix(cmd, "in"), strings.HasPrefix(cmd, "ti"):
		return dst, true
	}
	return dst, false
}

// formattingRoom is what the .sp and .sk commands of a value of n bytes
// may add to it, all together: at most its own size, or one command's
// 100: a value of a great many "\.sp100\" (a sender's bug, up to
// max_frame_bytes) otherwise read as 14 times its size in line breaks.
func formattingRoom(n int) int { return max(n, 100) }

// formattingCount reads the <number> of .sp and .sk: a positive integer,
// 1 when absent, at most 100 so that a short escape cannot stand for a
// great deal of text.
func formattingCount(arg string) (int, bool) {
	rest := strings.TrimPrefix(strings.TrimSpace(arg), "+")
	if rest == "" {
		return 1, true
	}
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = min(n*10+int(c-'0'), 100)
	}
	return n, true
}

// Encode escapes s for use as one leaf value (a component or subcomponent)
// written with delimiters d: the delimiter characters become \F\ \S\ \T\ \R\
// \E\ (\P\ for the v2.7 truncation character), a line feed becomes \.br\ and
// any other control character \Xhh\.
func (d Delimiters) Encode(s string) string {
	if !d.needsEscape(s) {
		return s
	}
	return string(d.AppendEncoded(make([]byte, 0, len(s)+8), s))
}

func (d Delimiters) needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == d.Field || c == d.Component || c == d.Repetition || c == d.Escape || c == d.Subcomponent || (d.Truncation != 0 && c == d.Truncation) {
			return true
		}
	}
	return false
}

// AppendEncoded appends Encode(s) to dst.
func (d Delimiters) AppendEncoded(dst []byte, s string) []byte {
	e := d.Escape
	if e == 0 {
		e = '\\'
	}
	put := func(code string) {
		dst = append(dst, e)
		dst = append(dst, code...)
		dst = append(dst, e)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			put(".br")
		case c < 0x20:
			const hexdigits = "0123456789ABCDEF"
			put(string([]byte{'X', hexdigits[c>>4], hexdigits[c&15]}))
		case c == d.Field:
			put("F")
		case c == d.Component:
			put("S")
		case c == d.Subcomponent:
			put("T")
		case c == d.Repetition:
			put("R")
		case c == e:
			put("E")
		case d.Truncation != 0 && c == d.Truncation:
			put("P")
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// Join escapes each component and joins them with the component separator,
// dropping trailing empty components: Join("ADT", "A01") is "ADT^A01".
func (d Delimiters) Join(components ...string) string {
	for len(components) > 0 && components[len(components)-1] == "" {
		components = components[:len(components)-1]
	}
	var b []byte
	for i, c := range components {
		if i > 0 {
			b = append(b, d.Component)
		}
		b = d.AppendEncoded(b, c)
	}
	return string(b)
}

// Builder writes a message segment by segment with a given set of
// delimiters. Field values passed to it are already encoded (use Encode or
// Join to build them); that lets callers copy fields verbatim from a
// received message, as an ACK does with MSH-3..6.
type Builder struct {
	d   Delimiters
	buf []byte
}

// NewBuilder returns a Builder using d (DefaultDelimiters when d is zero).
func NewBuilder(d Delimiters) *Builder {
	if d.Field == 0 {
		d = DefaultDelimiters
	}
	return &Builder{d: d, buf: make([]byte, 0, 256)}
}

// Delimiters returns the delimiters the Builder writes with.
func (b *Builder) Delimiters() Delimiters { return b.d }

// MSH writes an MSH segment; fields[0] is MSH-3, MSH-1 and MSH-2 come from
// the Builder's delimiters.
func (b *Builder) MSH(fields ...string) *Builder {
	b.buf = append(b.buf, "MSH"...)
	b.buf = append(b.buf, b.d.Field)
	b.buf = append(b.buf, b.d.EncodingCharacters()...)
	for _, f := range fields {
		b.buf = append(b.buf, b.d.Field)
		b.buf = append(b.buf, f...)
	}
	b.buf = append(b.buf, '\r')
	return b
}

// Segment writes one segment; fields[0] is field 1. Trailing empty fields
// are dropped.
func (b *Builder) Segment(name string, fields ...string) *Builder {
	for len(fields) > 0 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1]
	}
	b.buf = append(b.buf, name...)
	for _, f := range fields {
		b.buf = append(b.buf, b.d.Field)
		b.buf = append(b.buf, f...)
	}
	b.buf = append(b.buf, '\r')
	return b
}

// Bytes returns the message written so far, each segment ended by CR.
func (b *Builder) Bytes() []byte { return b.buf }
