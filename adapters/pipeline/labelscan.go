package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// labelScanner reads a FHIR JSON bundle once, front to back, for the
// security labels Policy holds (see Policy.Held): every meta.security,
// at any depth, and a DocumentReference's securityLabel. It is a small
// hand-written JSON scanner rather than encoding/json because a spilled
// bundle may carry a base64 attachment of hundreds of MB: a json.Decoder
// token would allocate each such string whole, while this scanner skips
// the contents of every string it does not need, a buffer at a time. The
// only strings it keeps are object keys and label system/code values,
// each cut off at maxKept bytes (no key or label is that long). Memory is
// the read buffer plus those, whatever the bundle's size.
type labelScanner struct {
	p     Policy
	r     io.Reader // nil: buf holds the whole input
	buf   []byte
	pos   int
	end   int
	err   error // the reader's error, once it returned one
	depth int
	str   []byte // a kept string being decoded, reused
	// collect, when not nil, gathers every label instead of matching
	// the policy's: the scan then holds nothing and reads to the end
	// (deepLabels).
	collect *[]fhir.Coding
}

const (
	// maxKept bounds a kept string; a longer one is tooLong.
	maxKept = 1024
	// maxDepth bounds nesting, as encoding/json does, so that a hostile
	// file cannot grow the stack without end.
	maxDepth = 10000
	// tooLong stands for a kept string longer than maxKept: it matches
	// no key and no label.
	tooLong = "\x00too long"
)

var errLabelSyntax = errors.New("read security labels: invalid JSON")

// securityCoding is one label: a Coding's system and code.
type securityCoding struct{ system, code string }

func newLabelScannerBytes(p Policy, b []byte) *labelScanner {
	return &labelScanner{p: p, buf: b, end: len(b)}
}

func newLabelScannerReader(p Policy, r io.Reader) *labelScanner {
	return &labelScanner{p: p, r: r, buf: make([]byte, 64<<10)}
}

// deepLabels are the security labels of bundle, a FHIR JSON resource or
// Bundle in memory, at every depth the policy reads them (meta.security
// of every resource, however nested, and a DocumentReference's
// securityLabel), each as its system and code; none when the bundle
// cannot be read.
func deepLabels(bundle []byte) []fhir.Coding {
	var out []fhir.Coding
	s := newLabelScannerBytes(Policy{}, bundle)
	s.collect = &out
	if _, _, err := s.held(); err != nil {
		return nil
	}
	return out
}

// match reports whether the policy holds label c, and by which code; in a
// scan that collects (deepLabels) it keeps c and holds nothing.
func (s *labelScanner) match(c securityCoding) (string, bool) {
	if s.collect != nil {
		*s.collect = append(*s.collect, fhir.Coding{System: c.system, Code: c.code})
		return "", false
	}
	return s.p.matchCode(c.system, c.code)
}

// held scans the bundle: the label that holds it, or an error when it
// cannot be read (the caller holds it then: when in doubt, nothing
// leaves). Scanning stops at the first held label.
func (s *labelScanner) held() (string, bool, error) {
	c, err := s.nonSpace()
	if err != nil || c != '{' {
		return "", false, errors.New("read security labels: not a JSON object")
	}
	s.pos++
	return s.object()
}

// fill reads more input once buf[pos:end] is used up; false at the end
// of the input (s.err then says whether it ended well).
func (s *labelScanner) fill() bool {
	if s.pos < s.end {
		return true
	}
	if s.r == nil || s.err != nil {
		return false
	}
	for {
		n, err := s.r.Read(s.buf)
		s.pos, s.end = 0, n
		if err != nil {
			s.err = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// fail is the error for input that stopped or went wrong at this point.
func (s *labelScanner) fail() error {
	if s.err != nil && !errors.Is(s.err, io.EOF) {
		return fmt.Errorf("read security labels: %w", s.err)
	}
	if !s.fill() {
		return fmt.Errorf("read security labels: %w", io.ErrUnexpectedEOF)
	}
	return errLabelSyntax
}

// nonSpace skips white space and returns the next byte, unread.
func (s *labelScanner) nonSpace() (byte, error) {
	for s.fill() {
		switch c := s.buf[s.pos]; c {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return c, nil
		}
	}
	return 0, s.fail()
}

// expect consumes the next non-space byte, which must be c.
func (s *labelScanner) expect(c byte) error {
	got, err := s.nonSpace()
	if err != nil {
		return err
	}
	if got != c {
		return errLabelSyntax
	}
	s.pos++
	return nil
}

// enter and leave track nesting.
func (s *labelScanner) enter() error {
	if s.depth++; s.depth > maxDepth {
		return errors.New("read security labels: nested too deep")
	}
	return nil
}

func (s *labelScanner) leave() { s.depth-- }

// members calls f for each member of the object whose '{' was read, with
// the key; f must consume the value.
func (s *labelScanner) members(f func(key string) (stop bool, err error)) (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.leave()
	c, err := s.nonSpace()
	if err != nil {
		return false, err
	}
	if c == '}' {
		s.pos++
		return false, nil
	}
	for {
		if err := s.expect('"'); err != nil {
			return false, err
		}
		key, err := s.keep()
		if err != nil {
			return false, err
		}
		if err := s.expect(':'); err != nil {
			return false, err
		}
		if stop, err := f(key); err != nil || stop {
			return stop, err
		}
		c, err := s.nonSpace()
		if err != nil {
			return false, err
		}
		s.pos++
		switch c {
		case ',':
		case '}':
			return false, nil
		default:
			return false, errLabelSyntax
		}
	}
}

// elements calls f for each element of the array whose '[' was read; f
// must consume the element.
func (s *labelScanner) elements(f func() (stop bool, err error)) (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.leave()
	c, err := s.nonSpace()
	if err != nil {
		return false, err
	}
	if c == ']' {
		s.pos++
		return false, nil
	}
	for {
		if stop, err := f(); err != nil || stop {
			return stop, err
		}
		c, err := s.nonSpace()
		if err != nil {
			return false, err
		}
		s.pos++
		switch c {
		case ',':
		case ']':
			return false, nil
		default:
			return false, errLabelSyntax
		}
	}
}

// object scans an object whose '{' was read: its meta.security, a
// DocumentReference's securityLabel, and every value nested in it.
func (s *labelScanner) object() (string, bool, error) {
	var resourceType string
	var labels []securityCoding
	var labelsBad bool
	var label string
	held, err := s.members(func(key string) (bool, error) {
		switch key {
		case "meta":
			codes, err := s.meta()
			if err != nil {
				return false, err
			}
			for _, c := range codes {
				if l, ok := s.match(c); ok {
					label = l
					return true, nil
				}
			}
			return false, nil
		case "securityLabel":
			// Its codings count for a DocumentReference only, which the
			// resourceType (before or after it) says.
			var err error
			labels, labelsBad, err = s.securityLabel()
			return false, err
		case "resourceType":
			c, err := s.nonSpace()
			if err != nil {
				return false, err
			}
			if c == '"' {
				s.pos++
				resourceType, err = s.keep()
				return false, err
			}
		}
		l, h, err := s.value()
		label = l
		return h, err
	})
	if err != nil || held {
		return label, held, err
	}
	if resourceType == "DocumentReference" {
		if labelsBad {
			return "", false, errors.New("read security labels: DocumentReference.securityLabel is not a list of CodeableConcepts")
		}
		for _, c := range labels {
			if l, ok := s.match(c); ok {
				return l, true, nil
			}
		}
	}
	return "", false, nil
}

// value scans any JSON value for held labels.
func (s *labelScanner) value() (string, bool, error) {
	c, err := s.nonSpace()
	if err != nil {
		return "", false, err
	}
	switch c {
	case '{':
		s.pos++
		return s.object()
	case '[':
		s.pos++
		var label string
		held, err := s.elements(func() (bool, error) {
			l, h, err := s.value()
			label = l
			return h, err
		})
		return label, held, err
	}
	return "", false, s.scalar()
}

// skip consumes any JSON value without looking into it.
func (s *labelScanner) skip() error {
	c, err := s.nonSpace()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		s.pos++
		_, err := s.members(func(string) (bool, error) { return false, s.skip() })
		return err
	case '[':
		s.pos++
		_, err := s.elements(func() (bool, error) { return false, s.skip() })
		return err
	}
	return s.scalar()
}

// scalar consumes a string, number, true, false or null.
func (s *labelScanner) scalar() error {
	c, err := s.nonSpace()
	if err != nil {
		return err
	}
	switch {
	case c == '"':
		s.pos++
		return s.skipString()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return errLabelSyntax
}

func (s *labelScanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if !s.fill() {
			return s.fail()
		}
		if s.buf[s.pos] != word[i] {
			return errLabelSyntax
		}
		s.pos++
	}
	return nil
}

// number consumes the characters a JSON number is made of; their order is
// not checked (no label is a number).
func (s *labelScanner) number() error {
	n := 0
	for s.fill() {
		c := s.buf[s.pos]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		s.pos++
		n++
	}
	if n == 0 {
		return errLabelSyntax
	}
	return nil
}

// isNull consumes a null if one comes next.
func (s *labelScanner) isNull() (bool, error) {
	c, err := s.nonSpace()
	if err != nil || c != 'n' {
		return false, err
	}
	return true, s.literal("null")
}

// skipString consumes the rest of a string whose opening quote was read
// without keeping it: whole buffers of base64 pass through IndexByte.
// Control characters in it are not looked for: they cannot change where
// the string ends, which is all the labels depend on.
func (s *labelScanner) skipString() error {
	for s.fill() {
		b := s.buf[s.pos:s.end]
		q := bytes.IndexByte(b, '"')
		bs := bytes.IndexByte(b, '\\')
		switch {
		case bs >= 0 && (q < 0 || bs < q):
			s.pos += bs + 1
			if err := s.escape(nil); err != nil {
				return err
			}
		case q >= 0:
			s.pos += q + 1
			return nil
		default:
			s.pos = s.end
		}
	}
	return s.fail()
}

// keep reads the rest of a string whose opening quote was read, decoding
// escapes; tooLong when it is longer than maxKept.
func (s *labelScanner) keep() (string, error) {
	s.str = s.str[:0]
	for {
		if !s.fill() {
			return "", s.fail()
		}
		c := s.buf[s.pos]
		switch {
		case c == '"':
			s.pos++
			if len(s.str) > maxKept {
				return tooLong, nil
			}
			return string(s.str), nil
		case c == '\\':
			s.pos++
			if err := s.escape(&s.str); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", errLabelSyntax
		default:
			s.pos++
			if len(s.str) <= maxKept {
				s.str = append(s.str, c)
			}
		}
		if len(s.str) > maxKept {
			// Keep one byte too many to know, and skip the rest.
			if err := s.skipString(); err != nil {
				return "", err
			}
			return tooLong, nil
		}
	}
}

// escape consumes an escape after its backslash, appending what it
// stands for to *out when out is not nil.
func (s *labelScanner) escape(out *[]byte) error {
	if !s.fill() {
		return s.fail()
	}
	c := s.buf[s.pos]
	s.pos++
	var r rune
	switch c {
	case '"', '\\', '/':
		r = rune(c)
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		var err error
		if r, err = s.hex4(); err != nil {
			return err
		}
		if utf16.IsSurrogate(r) {
			// A pair is \uD8xx\uDCxx; a lone half is U+FFFD, as
			// encoding/json has it.
			if s.fill() && s.buf[s.pos] == '\\' {
				s.pos++
				if !s.fill() {
					return s.fail()
				}
				if s.buf[s.pos] != 'u' {
					if out != nil {
						*out = utf8.AppendRune(*out, utf8.RuneError)
					}
					return s.escape(out) // the escape after the lone half

				}
				s.pos++
				r2, err := s.hex4()
				if err != nil {
					return err
				}
				r = utf16.DecodeRune(r, r2)
			} else {
				r = utf8.RuneError
			}
		}
	default:
		return errLabelSyntax
	}
	if out != nil {
		*out = utf8.AppendRune(*out, r)
	}
	return nil
}

func (s *labelScanner) hex4() (rune, error) {
	var r rune
	for range 4 {
		if !s.fill() {
			return 0, s.fail()
		}
		c := s.buf[s.pos]
		s.pos++
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, errLabelSyntax
		}
	}
	return r, nil
}

// meta reads a meta object's security codings; nothing else in meta is
// looked into. meta, security and their codings must have the shapes
// FHIR gives them (null allowed), or the labels are unreadable.
func (s *labelScanner) meta() ([]securityCoding, error) {
	if null, err := s.isNull(); err != nil || null {
		return nil, err
	}
	if err := s.expect('{'); err != nil {
		return nil, errors.New("read security labels: meta is not an object")
	}
	var out []securityCoding
	_, err := s.members(func(key string) (bool, error) {
		if key != "security" {
			return false, s.skip()
		}
		if null, err := s.isNull(); err != nil || null {
			return false, err
		}
		if err := s.expect('['); err != nil {
			return false, errors.New("read security labels: meta.security is not a list")
		}
		_, err := s.elements(func() (bool, error) {
			c, ok, err := s.coding()
			if err != nil {
				return false, err
			}
			if !ok {
				return false, errors.New("read security labels: a meta.security entry is not a Coding")
			}
			out = append(out, c)
			return false, nil
		})
		return false, err
	})
	return out, err
}

// coding reads a Coding's system and code; ok is false (the value
// consumed) when it does not have a Coding's shape.
func (s *labelScanner) coding() (securityCoding, bool, error) {
	var c securityCoding
	if null, err := s.isNull(); err != nil || null {
		return c, true, err
	}
	if ch, err := s.nonSpace(); err != nil || ch != '{' {
		if err != nil {
			return c, false, err
		}
		return c, false, s.skip()
	}
	s.pos++
	ok := true
	_, err := s.members(func(key string) (bool, error) {
		var dst *string
		switch key {
		case "system":
			dst = &c.system
		case "code":
			dst = &c.code
		default:
			return false, s.skip()
		}
		ch, err := s.nonSpace()
		if err != nil {
			return false, err
		}
		switch ch {
		case '"':
			s.pos++
			*dst, err = s.keep()
			return false, err
		case 'n':
			return false, s.literal("null")
		}
		ok = false
		return false, s.skip()
	})
	return c, ok, err
}

// securityLabel reads a securityLabel (a list of CodeableConcepts) for
// its codings; bad reports a value of another shape, which matters only
// if the object turns out to be a DocumentReference.
func (s *labelScanner) securityLabel() (codes []securityCoding, bad bool, err error) {
	if null, err := s.isNull(); err != nil || null {
		return nil, false, err
	}
	if c, err := s.nonSpace(); err != nil || c != '[' {
		if err != nil {
			return nil, false, err
		}
		return nil, true, s.skip()
	}
	s.pos++
	_, err = s.elements(func() (bool, error) {
		if null, err := s.isNull(); err != nil || null {
			return false, err
		}
		if c, err := s.nonSpace(); err != nil || c != '{' {
			bad = true
			if err != nil {
				return false, err
			}
			return false, s.skip()
		}
		s.pos++
		_, err := s.members(func(key string) (bool, error) {
			if key != "coding" {
				return false, s.skip()
			}
			if null, err := s.isNull(); err != nil || null {
				return false, err
			}
			if c, err := s.nonSpace(); err != nil || c != '[' {
				bad = true
				if err != nil {
					return false, err
				}
				return false, s.skip()
			}
			s.pos++
			_, err := s.elements(func() (bool, error) {
				c, ok, err := s.coding()
				if !ok {
					bad = true
				}
				codes = append(codes, c)
				return false, err
			})
			return false, err
		})
		return false, err
	})
	return codes, bad, err
}
