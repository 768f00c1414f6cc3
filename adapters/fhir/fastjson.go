package fhir

import (
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Marshal encodes v exactly as encoding/json.Marshal does (same bytes:
// field order, omitempty, HTML-safe string escaping, base64 []byte,
// json.Number checks), but about twice as fast for this package's structs:
// the per-type plan is built once and fields are read through offsets
// instead of reflect.Value. Converters emit tens of thousands of bundles a
// second, and encoding was half of that cost. Kinds the plan does not
// cover (maps, floats, types with their own MarshalJSON such as
// json.RawMessage, embedded structs) are handed to encoding/json, so the
// output never differs.
func Marshal(v any) ([]byte, error) {
	bp := bufPool.Get().(*[]byte)
	b, err := AppendJSON((*bp)[:0], v)
	var out []byte
	if err == nil {
		out = append(make([]byte, 0, len(b)), b...)
	}
	if cap(b) <= 1<<20 { // keep pooled buffers bounded
		*bp = b
		bufPool.Put(bp)
	}
	return out, err
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// AppendJSON appends Marshal(v) to dst.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	return appendAny(dst, v)
}

// encodeFunc appends the JSON of the value at p.
type encodeFunc func(dst []byte, p unsafe.Pointer) ([]byte, error)

// emptyFunc reports whether the value at p is empty for omitempty.
type emptyFunc func(p unsafe.Pointer) bool

var encoders sync.Map // reflect.Type → encodeFunc

// encoderFor returns the plan for t, building it on first use. Recursive
// types resolve through an indirection installed before the build.
func encoderFor(t reflect.Type) encodeFunc {
	if f, ok := encoders.Load(t); ok {
		return f.(encodeFunc)
	}
	var (
		wg sync.WaitGroup
		f  encodeFunc
	)
	wg.Add(1)
	indirect := encodeFunc(func(dst []byte, p unsafe.Pointer) ([]byte, error) {
		wg.Wait()
		return f(dst, p)
	})
	if actual, loaded := encoders.LoadOrStore(t, indirect); loaded {
		return actual.(encodeFunc)
	}
	f = buildEncoder(t)
	wg.Done()
	encoders.Store(t, f)
	return f
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
)

func buildEncoder(t reflect.Type) encodeFunc {
	if t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
		reflect.PointerTo(t).Implements(marshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return fallback(t)
	}
	switch t.Kind() {
	case reflect.String:
		if t == numberType {
			return encodeNumber
		}
		return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return appendString(dst, *(*string)(p)), nil
		}
	case reflect.Bool:
		return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return strconv.AppendBool(dst, *(*bool)(p)), nil
		}
	case reflect.Int:
		return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return strconv.AppendInt(dst, int64(*(*int)(p)), 10), nil
		}
	case reflect.Int64:
		return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return strconv.AppendInt(dst, *(*int64)(p), 10), nil
		}
	case reflect.Int32:
		return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return strconv.AppendInt(dst, int64(*(*int32)(p)), 10), nil
		}
	case reflect.Pointer:
		enc := encoderFor(t.Elem())
		return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				return append(dst, "null"...), nil
			}
			return enc(dst, q)
		}
	case reflect.Slice:
		e := t.Elem()
		if e.Kind() == reflect.Uint8 && !reflect.PointerTo(e).Implements(marshalerType) && !reflect.PointerTo(e).Implements(textMarshalerType) {
			return encodeBytes
		}
		return sliceEncoder(t)
	case reflect.Struct:
		return structEncoder(t)
	case reflect.Interface:
		if t.NumMethod() == 0 { // any (a BundleEntry's resource): read it directly
			return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
				return appendAny(dst, *(*any)(p))
			}
		}
		return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return appendAny(dst, reflect.NewAt(t, p).Elem().Interface())
		}
	}
	return fallback(t)
}

// fallback encodes a value of t with encoding/json.
func fallback(t reflect.Type) encodeFunc {
	return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
		b, err := json.Marshal(reflect.NewAt(t, p).Interface())
		if err != nil {
			return dst, err
		}
		// Marshal of *T and of T agree except for a nil *T, which p never is.
		return append(dst, b...), nil
	}
}

func appendAny(dst []byte, v any) ([]byte, error) {
	if v == nil {
		return append(dst, "null"...), nil
	}
	rv := reflect.ValueOf(v)
	t := rv.Type()
	if t.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		// The element's plan already honours a Marshaler on *T.
		return encoderFor(t.Elem())(dst, rv.UnsafePointer())
	}
	cp := reflect.New(t)
	cp.Elem().Set(rv)
	return encoderFor(t)(dst, cp.UnsafePointer())
}

func encodeNumber(dst []byte, p unsafe.Pointer) ([]byte, error) {
	s := *(*string)(p)
	if s == "" {
		s = "0"
	}
	if !validNumber(s) {
		return dst, fmt.Errorf("fhir json: invalid number literal %q", s)
	}
	return append(dst, s...), nil
}

func encodeBytes(dst []byte, p unsafe.Pointer) ([]byte, error) {
	b := *(*[]byte)(p)
	if b == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"'), nil
}

func sliceEncoder(t reflect.Type) encodeFunc {
	size := t.Elem().Size()
	enc := encoderFor(t.Elem())
	return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
		h := (*sliceHeader)(p)
		if h.data == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		var err error
		for i := 0; i < h.len; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = enc(dst, unsafe.Add(h.data, uintptr(i)*size)); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
}

type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

type fieldPlan struct {
	name   string // `"name":`; the comma before it is added at run time
	offset uintptr
	index  int
	enc    encodeFunc
	empty  emptyFunc // nil unless omitempty
	// kind lets the struct encoder handle the common field shapes inline
	// (no closure calls for an empty-check and a string); fieldOther goes
	// through empty and enc.
	kind uint8
	omit bool
}

// Field shapes the struct encoder inlines.
const (
	fieldOther   = iota
	fieldString  // a plain string
	fieldPointer // a pointer whose element has its own plan; enc is the element's
	fieldSlice   // a slice (not []byte); enc is the slice's plan
)

// ownPlan reports whether values of t are encoded by a plan of this file
// rather than by a Marshaler or TextMarshaler (which must be honoured).
func ownPlan(t reflect.Type) bool {
	return !(t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
		reflect.PointerTo(t).Implements(marshalerType) || reflect.PointerTo(t).Implements(textMarshalerType))
}

func structEncoder(t reflect.Type) encodeFunc {
	var fields []fieldPlan
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			return fallback(t) // embedding flattens fields; leave it to encoding/json
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		if !validTagName(name) {
			name = f.Name
		}
		omit := false
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "omitempty":
				omit = true
			case "string", "omitzero", "inline", "format", "case":
				return fallback(t)
			}
		}
		fp := fieldPlan{name: string(appendString(nil, name)) + ":", offset: f.Offset, index: i}
		if omit {
			fp.empty = emptyFor(f.Type)
		}
		fields = append(fields, fp)
	}
	// Encoders are resolved after the field list is complete; a type that
	// contains itself gets the indirection encoderFor installed.
	for i := range fields {
		f := &fields[i]
		ft := t.Field(f.index).Type
		f.omit = f.empty != nil
		switch {
		case ft.Kind() == reflect.String && ft != numberType && ownPlan(ft):
			f.kind = fieldString
		case ft.Kind() == reflect.Pointer && ownPlan(ft):
			f.kind = fieldPointer
			f.enc = encoderFor(ft.Elem())
			continue
		case ft.Kind() == reflect.Slice && ownPlan(ft):
			f.kind = fieldSlice
		}
		f.enc = encoderFor(ft)
	}
	return func(dst []byte, p unsafe.Pointer) ([]byte, error) {
		dst = append(dst, '{')
		first := true
		var err error
		for i := range fields {
			f := &fields[i]
			fp := unsafe.Add(p, f.offset)
			switch f.kind {
			case fieldString:
				s := *(*string)(fp)
				if f.omit && len(s) == 0 {
					continue
				}
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = append(dst, f.name...)
				dst = appendString(dst, s)
				continue
			case fieldPointer:
				q := *(*unsafe.Pointer)(fp)
				if q == nil {
					if f.omit {
						continue
					}
					if !first {
						dst = append(dst, ',')
					}
					first = false
					dst = append(dst, f.name...)
					dst = append(dst, "null"...)
					continue
				}
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = append(dst, f.name...)
				if dst, err = f.enc(dst, q); err != nil {
					return dst, err
				}
				continue
			case fieldSlice:
				if f.omit && (*sliceHeader)(fp).len == 0 {
					continue
				}
			default:
				if f.omit && f.empty(fp) {
					continue
				}
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, f.name...)
			if dst, err = f.enc(dst, fp); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
}

// emptyFor mirrors encoding/json's isEmptyValue for omitempty.
func emptyFor(t reflect.Type) emptyFunc {
	switch t.Kind() {
	case reflect.String:
		return func(p unsafe.Pointer) bool { return len(*(*string)(p)) == 0 }
	case reflect.Slice:
		return func(p unsafe.Pointer) bool { return (*sliceHeader)(p).len == 0 }
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return func(p unsafe.Pointer) bool { return *(*unsafe.Pointer)(p) == nil }
	case reflect.Interface:
		return func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().IsNil() }
	case reflect.Bool:
		return func(p unsafe.Pointer) bool { return !*(*bool)(p) }
	case reflect.Array:
		n := t.Len()
		return func(unsafe.Pointer) bool { return n == 0 }
	case reflect.Int:
		return func(p unsafe.Pointer) bool { return *(*int)(p) == 0 }
	case reflect.Int64:
		return func(p unsafe.Pointer) bool { return *(*int64)(p) == 0 }
	case reflect.Int8, reflect.Int16, reflect.Int32,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().IsZero() }
	}
	return func(unsafe.Pointer) bool { return false } // structs are never empty
}

// validTagName follows encoding/json's rule for usable tag names.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c > 127):
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does with
// HTML escaping on: <, > and & become \u003c \u003e \u0026, invalid UTF-8
// becomes \ufffd, and U+2028/U+2029 are escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Most strings are plain ASCII: skip eight bytes at a time while
		// none needs escaping (ids, URLs and codes are mostly longer than
		// eight), then byte by byte over a 256-entry table.
		for i+8 <= len(s) && plain8(binary.LittleEndian.Uint64([]byte(s[i:i+8]))) {
			i += 8
		}
		for i < len(s) && safeByte[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plain8 reports whether none of the eight bytes of x needs escaping: no
// control character, no byte from 0x80 up, none of " \\ < > &. It is the
// "has a zero byte" test ((v-0x01…)&^v has a high bit set exactly when v
// has a zero byte, for the word as a whole) on three words: '<' and '>'
// differ only in bit 1 and '"' and '&' only in bit 2, so setting that bit
// before comparing tests both at once.
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lt := x - 0x20*ones            // borrows below 0x20
	ab := x | 0x02*ones ^ '>'*ones // zero where '<' or '>'
	qa := x | 0x04*ones ^ '&'*ones // zero where '"' or '&'
	bs := x ^ '\\'*ones            // zero where '\\'
	bad := x | lt&^x | (ab-ones)&^ab | (qa-ones)&^qa | (bs-ones)&^bs
	return bad&highs == 0
}

// safeByte is safeASCII over all byte values (false from 0x80 up), so it
// can be indexed by any byte without a bounds check.
var safeByte = func() (t [256]bool) {
	copy(t[:], safeASCII[:])
	return t
}()

// safeASCII marks the ASCII bytes a JSON string can hold unescaped (HTML
// characters excluded, as encoding/json does).
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// validNumber reports whether s is a JSON number literal.
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}
