package pipeline

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// statusCurrent, statusSuperseded and statusEnteredInError are the
// values SupersedeReplaced splices, as they stand in the JSON.
const statusCurrent, statusSuperseded, statusEnteredInError = `"current"`, `"superseded"`, `"entered-in-error"`

// maxCapture is the most bytes of a string token the scanner keeps: the
// keys and values it compares are short ("resourceType",
// "DocumentReference", even written with \u escapes), and a longer
// string (a document's base64 content, megabytes) is skipped unread.
const maxCapture = 128

// statusEdit is a status value statusEdits found: its offset and its
// length as it stands in the JSON, quotes included.
type statusEdit struct {
	at  int64
	len int
}

// statusEdits reads JSON from r and returns, ascending, the status
// values written as one of from (statusCurrent, statusSuperseded) of
// every object whose resourceType is DocumentReference, wherever it is
// nested. It streams: its memory does
// not grow with the document, so a bundle of tens of megabytes (a C-CDA
// or MDM with its PDF) held in a file is scanned without being read into
// memory. A value written with escapes (\u0063urrent) is not spliced:
// it is left as it is. Malformed JSON is an error.
func statusEdits(r io.Reader, from ...string) ([]statusEdit, error) {
	type frame struct {
		object    bool
		expectKey bool
		key       string
		docRef    bool
		status    statusEdit // a status value of from; at -1: none
	}
	s := &jsonScan{r: bufio.NewReaderSize(r, 64<<10)}
	var stack []*frame
	var edits []statusEdit
	top := func() *frame {
		if len(stack) == 0 {
			return nil
		}
		return stack[len(stack)-1]
	}
	// value is called for every scalar (a string's raw bytes captured, or
	// nil for a number or literal) with its start offset.
	value := func(raw []byte, start int64) error {
		f := top()
		if f == nil || !f.object {
			return nil
		}
		if f.expectKey {
			if raw == nil {
				return fmt.Errorf("offset %d: object key is not a string", start)
			}
			f.key, f.expectKey = decodeCaptured(raw), false
			return nil
		}
		f.expectKey = true
		if raw == nil {
			return nil
		}
		switch {
		case f.key == "resourceType" && decodeCaptured(raw) == "DocumentReference":
			f.docRef = true
		case f.key == "status" && slices.Contains(from, string(raw)):
			f.status = statusEdit{start, len(raw)}
		}
		return nil
	}
	for {
		c, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		start := s.off - 1
		switch {
		case c == '{' || c == '[':
			if f := top(); f != nil && f.object {
				if f.expectKey {
					return nil, fmt.Errorf("offset %d: object key is not a string", start)
				}
				f.expectKey = true // this container is the member's value
			}
			stack = append(stack, &frame{object: c == '{', expectKey: c == '{', status: statusEdit{at: -1}})
		case c == '}' || c == ']':
			f := top()
			if f == nil || f.object != (c == '}') {
				return nil, fmt.Errorf("offset %d: unexpected %q", start, c)
			}
			if f.docRef && f.status.at >= 0 {
				edits = append(edits, f.status)
			}
			stack = stack[:len(stack)-1]
		case c == ',' || c == ':':
		case c == '"':
			raw, err := s.str()
			if err != nil {
				return nil, err
			}
			if err := value(raw, start); err != nil {
				return nil, err
			}
		case c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z':
			if err := s.skipWord(); err != nil {
				return nil, err
			}
			if err := value(nil, start); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("offset %d: unexpected %q", start, c)
		}
	}
	if len(stack) > 0 {
		return nil, io.ErrUnexpectedEOF
	}
	// Objects close inner first; the offsets of siblings ascend.
	slices.SortFunc(edits, func(a, b statusEdit) int { return cmp.Compare(a.at, b.at) })
	return edits, nil
}

// decodeCaptured is a captured string token's value: its raw bytes when
// they hold no escape, decoded otherwise ("" when not captured or
// invalid, which matches nothing compared).
func decodeCaptured(raw []byte) string {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return ""
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v
}

// jsonScan reads JSON a byte at a time, counting the offset.
type jsonScan struct {
	r    *bufio.Reader
	off  int64
	capt [maxCapture]byte
}

// next returns the next byte that is not white space.
func (s *jsonScan) next() (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, err
		}
		s.off++
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, nil
	}
}

// str reads the rest of a string token, its opening quote read, and
// returns its raw bytes with both quotes, or none (an empty slice, not
// nil) when it is longer than maxCapture.
func (s *jsonScan) str() ([]byte, error) {
	b := append(s.capt[:0], '"')
	escaped, cut := false, false
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		s.off++
		if len(b) < maxCapture {
			b = append(b, c)
		} else {
			cut = true
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			if cut {
				return s.capt[:0], nil
			}
			return b, nil
		case c < 0x20:
			return nil, fmt.Errorf("offset %d: control character in string", s.off-1)
		}
	}
}

// skipWord reads the rest of a number or literal (true, false, null).
func (s *jsonScan) skipWord() error {
	for {
		c, err := s.r.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c == '.', c == '+', c == '-', c == 'E':
			s.off++
			continue
		}
		return s.r.UnreadByte()
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// spliceStatus copies r to w with the status value of each of edits
// (ascending, from statusEdits) written to (a quoted status value).
func spliceStatus(w io.Writer, r io.Reader, edits []statusEdit, to string) error {
	var at int64
	for _, e := range edits {
		if _, err := io.CopyN(w, r, e.at-at); err != nil {
			return unexpected(err)
		}
		if _, err := io.CopyN(io.Discard, r, int64(e.len)); err != nil {
			return unexpected(err)
		}
		if _, err := io.WriteString(w, to); err != nil {
			return err
		}
		at = e.at + int64(e.len)
	}
	_, err := io.Copy(w, r)
	return err
}
