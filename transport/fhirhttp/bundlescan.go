package fhirhttp

import (
	"bytes"
	"errors"
	"io"
)

// bundleScan reads a FHIR Bundle's JSON as it streams past, holding only
// what classification needs: the top-level resourceType and type, the
// number of elements of the top-level entry array, and for each entry its
// response.status, (cut to outcomeCap) response.outcome, the resource
// type its request.url names and whether it has a request.ifMatch. It is
// used on
// the request, to learn how many entries were sent without buffering a
// 270 MB fax bundle, and on the answer, whose entries may echo that fax.
// encoding/json cannot do this: its Decoder holds each token whole, and
// a Binary's base64 data is one token.
//
// It checks structure (brackets balance, the top-level value is complete)
// but not every JSON rule; a cut or non-JSON body is what it must catch.
// Write never fails, so it can sit behind an io.TeeReader; the first
// problem is kept in err.
type bundleScan struct {
	resourceType string
	typ          string
	entries      int
	statuses     []string // per entry; "" when absent
	types        []string // per entry: request.url's resource type; "" when absent or not one
	ifMatch      []bool   // per entry: request.ifMatch is given
	outcomes     [][]byte // per entry; nil when absent
	outcomeCut   []bool   // per entry: outcome longer than outcomeCap
	outcomeCap   int      // 0: do not keep outcomes
	started      bool     // a non-space byte was seen
	lead         int      // bytes of a leading UTF-8 byte-order mark seen; -1 once past it
	done         bool     // the top-level value is complete
	err          error

	stack   []scanFrame
	inStr   bool
	isKey   bool // the open string is an object key
	escape  bool
	scalar  bool // inside a number or literal
	str     []byte
	strCut  bool
	strRole scanRole
	key     string // last completed key, not yet followed by ':'

	capturing bool // copying response.outcome
	capDepth  int  // stack depth at which the captured value closes
}

type scanRole uint8

const (
	roleNone scanRole = iota
	roleRoot
	roleResourceType
	roleType
	roleEntries
	roleEntry
	roleResponse
	roleStatus
	roleOutcome
	roleRequest
	roleRequestURL
	roleIfMatch
)

type scanFrame struct {
	obj       bool
	expectKey bool
	key       string
	role      scanRole
}

const (
	maxScanDepth = 256
	maxScanStr   = 64 // longest key or value kept; longer ones match nothing
)

var errNotJSON = errors.New("not JSON")

// utf8BOM is U+FEFF in UTF-8, the byte-order mark.
const utf8BOM = "\xEF\xBB\xBF"

// Write feeds the next bytes of the body.
func (s *bundleScan) Write(p []byte) (int, error) {
	n := len(p)
	capStart := -1
	if s.capturing {
		capStart = 0
	}
	for i := 0; i < len(p) && s.err == nil; i++ {
		if s.inStr {
			if !s.escape {
				// Fast path through long strings (base64 data).
				j := bytes.IndexAny(p[i:], "\"\\")
				if j < 0 {
					s.keepStr(p[i:])
					break
				}
				s.keepStr(p[i : i+j])
				i += j
			}
			c := p[i]
			switch {
			case s.escape:
				s.escape = false
				s.keepStr(p[i : i+1])
			case c == '\\':
				s.escape = true
				s.keepStr(p[i : i+1])
			case c == '"':
				s.inStr = false
				s.endString()
			}
			continue
		}
		c := p[i]
		if s.lead >= 0 {
			// RFC 8259 §8.1: a JSON text must not start with a
			// byte-order mark, but "implementations that parse JSON
			// texts MAY ignore the presence of a byte order mark
			// rather than treating it as an error"; some .NET
			// servers write one. Only at the very start, and whole.
			if s.lead < len(utf8BOM) && c == utf8BOM[s.lead] {
				if s.lead++; s.lead == len(utf8BOM) {
					s.lead = -1
				}
				continue
			}
			if s.lead > 0 {
				s.err = errNotJSON
				break
			}
			s.lead = -1
		}
		if s.scalar {
			switch c {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				s.scalar = false
				s.endValue()
			default:
				continue
			}
		}
		if s.done {
			if !isSpace(c) {
				s.err = errors.New("data after the JSON value")
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
		case '{', '[':
			role := s.beginValue()
			if len(s.stack) >= maxScanDepth {
				s.err = errors.New("JSON nested too deeply")
				break
			}
			if role == roleOutcome && c == '{' && !s.capturing {
				s.capturing, s.capDepth, capStart = true, len(s.stack), i
			}
			s.stack = append(s.stack, scanFrame{obj: c == '{', expectKey: c == '{', role: role})
		case '}', ']':
			top := len(s.stack) - 1
			if top < 0 || s.stack[top].obj != (c == '}') {
				s.err = errors.New("unbalanced JSON brackets")
				break
			}
			s.stack = s.stack[:top]
			s.endValue()
			if s.capturing && len(s.stack) == s.capDepth {
				s.endCapture(p[capStart : i+1])
				capStart = -1
			}
		case ':':
			if f := s.top(); f != nil && f.obj {
				f.key, f.expectKey = s.key, false
			}
		case ',':
			if f := s.top(); f != nil && f.obj {
				f.expectKey = true
			}
		case '"':
			if f := s.top(); f != nil && f.obj && f.expectKey {
				s.isKey, s.strRole = true, roleNone
			} else {
				s.isKey, s.strRole = false, s.beginValue()
			}
			s.inStr, s.str, s.strCut = true, s.str[:0], false
		default:
			if c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n' {
				s.beginValue()
				s.scalar = true
			} else {
				s.err = errNotJSON
			}
		}
	}
	if s.capturing && capStart >= 0 {
		s.keepOutcome(p[capStart:])
	}
	return n, nil
}

// finish reports whether the body was one complete JSON value.
func (s *bundleScan) finish() error {
	if s.scalar && len(s.stack) == 0 {
		s.scalar = false
		s.endValue()
	}
	switch {
	case s.err != nil:
		return s.err
	case !s.started:
		return errors.New("empty body")
	case !s.done:
		return io.ErrUnexpectedEOF
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (s *bundleScan) top() *scanFrame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// beginValue is called at the first byte of a value and returns its role,
// from where it sits: the path root.resourceType, root.type,
// root.entry[i], root.entry[i].response, ...response.status, ...outcome.
func (s *bundleScan) beginValue() scanRole {
	f := s.top()
	if f == nil {
		if s.started {
			s.err = errors.New("data after the JSON value")
		}
		s.started = true
		return roleRoot
	}
	switch {
	case f.role == roleRoot && f.obj:
		switch f.key {
		case "resourceType":
			return roleResourceType
		case "type":
			return roleType
		case "entry":
			return roleEntries
		}
	case f.role == roleEntries && !f.obj:
		s.entries++
		s.statuses = append(s.statuses, "")
		s.types = append(s.types, "")
		s.ifMatch = append(s.ifMatch, false)
		if s.outcomeCap > 0 {
			s.outcomes = append(s.outcomes, nil)
			s.outcomeCut = append(s.outcomeCut, false)
		}
		return roleEntry
	case f.role == roleEntry && f.obj && f.key == "response":
		return roleResponse
	case f.role == roleEntry && f.obj && f.key == "request":
		return roleRequest
	case f.role == roleRequest && f.obj && f.key == "url":
		return roleRequestURL
	case f.role == roleRequest && f.obj && f.key == "ifMatch":
		return roleIfMatch
	case f.role == roleResponse && f.obj && f.key == "status":
		return roleStatus
	case f.role == roleResponse && f.obj && f.key == "outcome" && s.outcomeCap > 0:
		return roleOutcome
	}
	return roleNone
}

// endValue is called when a container or scalar closes.
func (s *bundleScan) endValue() {
	if len(s.stack) == 0 {
		s.done = true
	}
}

func (s *bundleScan) keepStr(b []byte) {
	if room := maxScanStr - len(s.str); room > 0 {
		s.str = append(s.str, b[:min(room, len(b))]...)
		if len(b) > room {
			s.strCut = true
		}
	} else if len(b) > 0 {
		s.strCut = true
	}
}

func (s *bundleScan) endString() {
	if !s.isKey && s.strRole == roleRequestURL {
		// Its start is enough: [type]?query, [type]/id, [type].
		s.types[len(s.types)-1] = urlType(s.str)
		s.endValue()
		return
	}
	v := string(s.str)
	if s.strCut {
		v = "\x00" // too long to be anything we look for
	}
	if s.isKey {
		s.key = v
		return
	}
	switch s.strRole {
	case roleResourceType:
		s.resourceType = v
	case roleType:
		s.typ = v
	case roleStatus:
		s.statuses[len(s.statuses)-1] = v
	case roleIfMatch:
		s.ifMatch[len(s.ifMatch)-1] = v != ""
	}
	s.endValue()
}

func (s *bundleScan) keepOutcome(b []byte) {
	i := len(s.outcomes) - 1
	if room := s.outcomeCap - len(s.outcomes[i]); room > 0 {
		s.outcomes[i] = append(s.outcomes[i], b[:min(room, len(b))]...)
		if len(b) > room {
			s.outcomeCut[i] = true
		}
	} else if len(b) > 0 {
		s.outcomeCut[i] = true
	}
}

func (s *bundleScan) endCapture(b []byte) {
	s.keepOutcome(b)
	s.capturing = false
}

// urlType returns the resource type a request.url starts with, "" when
// it names none.
func urlType(u []byte) string {
	if i := bytes.IndexAny(u, "/?"); i >= 0 {
		u = u[:i]
	}
	if !resourceTypeRE.Match(u) {
		return ""
	}
	return string(u)
}
