package v2fhir

import "github.com/ferry-health/ferry/adapters/fhir"

// slab hands out pointers to zeroed values carved from chunks, one
// allocation per chunk instead of one per value. A conversion makes dozens
// of small datatype values (quantities, codeable concepts, identifiers)
// that all live exactly as long as its Bundle, so grouping them keeps
// nothing alive that would otherwise be freed earlier, and saves about a
// third of a conversion's allocations. Chunks double from slabFirst to
// slabMax values, so a message that needs few wastes little. A slab
// belongs to one conv: it is never shared between goroutines.
type slab[T any] struct {
	free []T
	size int // the last chunk's length
}

const (
	slabFirst = 4
	slabMax   = 32
)

// next returns a pointer to a zero T.
func (s *slab[T]) next() *T {
	if len(s.free) == 0 {
		s.size = min(max(2*s.size, slabFirst), slabMax)
		s.free = make([]T, s.size)
	}
	p := &s.free[0]
	s.free = s.free[1:]
	return p
}

// box returns a pointer to a copy of v in the slab, or nil when ok is
// false: the pointer forms of the datatype converters (cx, xpn, ...) are
// their value forms boxed this way.
func (s *slab[T]) box(v T, ok bool) *T {
	if !ok {
		return nil
	}
	p := s.next()
	*p = v
	return p
}

// conceptBox is a CodeableConcept with room for its first coding, which
// is what nearly every converted CWE holds.
type conceptBox struct {
	cc  fhir.CodeableConcept
	one [1]fhir.Coding
}

// slabs are a conv's slabs, by type.
type slabs struct {
	quantities  slab[fhir.Quantity]
	concepts    slab[conceptBox]
	identifiers slab[fhir.Identifier]
	names       slab[fhir.HumanName]
	contacts    slab[fhir.ContactPoint]
	addresses   slab[fhir.Address]
	codings     slab[fhir.Coding]
	references  slab[fhir.Reference]
	strs        []string // carved by strings
}

// into is s, or buf's storage when s is still nil, for an append: the
// first few elements of a resource's lists then live in its own
// allocation, and a list nothing is appended to stays nil.
func into[T any](s, buf []T) []T {
	if s == nil {
		return buf[:0]
	}
	return s
}

// strings returns an empty slice with room for n strings (names' given
// parts, address lines), carved from a shared chunk like slab's values.
func (s *slabs) strings(n int) []string {
	if len(s.strs) < n {
		s.strs = make([]string, max(n, 8))
	}
	out := s.strs[:0:n]
	s.strs = s.strs[n:]
	return out
}
