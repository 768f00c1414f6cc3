package faxfhir

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"regexp"
	"strconv"

	"github.com/ferry-health/ferry/queue"
)

// pdfOpens refuses, with ErrPDFEncrypted, a PDF that opens only with a
// password. Its trailer (ISO 32000-1 7.5.5; the dictionary of the
// cross-reference stream, 7.5.8) names an encryption dictionary when the
// document is encrypted; with the standard security handler (7.6.3) a
// document opens without a password when the empty user password is the
// right one (Algorithms 6 and 11 of ISO 32000-2 7.6.4.4), as with an
// owner password that only restricts printing or copying. A PDF whose
// trailer cannot be found is left to the exchange, as before.
func pdfOpens(in Input) error {
	trailer, err := pdfTrailer(in)
	if err != nil {
		// Not "no trailer", nor "no dictionary": the file could not be
		// read (a share that dropped), and is read again later.
		return fmt.Errorf("fax %s: read: %w", in.Name, err)
	}
	if trailer == nil {
		return nil
	}
	enc, ok := trailer["Encrypt"]
	if !ok {
		return nil
	}
	refused := queue.Permanent(fmt.Errorf("fax %s: %w", in.Name, ErrPDFEncrypted))
	if ref, ok := enc.(pdfRef); ok {
		if enc, err = pdfObject(in, ref); err != nil {
			return fmt.Errorf("fax %s: read: %w", in.Name, err)
		}
	}
	dict, ok := enc.(pdfDict)
	if !ok {
		return refused
	}
	var id []byte
	if ids, ok := trailer["ID"].(pdfArray); ok && len(ids) > 0 {
		id, _ = ids[0].(pdfString)
	}
	if !emptyUserPassword(dict, id) {
		return refused
	}
	return nil
}

// pdfTrailer reads the trailer dictionary the last startxref points to:
// the trailer after the cross-reference table there, or the
// cross-reference stream's own dictionary. That is not always the last
// trailer in the file: a linearized file's startxref names the first-page
// table near its start, whose trailer holds /Root and /Encrypt, while the
// main trailer at the end need hold only /Size (ISO 32000-1 Annex F). When
// startxref names neither (offsets a mail gateway shifted), the last
// trailer before it is taken. nil when none can be found or parsed; err
// when the file could not be read.
func pdfTrailer(in Input) (pdfDict, error) {
	tail := make([]byte, min(in.Size, 4096))
	if _, err := in.R.ReadAt(tail, in.Size-int64(len(tail))); err != nil && err != io.EOF {
		return nil, err
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return nil, nil
	}
	if f := bytes.Fields(tail[i+len("startxref"):]); len(f) > 0 {
		if off, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil && off >= 0 && off < in.Size {
			d, err := pdfTrailerAt(in, off)
			if err != nil || d != nil {
				return d, err
			}
		}
	}
	if t := bytes.LastIndex(tail[:i], []byte("trailer")); t >= 0 {
		d, _ := (&pdfLexer{b: tail[t+len("trailer") : i]}).object(0).(pdfDict)
		return d, nil
	}
	return nil, nil
}

// xrefStreamAt matches the start of a cross-reference stream object.
var xrefStreamAt = regexp.MustCompile(`^\s*\d+\s+\d+\s+obj\b`)

// pdfTrailerAt reads the trailer of the cross-reference section at off:
// the dictionary after the "trailer" that ends a table (which holds only
// digits, "f" and "n" before it), or a cross-reference stream's. nil when
// off starts neither.
func pdfTrailerAt(in Input, off int64) (pdfDict, error) {
	head := make([]byte, min(in.Size-off, 4096))
	if _, err := in.R.ReadAt(head, off); err != nil && err != io.EOF {
		return nil, err
	}
	if m := xrefStreamAt.FindIndex(head); m != nil {
		d, _ := (&pdfLexer{b: head[m[1]:]}).object(0).(pdfDict)
		if d["Type"] != pdfName("XRef") {
			return nil, nil
		}
		return d, nil
	}
	if !bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n\f\x00"), []byte("xref")) {
		return nil, nil
	}
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	for at := off; at < in.Size; at += chunk - int64(len("trailer")) {
		n, err := in.R.ReadAt(buf[:min(int64(chunk), in.Size-at)], at)
		if err != nil && err != io.EOF {
			return nil, err
		}
		if t := bytes.Index(buf[:n], []byte("trailer")); t >= 0 {
			b := make([]byte, min(in.Size-(at+int64(t)), 4096))
			if _, err := in.R.ReadAt(b, at+int64(t)); err != nil && err != io.EOF {
				return nil, err
			}
			d, _ := (&pdfLexer{b: b[len("trailer"):]}).object(0).(pdfDict)
			return d, nil
		}
		if at+int64(n) >= in.Size {
			break
		}
	}
	return nil, nil
}

// pdfObject finds the indirect object ref by its "num gen obj" (the last
// in the file, as incremental updates leave it) and reads it. The
// encryption dictionary is never in an object stream (ISO 32000-1
// 7.5.7). nil when it is not found; err when the file could not be read.
func pdfObject(in Input, ref pdfRef) (any, error) {
	// The byte before the number must be seen not to be a digit, so
	// each piece is read from the byte before it: the start of a piece
	// is no such place ("12 0 obj" cut before its "2" is not object 2),
	// and no object starts a PDF, which begins with "%PDF-".
	re := regexp.MustCompile(fmt.Sprintf(`[^0-9]%d\s+%d\s+obj\b`, ref.num, ref.gen))
	const chunk, overlap = 1 << 20, 64
	var at int64 = -1
	buf := make([]byte, chunk+overlap)
	for off := int64(0); off < in.Size; off += chunk {
		from := max(off-1, 0)
		n, err := in.R.ReadAt(buf[:min(int64(len(buf)), in.Size-from)], from)
		if err != nil && err != io.EOF {
			return nil, err
		}
		if locs := re.FindAllIndex(buf[:n], -1); len(locs) > 0 {
			at = from + int64(locs[len(locs)-1][1])
		}
	}
	if at < 0 {
		return nil, nil
	}
	b := make([]byte, min(in.Size-at, 4096))
	if _, err := in.R.ReadAt(b, at); err != nil && err != io.EOF {
		return nil, err
	}
	return (&pdfLexer{b: b}).object(0), nil
}

// passwordPad pads a password to 32 bytes (ISO 32000-1 7.6.3.3,
// Algorithm 2 step a): for the empty password, the whole of it.
var passwordPad = []byte{0x28, 0xbf, 0x4e, 0x5e, 0x4e, 0x75, 0x8a, 0x41, 0x64, 0x00, 0x4e, 0x56, 0xff, 0xfa, 0x01, 0x08,
	0x2e, 0x2e, 0x00, 0xb6, 0xd0, 0x68, 0x3e, 0x80, 0x2f, 0x0c, 0xa9, 0xfe, 0x64, 0x53, 0x69, 0x7a}

// emptyUserPassword reports whether the standard security handler of
// dict accepts the empty user password for a document of file
// identifier id. Any other handler (a certificate's, /Adobe.PubSec)
// needs what only its recipients hold.
func emptyUserPassword(dict pdfDict, id []byte) bool {
	if f, _ := dict["Filter"].(pdfName); f != "Standard" {
		return false
	}
	r, _ := dict["R"].(int64)
	o, _ := dict["O"].(pdfString)
	u, _ := dict["U"].(pdfString)
	switch {
	case r >= 2 && r <= 4 && len(o) >= 32 && len(u) >= 16:
		// Algorithm 2: the file key from the empty password.
		n := 5
		if r >= 3 {
			l, ok := dict["Length"].(int64)
			if !ok {
				l = 40
			}
			if v, _ := dict["V"].(int64); v == 4 {
				l = v4KeyBits(dict)
			}
			n = int(l / 8)
		}
		if n < 5 || n > 16 {
			return false
		}
		p, _ := dict["P"].(int64)
		h := md5.New()
		h.Write(passwordPad)
		h.Write(o[:32])
		binary.Write(h, binary.LittleEndian, uint32(p))
		h.Write(id)
		if em, ok := dict["EncryptMetadata"].(bool); r >= 4 && ok && !em {
			h.Write([]byte{0xff, 0xff, 0xff, 0xff})
		}
		key := h.Sum(nil)
		if r >= 3 {
			for range 50 {
				s := md5.Sum(key[:n])
				key = s[:]
			}
		}
		key = key[:n]
		if r == 2 {
			// Algorithm 4: U is the padding encrypted with the key.
			return len(u) >= 32 && bytes.Equal(rc4Of(key, passwordPad), u[:32])
		}
		// Algorithm 5: the padding and the identifier, hashed,
		// encrypted with the key and 19 keys made from it.
		s := md5.Sum(append(append([]byte(nil), passwordPad...), id...))
		x := rc4Of(key, s[:])
		k := make([]byte, n)
		for i := 1; i <= 19; i++ {
			for j := range key {
				k[j] = key[j] ^ byte(i)
			}
			x = rc4Of(k, x)
		}
		return bytes.Equal(x, u[:16])
	case (r == 5 || r == 6) && len(u) >= 40:
		// Algorithm 11: U's first 32 bytes are the hash of the
		// password and U's validation salt.
		salt := u[32:40]
		if r == 5 {
			s := sha256.Sum256(salt)
			return bytes.Equal(s[:], u[:32])
		}
		return bytes.Equal(hash2B(nil, salt, nil), u[:32])
	}
	return false
}

// v4KeyBits is the length in bits of the file key of a V 4 document,
// whose dictionary's /Length is for V 2 and 3 only (ISO 32000-1 Table
// 20): its default crypt filter's /Length, which the standard handler
// gives in bytes (Table 25: "16 means 128"; some writers give bits), else
// the dictionary's /Length, else 128, AESV2's key.
func v4KeyBits(dict pdfDict) int64 {
	cf, _ := dict["CF"].(pdfDict)
	stmF, _ := dict["StmF"].(pdfName)
	if f, ok := cf[string(stmF)].(pdfDict); ok {
		if l, ok := f["Length"].(int64); ok {
			if l <= 16 {
				l *= 8
			}
			return l
		}
	}
	if l, ok := dict["Length"].(int64); ok {
		return l
	}
	return 128
}

func rc4Of(key, src []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		return nil
	}
	out := make([]byte, len(src))
	c.XORKeyStream(out, src)
	return out
}

// hash2B is ISO 32000-2's Algorithm 2.B, the hash of revision 6.
func hash2B(password, salt, udata []byte) []byte {
	s := sha256.Sum256(append(append(append([]byte(nil), password...), salt...), udata...))
	k := s[:]
	var e []byte
	for i := 0; i < 64 || int(e[len(e)-1]) > i-32; i++ {
		k1 := bytes.Repeat(append(append(append([]byte(nil), password...), k...), udata...), 64)
		block, err := aes.NewCipher(k[:16])
		if err != nil {
			return nil
		}
		e = make([]byte, len(k1))
		cipher.NewCBCEncrypter(block, k[16:32]).CryptBlocks(e, k1)
		sum := 0
		for _, c := range e[:16] {
			sum += int(c)
		}
		var h hash.Hash
		switch sum % 3 {
		case 0:
			h = sha256.New()
		case 1:
			h = sha512.New384()
		default:
			h = sha512.New()
		}
		h.Write(e)
		k = h.Sum(nil)
	}
	return k[:32]
}

// The PDF objects pdfLexer reads (ISO 32000-1 7.3).
type (
	pdfDict   map[string]any
	pdfArray  []any
	pdfString []byte
	pdfName   string
	pdfRef    struct{ num, gen int64 }
)

// pdfLexer reads PDF objects from b: enough of the syntax for a trailer
// and an encryption dictionary.
type pdfLexer struct {
	b []byte
	i int
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0
}

func isPDFDelim(c byte) bool { return bytes.IndexByte([]byte("()<>[]{}/%"), c) >= 0 }

func (l *pdfLexer) skip() {
	for l.i < len(l.b) {
		switch c := l.b[l.i]; {
		case isPDFSpace(c):
			l.i++
		case c == '%':
			for l.i < len(l.b) && l.b[l.i] != '\n' && l.b[l.i] != '\r' {
				l.i++
			}
		default:
			return
		}
	}
}

// regular reads a run of regular characters (a number, a keyword, a
// name's text).
func (l *pdfLexer) regular() string {
	start := l.i
	for l.i < len(l.b) && !isPDFSpace(l.b[l.i]) && !isPDFDelim(l.b[l.i]) {
		l.i++
	}
	return string(l.b[start:l.i])
}

// object reads one object; nil when there is none it can read. depth
// bounds the nesting.
func (l *pdfLexer) object(depth int) any {
	l.skip()
	if l.i >= len(l.b) || depth > 32 {
		return nil
	}
	switch c := l.b[l.i]; {
	case c == '/':
		l.i++
		return pdfName(l.regular())
	case c == '<' && l.i+1 < len(l.b) && l.b[l.i+1] == '<':
		l.i += 2
		d := pdfDict{}
		for {
			l.skip()
			if l.i+1 < len(l.b) && l.b[l.i] == '>' && l.b[l.i+1] == '>' {
				l.i += 2
				return d
			}
			k, ok := l.object(depth + 1).(pdfName)
			if !ok {
				return nil
			}
			d[string(k)] = l.object(depth + 1)
		}
	case c == '<':
		l.i++
		end := bytes.IndexByte(l.b[l.i:], '>')
		if end < 0 {
			return nil
		}
		var hex []byte
		for _, h := range l.b[l.i : l.i+end] {
			if !isPDFSpace(h) {
				hex = append(hex, h)
			}
		}
		l.i += end + 1
		if len(hex)%2 == 1 {
			hex = append(hex, '0')
		}
		out := make([]byte, len(hex)/2)
		for j := range out {
			v, err := strconv.ParseUint(string(hex[2*j:2*j+2]), 16, 8)
			if err != nil {
				return nil
			}
			out[j] = byte(v)
		}
		return pdfString(out)
	case c == '(':
		return l.literal()
	case c == '[':
		l.i++
		var a pdfArray
		for {
			l.skip()
			if l.i >= len(l.b) {
				return nil
			}
			if l.b[l.i] == ']' {
				l.i++
				return a
			}
			v := l.object(depth + 1)
			if v == nil {
				return nil
			}
			a = append(a, v)
		}
	}
	tok := l.regular()
	switch tok {
	case "true":
		return true
	case "false":
		return false
	case "":
		l.i++ // a delimiter out of place
		return nil
	}
	n, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		if f, err := strconv.ParseFloat(tok, 64); err == nil {
			return f
		}
		return pdfName("") // null or another keyword: no value ferry reads
	}
	// "num gen R" is a reference.
	save := l.i
	l.skip()
	if g, err := strconv.ParseInt(l.regular(), 10, 64); err == nil {
		l.skip()
		if l.regular() == "R" {
			return pdfRef{n, g}
		}
	}
	l.i = save
	return n
}

// literal reads a literal string (ISO 32000-1 7.3.4.2): balanced
// parentheses, backslash escapes, octal codes.
func (l *pdfLexer) literal() any {
	l.i++
	var out []byte
	nest := 0
	for l.i < len(l.b) {
		c := l.b[l.i]
		l.i++
		switch c {
		case '(':
			nest++
		case ')':
			if nest == 0 {
				return pdfString(out)
			}
			nest--
		case '\\':
			if l.i >= len(l.b) {
				return nil
			}
			e := l.b[l.i]
			l.i++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.i < len(l.b) && l.b[l.i] == '\n' {
					l.i++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.i < len(l.b) && l.b[l.i] >= '0' && l.b[l.i] <= '7'; k++ {
						v = v*8 + int(l.b[l.i]-'0')
						l.i++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return nil
}
