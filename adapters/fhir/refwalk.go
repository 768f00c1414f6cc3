package fhir

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The reference walker finds the references of a resource without
// encoding it: literalUnits reads every entry's references for every
// message cut into parts (an ORU of more than eight entries), and
// encoding each resource to scan its JSON for "reference":"...", as it did
// first, cost about 40% of a message's conversion.
//
// What it finds is what that scan finds: the value of every string field
// whose JSON name is "reference" (Reference.Reference, and any other
// struct's field so named) that the encoder writes, in the order the
// encoder writes them. A plan is built once per type, like the encoder's
// (fastjson.go): under refMu, published copy-on-write in refPlans,
// fields read through offsets. A type none of whose fields can hold such
// a string (a CodeableConcept, a Period, a string) gets an empty plan and
// is not walked. What the encoder hands to encoding/json or to a
// MarshalJSON (json.RawMessage, maps, embedded structs), and a field
// named "reference" that is not a plain string, is encoded as the encoder
// encodes it and scanned as before, so nothing is missed. One difference:
// a reference is reported as it is held, where the scan read it as
// escaped in JSON (a Type/id holds nothing JSON escapes).

// refPlan is how the references inside values of one type are found.
type refPlan struct {
	kind uint8
	// live is set once the type is known to be able to hold a reference;
	// a published plan without it has kind refNone.
	live bool
	st   *refStructPlan // refStruct
	elem *refPlan       // refPointer, refSlice, refArray: the element's
	size uintptr        // refSlice, refArray: the element's size
	n    int            // refArray: the length
	t    reflect.Type
	enc  *typePlan // refFallback: the encoder's plan of t
}

// Kinds of refPlan.
const (
	refNone     = iota // holds no reference
	refStruct          // a struct, through st
	refPointer         // a pointer
	refSlice           // a slice (not []byte)
	refArray           // an array
	refAny             // an interface: walked by its dynamic type
	refFallback        // encoded as the encoder does it and scanned
)

// refStructPlan is the fields of a struct that may hold a reference, in
// encoding order.
type refStructPlan struct {
	fields []refField
}

// refField is one such field.
type refField struct {
	kind   uint8
	omit   bool
	offset uintptr
	plan   *refPlan // fieldWalk
	// key is `"name":`, for fieldKeyed: the field is encoded after it
	// (enc) and scanned.
	key string
	enc *typePlan
	// empty is, for an omitempty field, whether the encoder leaves it
	// out: a fieldKeyed one, or one walked by encoding (an empty but
	// not nil json.RawMessage would fail to encode), is then passed over.
	empty emptyFunc
}

// Kinds of refField.
const (
	fieldRef   = iota // a plain string named "reference": reported
	fieldWalk         // walked by plan
	fieldKeyed        // named "reference" but not a plain string: scanned
)

var (
	refMu    sync.Mutex
	refPlans atomic.Pointer[map[reflect.Type]*refPlan]
)

// refPlanOf returns the reference plan of t, building it (and those of
// the types it contains) on first use.
func refPlanOf(t reflect.Type) *refPlan {
	if m := refPlans.Load(); m != nil {
		if p := (*m)[t]; p != nil {
			return p
		}
	}
	refMu.Lock()
	defer refMu.Unlock()
	b := refBuilder{pending: map[reflect.Type]*refPlan{}}
	p := b.plan(t)
	b.settle()
	publishPlans(&refPlans, b.pending)
	return p
}

// refBuilder builds the plans of one refPlanOf call. As in planBuilder, a
// type is entered in pending before its parts, so a type that contains
// itself (Reference → Identifier → Reference, Extension → []Extension)
// finds its own plan; whether it can hold a reference is settled after
// all are built (settle), since a cycle may hold one only through
// itself.
type refBuilder struct {
	pending map[reflect.Type]*refPlan
}

func (b *refBuilder) plan(t reflect.Type) *refPlan {
	if m := refPlans.Load(); m != nil {
		if p := (*m)[t]; p != nil {
			return p
		}
	}
	if p := b.pending[t]; p != nil {
		return p
	}
	p := &refPlan{t: t}
	b.pending[t] = p
	b.build(p, t)
	return p
}

func (b *refBuilder) build(p *refPlan, t reflect.Type) {
	if !ownPlan(t) {
		p.kind, p.live, p.enc = refFallback, true, planOf(t)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p.kind, p.elem = refPointer, b.plan(t.Elem())
	case reflect.Slice:
		if !isBytes(t) {
			p.kind, p.elem, p.size = refSlice, b.plan(t.Elem()), t.Elem().Size()
		}
	case reflect.Array:
		// The encoder hands arrays to encoding/json, which writes each
		// element as the encoder would.
		p.kind, p.elem, p.size, p.n = refArray, b.plan(t.Elem()), t.Elem().Size(), t.Len()
	case reflect.Interface:
		p.kind, p.live = refAny, true
	case reflect.Map:
		p.kind, p.live, p.enc = refFallback, true, planOf(t)
	case reflect.Struct:
		b.buildStruct(p, t)
	}
	// Strings, numbers and bools hold no reference; a string is one only
	// as a field named "reference" (buildStruct).
}

// buildStruct follows planBuilder.buildStruct's view of t's fields.
func (b *refBuilder) buildStruct(p *refPlan, t reflect.Type) {
	st := &refStructPlan{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			p.kind, p.live, p.enc = refFallback, true, planOf(t) // the encoder's fallback too
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
		if name == "" || !validTagName(name) {
			name = f.Name
		}
		omit := false
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "omitempty":
				omit = true
			case "string", "omitzero", "inline", "format", "case":
				p.kind, p.live, p.enc = refFallback, true, planOf(t)
				return
			}
		}
		ft := f.Type
		rf := refField{offset: f.Offset, omit: omit}
		if omit {
			rf.empty = emptyFor(ft)
		}
		switch {
		case name != "reference":
			rf.kind, rf.plan = fieldWalk, b.plan(ft)
		case ft.Kind() == reflect.String && ft != numberType && ownPlan(ft):
			rf.kind = fieldRef
		case ownPlan(ft) && (ft.Kind() == reflect.Bool || ft == numberType || reflect.Int <= ft.Kind() && ft.Kind() <= reflect.Float64):
			continue // a number or bool: never `"reference":"`
		default:
			rf.kind, rf.key, rf.enc = fieldKeyed, string(appendString(nil, name))+":", planOf(ft)
		}
		st.fields = append(st.fields, rf)
	}
	p.kind, p.st = refStruct, st
}

// settle marks the pending plans that can hold a reference (live), in
// rounds until none changes, then empties the others and drops from
// each struct the fields that hold none.
func (b *refBuilder) settle() {
	for changed := true; changed; {
		changed = false
		for _, p := range b.pending {
			if p.live {
				continue
			}
			switch p.kind {
			case refPointer, refSlice, refArray:
				p.live = p.elem.live
			case refStruct:
				for _, f := range p.st.fields {
					if f.kind != fieldWalk || f.plan.live {
						p.live = true
						break
					}
				}
			}
			changed = changed || p.live
		}
	}
	for _, p := range b.pending {
		switch {
		case !p.live:
			p.kind, p.st, p.elem = refNone, nil, nil
		case p.kind == refStruct:
			p.st.fields = slices.DeleteFunc(p.st.fields, func(f refField) bool {
				return f.kind == fieldWalk && !f.plan.live
			})
		}
	}
}

// refSink receives the references a walk finds: it records the entries
// of named they name (other than self) in edges, from start on, once
// each; with named nil (tests) it collects them in found.
type refSink struct {
	named map[string]int
	self  int
	start int
	edges []int
	found []string
	buf   []byte // scratch for the fallback's encoding
}

func (s *refSink) ref(r string) {
	if s.named == nil {
		s.found = append(s.found, r)
		return
	}
	if j, ok := s.named[r]; ok && j != s.self && !slices.Contains(s.edges[s.start:], j) {
		s.edges = append(s.edges, j)
	}
}

// scan reports every `"reference":"...` string of the JSON in js, read
// up to its closing quote as literalUnits read them before the walker.
func (s *refSink) scan(js []byte) {
	const key = `"reference":"`
	for rest := js; ; {
		k := bytes.Index(rest, []byte(key))
		if k < 0 {
			return
		}
		rest = rest[k+len(key):]
		end := bytes.IndexByte(rest, '"')
		if end < 0 {
			return
		}
		s.ref(string(rest[:end]))
		rest = rest[end:]
	}
}

// walkRefs reports to s the references in v, a resource (a pointer to a
// struct of this package, or anything AppendJSON encodes).
func walkRefs(v any, s *refSink) error {
	if v == nil {
		return nil
	}
	t := reflect.TypeOf(v)
	p := refPlanOf(t)
	switch p.kind {
	case refNone:
		return nil
	case refPointer:
		q := reflect.ValueOf(v).UnsafePointer()
		if q == nil {
			return nil
		}
		return s.walk(p.elem, q)
	case refFallback:
		buf, err := AppendJSON(s.buf[:0], v)
		if err == nil {
			s.scan(buf)
		}
		s.buf = buf
		return err
	}
	// A value that is not a pointer: walked from a copy (the encoder
	// copies it too).
	cp := reflect.New(t)
	cp.Elem().Set(reflect.ValueOf(v))
	return s.walk(p, cp.UnsafePointer())
}

// encodeScan encodes the value at q as enc (the encoder's plan of its
// type) encodes it, after key, and scans that.
func (s *refSink) encodeScan(key string, enc *typePlan, q unsafe.Pointer) error {
	buf, err := enc.enc(append(s.buf[:0], key...), q)
	if err == nil {
		s.scan(buf)
	}
	s.buf = buf
	return err
}

// walk reports the references in the value at q (not nil) of plan p.
func (s *refSink) walk(p *refPlan, q unsafe.Pointer) error {
	switch p.kind {
	case refStruct:
		return s.walkStruct(p.st, q)
	case refPointer:
		if r := *(*unsafe.Pointer)(q); r != nil {
			return s.walk(p.elem, r)
		}
	case refSlice:
		h := (*sliceHeader)(q)
		for i := 0; i < h.len; i++ {
			if err := s.walk(p.elem, unsafe.Add(h.data, uintptr(i)*p.size)); err != nil {
				return err
			}
		}
	case refArray:
		for i := 0; i < p.n; i++ {
			if err := s.walk(p.elem, unsafe.Add(q, uintptr(i)*p.size)); err != nil {
				return err
			}
		}
	case refAny:
		if p.t.NumMethod() == 0 {
			return walkRefs(*(*any)(q), s)
		}
		return walkRefs(reflect.NewAt(p.t, q).Elem().Interface(), s)
	case refFallback:
		return s.encodeScan("", p.enc, q)
	}
	return nil
}

// walkStruct reports the references in the struct at q.
func (s *refSink) walkStruct(st *refStructPlan, q unsafe.Pointer) error {
	for i := range st.fields {
		f := &st.fields[i]
		fq := unsafe.Add(q, f.offset)
		switch f.kind {
		case fieldRef:
			if r := *(*string)(fq); r != "" || !f.omit {
				s.ref(r)
			}
		case fieldWalk:
			p := f.plan
			switch p.kind {
			case refStruct:
				if err := s.walkStruct(p.st, fq); err != nil {
					return err
				}
			case refPointer:
				if r := *(*unsafe.Pointer)(fq); r != nil {
					if err := s.walk(p.elem, r); err != nil {
						return err
					}
				}
			case refSlice:
				if h := (*sliceHeader)(fq); h.len > 0 {
					if err := s.walk(p, fq); err != nil {
						return err
					}
				}
			default: // an array, an interface, what is encoded and scanned
				if f.empty != nil && f.empty(fq) {
					continue
				}
				if err := s.walk(p, fq); err != nil {
					return err
				}
			}
		case fieldKeyed:
			if f.empty != nil && f.empty(fq) {
				continue
			}
			if err := s.encodeScan(f.key, f.enc, fq); err != nil {
				return err
			}
		}
	}
	return nil
}
