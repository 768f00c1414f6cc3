package fhir

import (
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// typePlan is how values of one type are encoded. Plans are built once
// per type under buildMu and published only when complete, so readers
// never see a half-built plan and need no lock.
type typePlan struct {
	enc encodeFunc // encodes the value at p
	// st is set for a struct with its own plan: struct fields, struct
	// slices and pointers to structs call st.encode directly (a static
	// call) instead of going through enc (an indirect one).
	st *structPlan
	// elem is, for a pointer type, the plan of its element: appendAny
	// finds a *Patient's plan with one lookup.
	elem *typePlan
}

var (
	// buildMu serialises plan building; plans is the published,
	// copy-on-write map of finished plans (read without a lock, so the
	// per-entry lookup of a bundle's resources costs one map access).
	buildMu sync.Mutex
	plans   atomic.Pointer[map[reflect.Type]*typePlan]
)

// planOf returns the plan for t, building it (and the plans of the types
// it contains) on first use.
func planOf(t reflect.Type) *typePlan {
	if m := plans.Load(); m != nil {
		if tp := (*m)[t]; tp != nil {
			return tp
		}
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	b := planBuilder{pending: map[reflect.Type]*typePlan{}}
	tp := b.plan(t)
	publishPlans(&plans, b.pending)
	return tp
}

// publishPlans publishes the plans built under the builder's lock
// (pending) beside those published before, in a new map: readers load the
// map without a lock and never see one change.
func publishPlans[P any](published *atomic.Pointer[map[reflect.Type]P], pending map[reflect.Type]P) {
	old := published.Load()
	next := make(map[reflect.Type]P, len(pending)+16)
	if old != nil {
		maps.Copy(next, *old)
	}
	maps.Copy(next, pending)
	published.Store(&next)
}

// planBuilder builds the plans of one planOf call. A type is entered in
// pending before its parts are built, so a type that contains itself
// (Identifier → Reference → Identifier, Extension → []Extension) finds
// its own, still incomplete, plan; encoders read a plan's fields only
// when they run, which is after publication.
type planBuilder struct {
	pending map[reflect.Type]*typePlan
}

func (b *planBuilder) plan(t reflect.Type) *typePlan {
	if m := plans.Load(); m != nil {
		if tp := (*m)[t]; tp != nil {
			return tp
		}
	}
	if tp := b.pending[t]; tp != nil {
		return tp
	}
	tp := &typePlan{}
	b.pending[t] = tp
	if t.Kind() == reflect.Pointer {
		tp.elem = b.plan(t.Elem())
	}
	b.build(tp, t)
	return tp
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
)

// ownPlan reports whether values of t are encoded by a plan of this file
// rather than by a Marshaler or TextMarshaler (which must be honoured).
func ownPlan(t reflect.Type) bool {
	return !(t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
		reflect.PointerTo(t).Implements(marshalerType) || reflect.PointerTo(t).Implements(textMarshalerType))
}

func (b *planBuilder) build(tp *typePlan, t reflect.Type) {
	if !ownPlan(t) {
		tp.enc = fallback(t)
		return
	}
	switch t.Kind() {
	case reflect.String:
		if t == numberType {
			tp.enc = encodeNumber
			return
		}
		tp.enc = func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return appendString(dst, *(*string)(p)), nil
		}
	case reflect.Bool:
		tp.enc = func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return strconv.AppendBool(dst, *(*bool)(p)), nil
		}
	case reflect.Int:
		tp.enc = func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return strconv.AppendInt(dst, int64(*(*int)(p)), 10), nil
		}
	case reflect.Int64:
		tp.enc = func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return strconv.AppendInt(dst, *(*int64)(p), 10), nil
		}
	case reflect.Int32:
		tp.enc = func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return strconv.AppendInt(dst, int64(*(*int32)(p)), 10), nil
		}
	case reflect.Pointer:
		elem := tp.elem
		tp.enc = func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				return append(dst, "null"...), nil
			}
			return elem.enc(dst, q)
		}
	case reflect.Slice:
		if isBytes(t) {
			tp.enc = encodeBytes
			return
		}
		tp.enc = sliceEncoder(t.Elem().Size(), b.plan(t.Elem()))
	case reflect.Struct:
		b.buildStruct(tp, t)
	case reflect.Interface:
		if t.NumMethod() == 0 { // any (a BundleEntry's resource): read it directly
			tp.enc = func(dst []byte, p unsafe.Pointer) ([]byte, error) {
				return appendAny(dst, *(*any)(p))
			}
			return
		}
		tp.enc = func(dst []byte, p unsafe.Pointer) ([]byte, error) {
			return appendAny(dst, reflect.NewAt(t, p).Elem().Interface())
		}
	default:
		tp.enc = fallback(t)
	}
}

// isBytes reports whether encoding/json writes t (a slice) as base64.
func isBytes(t reflect.Type) bool {
	e := t.Elem()
	return e.Kind() == reflect.Uint8 && !reflect.PointerTo(e).Implements(marshalerType) && !reflect.PointerTo(e).Implements(textMarshalerType)
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
	t := reflect.TypeOf(v)
	tp := planOf(t)
	if e := tp.elem; e != nil {
		p := reflect.ValueOf(v).UnsafePointer()
		if p == nil {
			return append(dst, "null"...), nil
		}
		// The element's plan already honours a Marshaler on *T.
		if e.st != nil {
			return e.st.encode(dst, p)
		}
		return e.enc(dst, p)
	}
	cp := reflect.New(t)
	cp.Elem().Set(reflect.ValueOf(v))
	return tp.enc(dst, cp.UnsafePointer())
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
	dst = appendBase64(dst, b)
	return append(dst, '"'), nil
}

// appendBase64 is base64.StdEncoding.AppendEncode, about twice as fast:
// a bundle carries its source message base64-encoded (Provenance,
// DocumentReference, Binary), kilobytes per message. Six bytes at a time
// are read as one word and written as eight characters through a table
// of character pairs (twelve bits each); the last bytes, from a multiple
// of three on, go to encoding/base64, which makes the same characters
// and the padding.
func appendBase64(dst []byte, src []byte) []byte {
	n := len(src)
	l := len(dst)
	dst = slices.Grow(dst, base64.StdEncoding.EncodedLen(n))
	out := dst[l : l+base64.StdEncoding.EncodedLen(n)]
	i, o := 0, 0
	for ; i+8 <= n; i, o = i+6, o+8 {
		x := binary.BigEndian.Uint64(src[i:]) // the top 48 bits are the six bytes
		w := uint64(base64Pairs[x>>52]) | uint64(base64Pairs[x>>40&0xfff])<<16 |
			uint64(base64Pairs[x>>28&0xfff])<<32 | uint64(base64Pairs[x>>16&0xfff])<<48
		binary.LittleEndian.PutUint64(out[o:], w)
	}
	return base64.StdEncoding.AppendEncode(dst[:l+o], src[i:])
}

// base64Pairs maps twelve bits to their two base64 characters, the first
// in the low byte.
var base64Pairs = func() (t [1 << 12]uint16) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for v := range t {
		t[v] = uint16(alphabet[v>>6]) | uint16(alphabet[v&0x3f])<<8
	}
	return t
}()

// sliceEncoder encodes a slice of elements of the given size and plan
// (slices that are struct fields mostly take structPlan's own paths).
func sliceEncoder(size uintptr, elem *typePlan) encodeFunc {
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
			q := unsafe.Add(h.data, uintptr(i)*size)
			if elem.st != nil {
				dst, err = elem.st.encode(dst, q)
			} else {
				dst, err = elem.enc(dst, q)
			}
			if err != nil {
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

// structPlan is the field list of a struct type, in encoding/json's order.
type structPlan struct {
	fields []fieldPlan
	// frozen is set once a value of this type has been registered with
	// Freeze: only then do pointers to and slices of it look in the
	// frozen table.
	frozen atomic.Bool
	// zoffs has, for each field, where the word that is zero when the
	// field is omitted lies (a string's or slice's length, a pointer, an
	// interface's type word), or keep when the field is not omitempty or
	// its emptiness is not one word. The struct encoder passes over the
	// many absent fields of a FHIR resource with one load and compare,
	// reading this compact array rather than the fields' plans.
	zoffs []uint32
}

// keep marks a field in structPlan.zoffs that the zero-word test does not
// skip.
const keep = ^uint32(0)

// fieldPlan is one field of a struct. The common FHIR shapes (strings,
// structs, pointers to and slices of structs, string slices, any, bool,
// json.Number, []byte) each have a kind the struct encoder handles inline
// with no emptiness closure and, for nested structs, a direct call;
// everything else is fieldOther, through empty and elem.enc.
type fieldPlan struct {
	kind   uint8
	omit   bool
	offset uintptr
	// key is `,"name":` followed, for fieldString, fieldStrings and
	// fieldStructs, by the value's opening `"` or `[`: one append writes
	// the separator, the name and the start of the value. The struct
	// encoder writes the comma before every field and turns the first
	// one into the '{', so there is no first-field branch.
	key string
	// pad is key in a fixed-size array: copying the whole array is a
	// few inlined moves instead of a memmove call, and the bytes past
	// the key are overwritten by what follows (see appendKey).
	pad   [keyPad]byte
	size  uintptr     // fieldStructs: element size
	st    *structPlan // fieldStruct, fieldPtrStruct, fieldStructs
	elem  *typePlan   // fieldPointer: the element's plan; fieldOther: the field's
	empty emptyFunc   // fieldOther with omitempty
}

// keyPad is the size of fieldPlan.pad; keys longer than that (a field
// name over 27 bytes, none in this package) are appended normally.
const keyPad = 32

// appendKey appends f.key.
func (f *fieldPlan) appendKey(dst []byte) []byte {
	l := len(dst)
	if len(f.key) > keyPad || cap(dst)-l < keyPad {
		return append(dst, f.key...)
	}
	*(*[keyPad]byte)(dst[l : l+keyPad]) = f.pad
	return dst[:l+len(f.key)]
}

// Field kinds of fieldPlan.
const (
	fieldOther     = iota
	fieldString    // a string without Marshaler
	fieldNumber    // json.Number
	fieldBool      // a bool without Marshaler
	fieldStruct    // a struct value with its own plan
	fieldPtrStruct // a pointer to such a struct
	fieldStructs   // a slice of such structs
	fieldStrings   // a slice of plain strings
	fieldAny       // an interface{}
	fieldBytes     // a []byte, base64
	fieldPointer   // any other pointer (*bool, *int, *T with a Marshaler)
)

func (b *planBuilder) buildStruct(tp *typePlan, t reflect.Type) {
	type field struct {
		name  string
		index int
		omit  bool
	}
	var fields []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			tp.enc = fallback(t) // embedding flattens fields; leave it to encoding/json
			return
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
				tp.enc = fallback(t)
				return
			}
		}
		fields = append(fields, field{name: name, index: i, omit: omit})
	}
	// The plan exists before the fields' types are resolved, so a field
	// that leads back to t gets it.
	st := &structPlan{fields: make([]fieldPlan, 0, len(fields))}
	tp.st = st
	tp.enc = st.encode
	for _, f := range fields {
		sf := t.Field(f.index)
		ft := sf.Type
		key := "," + string(appendString(nil, f.name)) + ":"
		fp := fieldPlan{key: key, offset: sf.Offset, omit: f.omit}
		fp.kind = fieldOther
		if ownPlan(ft) {
			switch ft.Kind() {
			case reflect.String:
				if ft == numberType {
					fp.kind = fieldNumber
				} else {
					fp.kind, fp.key = fieldString, key+`"`
				}
			case reflect.Bool:
				fp.kind = fieldBool
			case reflect.Struct:
				if s := b.plan(ft).st; s != nil {
					fp.kind, fp.st = fieldStruct, s
				}
			case reflect.Pointer:
				ep := b.plan(ft.Elem())
				if ep.st != nil {
					fp.kind, fp.st = fieldPtrStruct, ep.st
				} else {
					fp.kind, fp.elem = fieldPointer, ep
				}
			case reflect.Slice:
				et := ft.Elem()
				switch {
				case isBytes(ft):
					fp.kind = fieldBytes
				case et.Kind() == reflect.String && et != numberType && ownPlan(et):
					fp.kind, fp.key = fieldStrings, key+"["
				case et.Kind() == reflect.Struct:
					if s := b.plan(et).st; s != nil {
						fp.kind, fp.key, fp.st, fp.size = fieldStructs, key+"[", s, et.Size()
					}
				}
			case reflect.Interface:
				if ft.NumMethod() == 0 {
					fp.kind = fieldAny
				}
			}
		}
		if fp.kind == fieldOther {
			fp.elem = b.plan(ft)
			if fp.omit {
				fp.empty = emptyFor(ft)
			}
		}
		zoff := keep
		if fp.omit {
			switch fp.kind {
			case fieldString, fieldNumber, fieldStructs, fieldStrings, fieldBytes:
				zoff = uint32(fp.offset + unsafe.Sizeof(uintptr(0))) // the length
			case fieldPtrStruct, fieldPointer, fieldAny:
				zoff = uint32(fp.offset) // the pointer, the type word
			}
		}
		copy(fp.pad[:], fp.key)
		st.fields = append(st.fields, fp)
		st.zoffs = append(st.zoffs, zoff)
	}
}

// encode appends the JSON object of the struct at p. Every field written
// starts with a comma; the first one is overwritten with the '{'.
func (st *structPlan) encode(dst []byte, p unsafe.Pointer) ([]byte, error) {
	start := len(dst)
	var err error
	fields := st.fields
	for i, z := range st.zoffs {
		if z != keep && *(*uintptr)(unsafe.Add(p, z)) == 0 {
			continue
		}
		// Below, an omitempty field that has a zero word is never empty.
		f := &fields[i]
		fp := unsafe.Add(p, f.offset)
		if f.kind == fieldString { // most fields: a direct branch, not the switch's jump table
			dst = f.appendKey(dst)
			dst = appendStringBody(dst, *(*string)(fp))
			dst = append(dst, '"')
			continue
		}
		switch f.kind {
		case fieldPtrStruct, fieldPointer:
			dst = f.appendKey(dst)
			q := *(*unsafe.Pointer)(fp)
			switch {
			case q == nil:
				dst = append(dst, "null"...)
			case f.kind == fieldPtrStruct:
				if f.st.frozen.Load() {
					if j := frozenJSON(q, -1, f.st); j != nil {
						dst = append(dst, j...)
						continue
					}
				}
				dst, err = f.st.encode(dst, q)
			default:
				dst, err = f.elem.enc(dst, q)
			}
			if err != nil {
				return dst, err
			}
		case fieldStructs:
			h := (*sliceHeader)(fp)
			if h.len == 0 {
				dst = appendEmptySlice(dst, f.key, h.data == nil)
				continue
			}
			dst = f.appendKey(dst)
			if f.st.frozen.Load() {
				if j := frozenJSON(h.data, h.len, f.st); j != nil {
					dst = append(dst, j...)
					continue
				}
			}
			for j := 0; j < h.len; j++ {
				if dst, err = f.st.encode(dst, unsafe.Add(h.data, uintptr(j)*f.size)); err != nil {
					return dst, err
				}
				dst = append(dst, ',')
			}
			dst[len(dst)-1] = ']'
		case fieldStruct:
			dst = f.appendKey(dst)
			if dst, err = f.st.encode(dst, fp); err != nil {
				return dst, err
			}
		case fieldStrings:
			ss := *(*[]string)(fp)
			if len(ss) == 0 {
				dst = appendEmptySlice(dst, f.key, ss == nil)
				continue
			}
			dst = f.appendKey(dst)
			for _, s := range ss {
				dst = append(dst, '"')
				dst = appendStringBody(dst, s)
				dst = append(dst, '"', ',')
			}
			dst[len(dst)-1] = ']'
		case fieldAny:
			dst = f.appendKey(dst)
			if dst, err = appendAny(dst, *(*any)(fp)); err != nil {
				return dst, err
			}
		case fieldBool:
			v := *(*bool)(fp)
			if f.omit && !v {
				continue
			}
			dst = f.appendKey(dst)
			dst = strconv.AppendBool(dst, v)
		case fieldNumber:
			dst = f.appendKey(dst)
			if dst, err = encodeNumber(dst, fp); err != nil {
				return dst, err
			}
		case fieldBytes:
			dst = f.appendKey(dst)
			dst, _ = encodeBytes(dst, fp)
		default:
			if f.omit && f.empty(fp) {
				continue
			}
			dst = f.appendKey(dst)
			if dst, err = f.elem.enc(dst, fp); err != nil {
				return dst, err
			}
		}
	}
	if len(dst) == start {
		return append(dst, '{', '}'), nil
	}
	dst[start] = '{'
	return append(dst, '}'), nil
}

// appendEmptySlice writes a key that ends in '[' for a slice with no
// elements: null for a nil slice, [] otherwise (as encoding/json does).
func appendEmptySlice(dst []byte, key string, isNil bool) []byte {
	if isNil {
		dst = append(dst, key[:len(key)-1]...)
		return append(dst, "null"...)
	}
	dst = append(dst, key...)
	return append(dst, ']')
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
// becomes \ufffd, and U+2028/U+2029 are escaped. One difference: a
// control character other than tab, CR and LF, which a FHIR string may
// not hold, is written as a space (encoding/json writes \u0007, \b, \f).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendStringBody(dst, s)
	return append(dst, '"')
}

// AppendJSONString appends s as a JSON string escaped as encoding/json
// escapes it, control characters a FHIR string may not hold written as
// spaces (appendString): for encoders outside this package that write
// FHIR JSON by hand (the audit trail's AuditEvent).
func AppendJSONString(dst []byte, s string) []byte { return appendString(dst, s) }

// appendStringBody is appendString without the quotes. Nearly every
// string of a bundle (ids, URNs, codes, dates, displays) needs no escape,
// so the fast path tests and stores a word (eight bytes) at a time, the
// last word overlapping the one before; a string shorter than eight bytes
// is gathered into one word (bytes may repeat, the padding is 'a'). The
// string is read once and there is no memmove call. From a word that
// needs escaping on, the string takes the byte-wise escaping loop.
func appendStringBody(dst []byte, s string) []byte {
	n := len(s)
	l := len(dst)
	dst = slices.Grow(dst, n)
	out := dst[l : l+n]
	if n < 8 {
		switch {
		case n >= 4:
			lo := binary.LittleEndian.Uint32([]byte(s[:4]))
			hi := binary.LittleEndian.Uint32([]byte(s[n-4:]))
			if !plain8(uint64(lo) | uint64(hi)<<32) {
				return appendEscaped(dst[:l], s)
			}
			binary.LittleEndian.PutUint32(out, lo)
			binary.LittleEndian.PutUint32(out[n-4:], hi)
		case n > 0:
			const pad = 0x6161616161000000 // 'a' in bytes 3..7
			a, b, c := s[0], s[n/2], s[n-1]
			if !plain8(uint64(a) | uint64(b)<<8 | uint64(c)<<16 | pad) {
				return appendEscaped(dst[:l], s)
			}
			out[0], out[n/2], out[n-1] = a, b, c
		}
		return dst[:l+n]
	}
	i := 0
	for ; i+8 < n; i += 8 {
		w := binary.LittleEndian.Uint64([]byte(s[i : i+8]))
		if !plain8(w) {
			// s[:i] is stored; it is ASCII, so no rune straddles i.
			return appendEscaped(dst[:l+i], s[i:])
		}
		binary.LittleEndian.PutUint64(out[i:], w)
	}
	w := binary.LittleEndian.Uint64([]byte(s[n-8:]))
	if !plain8(w) {
		return appendEscaped(dst[:l+i], s[i:])
	}
	binary.LittleEndian.PutUint64(out[n-8:], w)
	return dst[:l+n]
}

// appendEscaped is appendStringBody for a string that may need escapes.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Byte by byte over a 256-entry table for up to eight bytes (the
		// caller has found one that needs care in s's first word), then,
		// past eight plain ones, eight at a time while none needs escaping
		// (a long plain run after an escape); the word that stops that is
		// searched byte by byte on the next turn.
		end := min(i+8, len(s))
		for i < end && safeByte[s[i]] {
			i++
		}
		if i == end {
			for i+8 <= len(s) && plain8(binary.LittleEndian.Uint64([]byte(s[i:i+8]))) {
				i += 8
			}
			continue
		}
		b := s[i]
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				// A FHIR string may hold no character below U+0020 but
				// tab, CR and LF (R4 datatypes, string). A receiver
				// that validates refuses the whole transaction for one (an HL7 v2 \X07\ or \X0C\ in a name or a
				// note): it is written as a space. < > & are escaped as
				// encoding/json escapes them.
				if b < 0x20 {
					dst = append(dst, ' ')
				} else {
					dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
				}
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
	return append(dst, s[start:]...)
}

// plain8 reports whether none of the eight bytes of x needs escaping: no
// control character, no byte from 0x80 up, none of " \\ < > &. A byte
// below 0x20 borrows in x-0x20…, and a byte equal to c borrows in
// (x^c…)-0x01…; either sets that byte's high bit. '<' and '>' differ only
// in bit 1 and '"' and '&' only in bit 2, so setting that bit before
// comparing tests both at once. The usual "&^v" that keeps a borrow from
// spilling into higher bytes is not needed: a borrow only starts at a byte
// that needs escaping, so whichever high bit it sets, the word is already
// not plain, and a word without such a byte has no borrow at all (its
// bytes are below 0x80, so none of the terms sets a high bit).
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lt := x - 0x20*ones                     // borrows below 0x20
	ab := (x | 0x02*ones ^ '>'*ones) - ones // borrows where '<' or '>'
	qa := (x | 0x04*ones ^ '&'*ones) - ones // borrows where '"' or '&'
	bs := (x ^ '\\'*ones) - ones            // borrows where '\\'
	return (x|lt|ab|qa|bs)&highs == 0
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

// Freeze registers v, a pointer to a struct or a non-empty slice of
// structs, as never to be modified again (shared, read-only values such
// as a converter's fixed codes), and encodes it now: the encoder then
// copies those bytes wherever that very pointer, or that very slice
// (same first element, same length), is a field of what it encodes,
// instead of walking the value again. The output is the same bytes.
// Freeze keeps v reachable for good, so it suits package-level values
// only, and reports an error for a value it cannot take (and changes
// nothing then).
func Freeze(v any) error {
	rv := reflect.ValueOf(v)
	var (
		st *structPlan
		p  unsafe.Pointer
		n  int
	)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return fmt.Errorf("fhir json: Freeze of a nil %s", rv.Type())
		}
		st, p, n = planOf(rv.Type().Elem()).st, rv.UnsafePointer(), -1
	case reflect.Slice:
		if rv.Len() == 0 {
			return fmt.Errorf("fhir json: Freeze of an empty %s", rv.Type())
		}
		st, p, n = planOf(rv.Type().Elem()).st, rv.UnsafePointer(), rv.Len()
	}
	if st == nil {
		return fmt.Errorf("fhir json: Freeze of %T: not a pointer to or slice of a planned struct", v)
	}
	var (
		j   []byte
		err error
	)
	if n < 0 {
		j, err = st.encode(nil, p)
	} else {
		// What follows the field's opening '[': the elements and the ']'.
		size := rv.Type().Elem().Size()
		for i := 0; i < n; i++ {
			if j, err = st.encode(j, unsafe.Add(p, uintptr(i)*size)); err != nil {
				break
			}
			j = append(j, ',')
		}
		if err == nil {
			j[len(j)-1] = ']'
		}
	}
	if err != nil {
		return err
	}
	frozenMu.Lock()
	defer frozenMu.Unlock()
	var all []frozenSlot
	if t := frozenTab.Load(); t != nil {
		for _, s := range t.slots {
			if s.p != nil {
				all = append(all, s)
			}
		}
	}
	all = append(all, frozenSlot{p: p, n: n, st: st, json: j})
	size := 16
	for size < 4*len(all) {
		size *= 2
	}
	t := &frozenTable{slots: make([]frozenSlot, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
	for _, s := range all {
		i := t.home(s.p)
		for t.slots[i].p != nil {
			i = (i + 1) & uintptr(size-1)
		}
		t.slots[i] = s
	}
	frozenTab.Store(t)
	st.frozen.Store(true)
	return nil
}

// frozenTable is an open-addressing table of the frozen values, by
// address (at most a quarter full). It is never changed once published:
// Freeze publishes a new one.
type frozenTable struct {
	slots []frozenSlot
	shift uint
}

// frozenSlot is one frozen value: its address, its length (-1 for a
// pointer), its type's plan and its JSON. The unsafe.Pointer keeps the
// value alive, so its address is never another value's.
type frozenSlot struct {
	p    unsafe.Pointer
	n    int
	st   *structPlan
	json []byte
}

var (
	frozenMu  sync.Mutex
	frozenTab atomic.Pointer[frozenTable]
)

// home is p's first slot (Fibonacci hashing of the address).
func (t *frozenTable) home(p unsafe.Pointer) uintptr {
	return uintptr(uint64(uintptr(p))*0x9E3779B97F4A7C15>>t.shift) & uintptr(len(t.slots)-1)
}

// frozenJSON returns the JSON of the value frozen at p with length n
// and plan st, or nil.
func frozenJSON(p unsafe.Pointer, n int, st *structPlan) []byte {
	t := frozenTab.Load()
	if t == nil {
		return nil
	}
	mask := uintptr(len(t.slots) - 1)
	for i := t.home(p); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.p == p && s.n == n && s.st == st {
			return s.json
		}
		if s.p == nil {
			return nil
		}
	}
}
