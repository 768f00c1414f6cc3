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
}
