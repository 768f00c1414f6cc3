package hl7v2

import (
	"bytes"
	"fmt"
	"strconv"
)

// SplitBatch splits a batch file, [FHS]{[BHS]{MSH...}[BTS]}[FTS], or a file of
// bare concatenated messages into one slice per message. The slices alias
// data and keep each message's bytes exactly as they were (terminators
// included), so a message can be quarantined or hashed as received; pass each
// one to Parse. Batch header and trailer segments are dropped; when a BTS
// gives a message count, it must match. A batch with no messages yields an
// empty result and no error.
func SplitBatch(data []byte) ([][]byte, error) {
	off := 0
	var (
		out        [][]byte
		start      = -1 // start of the current message
		end        int  // end of its last line (after the terminator)
		fieldSep   byte = '|'
		inBatch    int  // messages since the last BHS
		headers    bool
		lineNo     int
		sawContent bool
	)
	closeMsg := func() {
		if start >= 0 {
			out = append(out, data[start:end])
			inBatch++
			start = -1
		}
	}
	for off < len(data) {
		lineStart := off
		i := indexEOL(data[off:])
		var line []byte
		if i < 0 {
			line, off = data[off:], len(data)
		} else {
			line = data[off : off+i]
			off += i + 1
			for off < len(data) && (data[off] == '\n' || data[off] == '\r') {
				off++
			}
		}
		lineNo++
		trimmed := trimLineStart(line)
		lineStart += len(line) - len(trimmed)
		trimmed = bytes.TrimRight(trimmed, "\x1c\x1a\x00 \t")
		if len(trimmed) == 0 {
			continue
		}
		sawContent = true
		name := trimmed
		if len(name) > 3 {
			name = name[:3]
		}
		switch string(name) {
		case "FHS", "BHS":
			closeMsg()
			headers = true
			if len(trimmed) > 3 {
				fieldSep = trimmed[3]
			}
			if string(name) == "BHS" {
				inBatch = 0
			}
		case "BTS":
			closeMsg()
			headers = true
			if f := nthSep(trimmed, fieldSep, 1); len(f) > 0 {
				if n, err := strconv.Atoi(string(bytes.TrimSpace(f))); err == nil && n != inBatch {
					return out, fmt.Errorf("hl7v2 batch: line %d: BTS-1 says %d messages, batch holds %d", lineNo, n, inBatch)
				}
			}
		case "FTS":
			closeMsg()
			headers = true
		case "MSH":
			closeMsg()
			if len(trimmed) > 3 {
				fieldSep = trimmed[3]
			}
			start = lineStart
			end = off
		default:
			if start < 0 && len(out) == 0 && !headers {
				return nil, fmt.Errorf("hl7v2 batch: %w: no MSH segment before line %d", ErrNotHL7, lineNo)
			}
			if start < 0 {
				return out, fmt.Errorf("hl7v2 batch: line %d: segment %q outside a message", lineNo, shorten(name))
			}
			end = off
		}
	}
	closeMsg()
	if len(out) == 0 && !headers {
		if sawContent {
			return nil, fmt.Errorf("hl7v2 batch: %w: no MSH segment", ErrNotHL7)
		}
		return nil, fmt.Errorf("hl7v2 batch: %w: empty", ErrNotHL7)
	}
	return out, nil
}

// trimLineStart strips what may precede a segment on its line: MLLP start
// blocks, blanks, tabs, and a UTF-8 byte-order mark, which is found before
// every message of a file joined from files that each began with one.
func trimLineStart(b []byte) []byte {
	for len(b) > 0 {
		switch {
		case b[0] == 0x0b || b[0] == ' ' || b[0] == '\t':
			b = b[1:]
		case bytes.HasPrefix(b, []byte(bom)):
			b = b[len(bom):]
		default:
			return b
		}
	}
	return b
}

// bom is the UTF-8 byte-order mark.
const bom = "\xef\xbb\xbf"

func shorten(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return string(b)
}

// indexEOL is bytes.IndexAny(b, "\r\n") with two vectorised IndexByte
// searches instead of IndexAny's byte-by-byte set test. The searches look
// in a window that doubles until it holds a line end, so that a line's end
// is found without reading the rest of b: with LF line ends there is no
// CR to stop the first search, and reading to the end of the input for
// every line made splitting a file quadratic in its size.
func indexEOL(b []byte) int {
	for w := 256; ; w *= 2 {
		head := b[:min(w, len(b))]
		i := bytes.IndexByte(head, '\r')
		if i >= 0 {
			head = head[:i]
		}
		if j := bytes.IndexByte(head, '\n'); j >= 0 {
			return j
		}
		if i >= 0 || len(b) <= w {
			return i
		}
	}
}
