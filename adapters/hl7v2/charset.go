package hl7v2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// charsets maps HL7 table 0211 values (and a few spellings seen in the wild)
// to decoders. nil means the bytes are already UTF-8 or ASCII.
var charsets = map[string]encoding.Encoding{
	"ASCII":         nil,
	"ISO IR6":       nil,
	"UNICODE":       nil,
	"UNICODE UTF-8": nil,
	"UTF-8":         nil,
	"UTF8":          nil,
	"8859/1":        charmap.ISO8859_1,
	"ISO IR100":     charmap.ISO8859_1,
	"ISO-8859-1":    charmap.ISO8859_1,
	"LATIN1":        charmap.ISO8859_1,
	"8859/2":        charmap.ISO8859_2,
	"ISO IR101":     charmap.ISO8859_2,
	"8859/3":        charmap.ISO8859_3,
	"8859/4":        charmap.ISO8859_4,
	"8859/5":        charmap.ISO8859_5,
	"ISO IR144":     charmap.ISO8859_5,
	"8859/6":        charmap.ISO8859_6,
	"ISO IR127":     charmap.ISO8859_6,
	"8859/7":        charmap.ISO8859_7,
	"ISO IR126":     charmap.ISO8859_7,
	"8859/8":        charmap.ISO8859_8,
	"ISO IR138":     charmap.ISO8859_8,
	"8859/9":        charmap.ISO8859_9,
	"ISO IR148":     charmap.ISO8859_9,
	"8859/15":       charmap.ISO8859_15,
	"ISO-8859-2":    charmap.ISO8859_2,
	"ISO-8859-3":    charmap.ISO8859_3,
	"ISO-8859-4":    charmap.ISO8859_4,
	"ISO-8859-5":    charmap.ISO8859_5,
	"ISO-8859-6":    charmap.ISO8859_6,
	"ISO-8859-7":    charmap.ISO8859_7,
	"ISO-8859-8":    charmap.ISO8859_8,
	"ISO-8859-9":    charmap.ISO8859_9,
	"ISO-8859-15":   charmap.ISO8859_15,
	"WINDOWS-1252":  charmap.Windows1252,
	"CP1252":        charmap.Windows1252,
	"GB 18030-2000": simplifiedchinese.GB18030,
	"GB18030":       simplifiedchinese.GB18030,
	"BIG-5":         traditionalchinese.Big5,
	"BIG5":          traditionalchinese.Big5,
	"KS X 1001":     korean.EUCKR,
	"ISO IR87":      japanese.ISO2022JP,
	"ISO IR159":     japanese.ISO2022JP,
	"SHIFT_JIS":     japanese.ShiftJIS,
}

var charsetNames = map[encoding.Encoding]string{
	charmap.ISO8859_1:         "iso-8859-1",
	charmap.ISO8859_2:         "iso-8859-2",
	charmap.ISO8859_3:         "iso-8859-3",
	charmap.ISO8859_4:         "iso-8859-4",
	charmap.ISO8859_5:         "iso-8859-5",
	charmap.ISO8859_6:         "iso-8859-6",
	charmap.ISO8859_7:         "iso-8859-7",
	charmap.ISO8859_8:         "iso-8859-8",
	charmap.ISO8859_9:         "iso-8859-9",
	charmap.ISO8859_15:        "iso-8859-15",
	charmap.Windows1252:       "windows-1252",
	simplifiedchinese.GB18030: "gb18030",
	traditionalchinese.Big5:   "big5",
	korean.EUCKR:              "euc-kr",
	japanese.ISO2022JP:        "iso-2022-jp",
	japanese.ShiftJIS:         "shift_jis",
}

// decode returns raw as UTF-8, names the decoding used and returns the
// single-byte character set the bytes were read in (nil when they are
// ASCII or UTF-8 as received, or were read in a multi-byte set): a
// character set switch to an 8-bit set (\C2D41\) recovers the bytes as
// received through it. The returned slice is raw itself when it was ASCII
// or valid UTF-8 already (the caller copies it), otherwise a new buffer.
//
// alternates is set when MSH-18 repeats: the message may then switch
// character sets with ISO 2022 escape sequences written as raw ESC bytes
// (as Japanese systems do, MSH-18 "~ISO IR87" with MSH-20 "ISO 2022-1994"),
// which must be decoded before the delimiters are found, because the
// bytes of a 7-bit double-byte set include '^', '&', '|' and '\'.
//
// Bytes that are neither ASCII nor UTF-8 in a message labelled UTF-8 or
// ASCII, or not labelled, are read as windows-1252 one by one, the
// message's UTF-8 staying UTF-8; all of it is read as windows-1252 only
// when its text may switch to another set (alternates, or esc, its escape
// character, before a C or M), whose bytes are recovered from that reading.
func decode(raw []byte, label []byte, alternates bool, esc byte) ([]byte, string, *charmap.Charmap, error) {
	ascii := isASCII(raw)
	// Unknown labels (UTF-16 and UTF-32 included: they cannot be carried in
	// an 8-bit stream, so a readable MSH proves the label wrong) are read
	// like an unlabelled message (Message.CharsetError reports it when
	// that reading is a guess).
	enc, _ := lookupCharset(label)
	if alternates && (enc == nil || isSingleByte(enc)) && bytes.IndexByte(raw, asciiEsc) >= 0 {
		out, base := decodeISO2022(raw, enc)
		return out, "iso-2022", base, nil
	}
	if ascii && (enc == nil || isASCIICompatible(enc)) {
		return raw, "ascii", nil, nil
	}
	if enc == nil { // UTF-8, ASCII, absent or unknown label
		if utf8.Valid(raw) {
			return raw, "utf-8", nil, nil
		}
		if alternates || mayEscapeSwitch(raw, esc) {
			// Text a switch to an 8-bit set (\M242943\ EUC-KR) makes
			// of the bytes is recovered from windows-1252 (see
			// recoverBytes), which must then have read every byte.
			out, err := charmap.Windows1252.NewDecoder().Bytes(raw)
			if err != nil {
				return nil, "", nil, fmt.Errorf("decoding as windows-1252: %w", err)
			}
			return out, fallback, charmap.Windows1252, nil
		}
		// A byte that is not UTF-8 does not make the rest of the
		// message windows-1252: a name in UTF-8 beside a note with a
		// cp1252 quote (0x92) stays the name it is.
		return appendUTF8OrCP1252(make([]byte, 0, len(raw)+len(raw)/2), raw), fallback, charmap.Windows1252, nil
	}
	if isSingleByte(enc) && utf8.Valid(raw) {
		// Not ASCII, yet valid UTF-8 throughout: a sender moved to
		// UTF-8 that kept its old label. Text in a single-byte set is
		// practically never so (every byte from 0x80 up in a valid
		// sequence: in Latin-1, an accented capital, then a symbol or
		// a C1 control), and read in the label's set it is mojibake
		// (Müller as MÃ¼ller).
		return raw, "utf-8", nil, nil
	}
	if enc == charmap.ISO8859_1 && hasC1(raw) {
		// Latin-1 has only C1 control characters at 0x80–0x9F, which no
		// sender means to send; a Windows system that labels its cp1252
		// 8859/1 does (’ “ ” €). Read as Latin-1 they would be invisible
		// characters in a patient's name. cp1252 is Latin-1 with letters
		// there, so it reads such a message right (as browsers do).
		enc = charmap.Windows1252
		out, err := enc.NewDecoder().Bytes(raw)
		if err != nil {
			return nil, "", nil, fmt.Errorf("decoding as windows-1252: %w", err)
		}
		return out, fallback, charmap.Windows1252, nil
	}
	out, err := enc.NewDecoder().Bytes(raw)
	if err != nil {
		fb, ferr := charmap.Windows1252.NewDecoder().Bytes(raw)
		if ferr != nil {
			return nil, "", nil, fmt.Errorf("decoding as %s: %w", string(label), err)
		}
		return fb, fallback, charmap.Windows1252, nil
	}
	cm, _ := enc.(*charmap.Charmap)
	return out, charsetNames[enc], cm, nil
}

// fallback is the decoding of bytes that are not valid in the labelled (or
// default) character set, or of a message that has no label.
const fallback = "windows-1252 (fallback)"

// mayEscapeSwitch reports whether raw holds what may be a character set
// switch (\Cxxyy\, \Mxxyyzz\) written with the escape character esc.
func mayEscapeSwitch(raw []byte, esc byte) bool {
	if esc == 0 {
		return false
	}
	for {
		i := bytes.IndexByte(raw, esc)
		if i < 0 || i+1 >= len(raw) {
			return false
		}
		if raw[i+1] == 'C' || raw[i+1] == 'M' {
			return true
		}
		raw = raw[i+1:]
	}
}

// appendUTF8OrCP1252 appends b as UTF-8: its UTF-8 sequences as they are,
// and each byte that is not part of one read as windows-1252. Text that
// is not UTF-8 is that byte by byte: a message labelled UTF-8 (or none)
// whose names are UTF-8 may hold a byte from a Windows program, and read
// whole as windows-1252 every one of its names would be mojibake (José
// as JosÃ©), while windows-1252 text practically never holds a valid
// multi-byte sequence (an accented capital right before a symbol).
func appendUTF8OrCP1252(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, charmap.Windows1252.DecodeByte(c))
		} else {
			dst = append(dst, b[i:i+n]...)
		}
		i += n
	}
	return dst
}

// CharsetError reports text of the message that ferry cannot read with
// confidence: an MSH-18 label it does not know on bytes that are neither
// ASCII nor UTF-8 (read, as an unlabelled message's are, as windows-1252,
// which for the sender's set gives other letters: KOI8-R Петров reads
// ðÅÔÒÏ×), or else a character set switch CharsetSwitchError reports. A
// converter should refuse the message rather than pass that text on. The
// error is a *ParseError naming the field; nil when all can be read.
func (m *Message) CharsetError() error {
	if m.guessed {
		// The label's start names it: one of a great many bytes (a
		// sender's bug) would make the reason, logged and listed,
		// four times that (%q writes \x9f for such a byte).
		label := m.charset
		if len(label) > 64 {
			label = label[:64] + "..."
		}
		return &ParseError{Segment: 1, Name: "MSH", Field: 18, Reason: fmt.Sprintf("character set %q: not one ferry knows (HL7 table 0211: ASCII, 8859/1 to 8859/9, 8859/15, UNICODE UTF-8, ...), and the message holds bytes that are neither ASCII nor UTF-8, which read in a guessed character set would be other letters", label)}
	}
	return m.CharsetSwitchError()
}

// hasC1 reports whether b holds a byte in 0x80–0x9F, a C1 control in
// ISO 8859.
func hasC1(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 && c <= 0x9f {
			return true
		}
	}
	return false
}

// isSingleByte reports whether e is one of the single-byte (ISO 8859,
// windows) character sets.
func isSingleByte(e encoding.Encoding) bool {
	_, ok := e.(*charmap.Charmap)
	return ok
}

// isASCII reports whether b holds only 7-bit bytes, eight at a time: it
// runs over every message Parse reads.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// lookupCharset is charsets[strings.ToUpper(strings.TrimSpace(label))],
// and whether the label is known: empty or HL7's explicit null `""`
// (unlabelled), or in charsets. An
// ASCII label (all of table 0211) is upper-cased in a stack buffer, so the
// lookup does not allocate.
func lookupCharset(label []byte) (encoding.Encoding, bool) {
	var stack [32]byte
	if len(label) > len(stack) || !isASCII(label) {
		up := strings.ToUpper(strings.TrimSpace(string(label)))
		enc, ok := charsets[up]
		return enc, ok || up == "" || up == `""`
	}
	up := stack[:len(label)]
	for i, c := range label {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	up = bytes.TrimSpace(up)
	enc, ok := charsets[string(up)]
	return enc, ok || len(up) == 0 || string(up) == `""`
}

// isASCIICompatible reports whether pure 7-bit input decodes to itself.
// ISO-2022-JP uses 7-bit escape sequences, so it must always be decoded.
func isASCIICompatible(e encoding.Encoding) bool { return e != japanese.ISO2022JP }

// Shift_JIS, Big5 and GB18030 write a character in two (GB18030: two or
// four) bytes whose second may be an ASCII byte, the field separator '|'
// among them: Shift_JIS "ポ" is 0x83 0x7C. The header has to be split
// before it is decoded (MSH-18 says how to decode), so a header in one
// of these sets is split by its characters, not by its bytes.
var doubleByteSets = [...]encoding.Encoding{japanese.ShiftJIS, traditionalchinese.Big5, simplifiedchinese.GB18030}

// charLen is the length in bytes of the character b starts with in e, one
// of doubleByteSets (nil: one byte each), at most len(b).
func charLen(e encoding.Encoding, b []byte) int {
	return min(charNeed(e, b), len(b))
}

// charNeed is charLen before it is cut to len(b): what the first byte,
// and for GB18030 the second, say the character's length is.
func charNeed(e encoding.Encoding, b []byte) int {
	c, n := b[0], 1
	switch e {
	case japanese.ShiftJIS:
		if c >= 0x81 && c <= 0x9f || c >= 0xe0 && c <= 0xfc {
			n = 2
		}
	case traditionalchinese.Big5:
		if c >= 0x81 && c <= 0xfe {
			n = 2
		}
	case simplifiedchinese.GB18030:
		if c >= 0x81 && c <= 0xfe {
			n = 2
			if len(b) > 1 && b[1] >= '0' && b[1] <= '9' {
				n = 4
			}
		}
	}
	return n
}

// indexSep is bytes.IndexByte(b, sep) for text in e: a sep byte inside
// a character is not one.
func indexSep(b []byte, sep byte, e encoding.Encoding) int {
	if e == nil {
		return bytes.IndexByte(b, sep)
	}
	if e == iso2022Header {
		return indexISO2022(b, sep)
	}
	for i := 0; i < len(b); i += charLen(e, b[i:]) {
		if b[i] == sep {
			return i
		}
	}
	return -1
}

// pieceSep is nthSep for text in e.
func pieceSep(b []byte, sep byte, n int, e encoding.Encoding) []byte {
	for ; n > 0; n-- {
		i := indexSep(b, sep, e)
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	if i := indexSep(b, sep, e); i >= 0 {
		return b[:i]
	}
	return b
}

// headerSet returns the set of doubleByteSets whose rules a header line
// (from "MSH", one line) is to be split by: the one its MSH-18, read by
// that set's rules, names; iso2022Header for a header that Parse reads
// with its raw ISO 2022 designations (see switchesRaw); nil for any other
// header. enc is MSH-2: the label ends at its component or repetition
// separator.
func headerSet(line []byte, fs byte, enc []byte) encoding.Encoding {
	if bytes.IndexByte(line, asciiEsc) >= 0 && switchesRaw(line, fs, enc) {
		return iso2022Header
	}
	if isASCII(line) {
		return nil
	}
	for _, e := range doubleByteSets {
		label := pieceSep(line, fs, 17, e)
		for i, c := range label {
			if bytes.IndexByte(enc[:min(len(enc), 2)], c) >= 0 {
				label = label[:i]
				break
			}
		}
		if got, _ := lookupCharset(label); got == e {
			return e
		}
	}
	return nil
}

// wholeChars is s without a last character of e (one of doubleByteSets)
// cut short.
func wholeChars(e encoding.Encoding, s string) string {
	for i := 0; i < len(s); {
		n := charNeed(e, []byte(s[i:min(i+2, len(s))]))
		if i+n > len(s) {
			return s[:i]
		}
		i += n
	}
	return s
}

// iso2022Header stands, where headerSet and indexSep take a set, for a
// header whose text switches character sets with raw ISO 2022
// designations (ESC $ B ... ESC ( B): a JIS X 0208 character's bytes may
// be '|' or '^' (奥 is 0x31 0x7C), which are then no delimiters.
var iso2022Header encoding.Encoding = japanese.ISO2022JP

// switchesRaw reports whether Parse reads line, a header holding ESC
// bytes, by its ISO 2022 designations: MSH-18, found as those rules
// split the line, names ISO-2022-JP (ISO IR87, ISO IR159) as the default
// set, or repeats (alternate sets) after a single-byte, UTF-8 or unknown
// default (see decode).
func switchesRaw(line []byte, fs byte, enc []byte) bool {
	label := pieceSep(line, fs, 17, iso2022Header)
	reps := len(enc) > 1 && bytes.IndexByte(label, enc[1]) >= 0
	for i, c := range label {
		if bytes.IndexByte(enc[:min(len(enc), 2)], c) >= 0 {
			label = label[:i]
			break
		}
	}
	e, _ := lookupCharset(label)
	return e == japanese.ISO2022JP || reps && (e == nil || isSingleByte(e))
}

// indexISO2022 is indexSep for text with raw ISO 2022 designations: a
// byte of a run in a set whose bytes are not ASCII characters (JIS X
// 0208 and 0212, JIS X 0201 katakana, the 7-bit double-byte sets) is
// part of a character, not a separator. Designations that Parse does not
// know end a run, as they do there (decodeISO2022).
func indexISO2022(b []byte, sep byte) int {
	var cur *gset
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == asciiEsc:
			g, n := designationAt(b[i+1:])
			cur = g
			i += n
		case c == sep && !cur.literal():
			return i
		}
	}
	return -1
}

// echoISO2022 is dropControls for a field of a header with raw ISO 2022
// designations: the ESC of each designation it knows is kept, so that the
// ACK, which declares the same MSH-18 and MSH-20, carries the field as
// the message wrote it, and a field that ends in another set than ASCII
// switches back to it (ESC ( B), so the ACK's next field reads as ASCII.
func echoISO2022(s string) string {
	b := make([]byte, 0, len(s)+3)
	var cur *gset
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == asciiEsc {
			if g, n := designationAt([]byte(s[i+1:])); g != nil {
				b = append(b, s[i:i+1+n]...)
				cur = g
				i += n
				continue
			}
		}
		if c >= ' ' && c != 0x7f {
			b = append(b, c)
		}
	}
	if cur != nil && cur.how != runDefault {
		b = append(b, asciiEsc, '(', 'B')
	}
	return string(b)
}
