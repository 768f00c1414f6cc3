package v2fhir

import (
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

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

// reserve starts a chunk of n values (at most slabMax) when s has none
// free: for a conversion that knows how many values it will need, one
// chunk of the right size instead of doubling up to it.
func (s *slab[T]) reserve(n int) {
	if len(s.free) == 0 && n > 0 {
		s.size = min(n, slabMax)
		s.free = make([]T, s.size)
	}
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
	text        textArena
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

// textArena carves a conversion's short strings (fullUrls, references,
// minted identifier values, dates, phone numbers) from shared chunks, one
// allocation per chunk instead of one per string: they were about a third
// of a conversion's allocations, and like the slabs' values they all live
// exactly as long as the Bundle. It rests on strings.Builder's promise
// that a string it returned is never changed: later writes only append
// past it, and a full chunk is replaced, not grown in place. A textArena
// belongs to one conv: it is never shared between goroutines.
type textArena struct {
	b    strings.Builder
	size int // the current chunk's capacity
}

const (
	textFirst = 512
	textMax   = 4096
)

// reserve makes room for n more bytes in the current chunk, starting a
// new one when they do not fit (the old one stays with the strings cut
// from it), and returns the offset where the next string begins.
func (a *textArena) reserve(n int) int {
	if a.b.Cap()-a.b.Len() < n {
		a.size = min(max(2*a.size, textFirst), textMax)
		a.b = strings.Builder{}
		a.b.Grow(max(n, a.size))
	}
	return a.b.Len()
}

// start begins the first chunk with room for n bytes (between textFirst
// and textMax), for a conversion that can tell about how much text it
// will make.
func (a *textArena) start(n int) {
	a.size = min(max(n, textFirst), textMax)
	a.b.Grow(a.size)
}

// since returns what was written from offset start on.
func (a *textArena) since(start int) string {
	return a.b.String()[start:]
}

// cat is the concatenation of parts, as a + b + ... gives it (an empty
// result or a single non-empty part is returned without copying).
func (a *textArena) cat(parts ...string) string {
	n, only := 0, ""
	for _, p := range parts {
		if p != "" {
			n += len(p)
			only = p
		}
	}
	if n == len(only) {
		return only
	}
	start := a.reserve(n)
	for _, p := range parts {
		a.b.WriteString(p)
	}
	return a.since(start)
}

// bytes returns a copy of b as a string.
func (a *textArena) bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	start := a.reserve(len(b))
	a.b.Write(b)
	return a.since(start)
}
