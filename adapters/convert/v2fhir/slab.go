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
	// reuse is set in a leased conversion (Converter.ConvertLeased): the
	// chunks are then kept, and handed out again by the next leased
	// conversion after Lease.Release, instead of being left to the
	// garbage collector. chunks[:used] are this conversion's; all the
	// others are zero (Release clears what a conversion used).
	reuse  bool
	chunks [][]T
	used   int
}

const (
	slabFirst = 4
	slabMax   = 32
	// reuseMax is the longest chunk a leased conversion keeps for the
	// next one; longer ones (a report of hundreds of results) are left
	// to the garbage collector, so the pooled memory stays small.
	reuseMax = 64
	// reuseChunks is the most chunks of one slab kept for reuse.
	reuseChunks = 16
)

// chunk returns n zero values: a new slice, or in a leased conversion
// the next kept chunk when it is long enough.
func (s *slab[T]) chunk(n int) []T {
	if !s.reuse || n > reuseMax {
		return make([]T, n)
	}
	if s.used < len(s.chunks) {
		if c := s.chunks[s.used]; cap(c) >= n {
			s.used++
			return c[:n:n]
		}
		s.chunks[s.used] = make([]T, n)
	} else {
		if len(s.chunks) >= reuseChunks {
			return make([]T, n)
		}
		s.chunks = append(s.chunks, make([]T, n))
	}
	s.used++
	c := s.chunks[s.used-1]
	return c[:n:n]
}

// one returns a pointer to a zero T of its own (a chunk of one).
func (s *slab[T]) one() *T {
	return &s.chunk(1)[0]
}

// recycle clears the chunks this conversion used, so that the next
// leased conversion finds them zero and the pool keeps nothing of this
// message alive, and starts over.
func (s *slab[T]) recycle() {
	for _, c := range s.chunks[:s.used] {
		clear(c[:cap(c)])
	}
	s.free, s.size, s.used = nil, 0, 0
}

// next returns a pointer to a zero T.
func (s *slab[T]) next() *T {
	if len(s.free) == 0 {
		s.size = min(max(2*s.size, slabFirst), slabMax)
		s.free = s.chunk(s.size)
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
		s.free = s.chunk(s.size)
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
	strChunks   slab[string]
	text        textArena

	// The resources' own allocations and the bundle's lists, through
	// one() and chunk(), so that a leased conversion reuses them too.
	entries       slab[fhir.BundleEntry]
	targets       slab[fhir.Reference]
	reqs          slab[fhir.BundleRequest]
	refLists      slab[fhir.Reference]
	bundles       slab[bundleBox]
	closings      slab[closingBox]
	patients      slab[patientBox]
	patientCores  slab[patientCore]
	encounters    slab[encounterBox]
	practitioners slab[practitionerBox]
	allergies     slab[allergyBox]
	conditions    slab[conditionBox]
	reports       slab[reportBuilder]
	observations  slab[obsBuilder]
}

// lease makes s keep and reuse its chunks (see slab.reuse).
func (s *slabs) lease() {
	s.forEach(func(r reusable) { r.setReuse() })
}

// recycle readies a leased s for the next leased conversion: every
// chunk the last one used is cleared, and the text arena, whose strings
// may live on in what the caller kept (error messages, Result), is
// dropped, never reused.
func (s *slabs) recycle() {
	s.forEach(func(r reusable) { r.recycle() })
	s.strs = nil
	s.text = textArena{}
}

// kept is how many chunks s holds, to bound what a pool of them keeps.
func (s *slabs) kept() int {
	n := 0
	s.forEach(func(r reusable) { n += r.kept() })
	return n
}

type reusable interface {
	setReuse()
	recycle()
	kept() int
}

func (s *slab[T]) setReuse() { s.reuse = true }
func (s *slab[T]) kept() int { return len(s.chunks) }

func (s *slabs) forEach(f func(reusable)) {
	for _, r := range [...]reusable{&s.quantities, &s.concepts, &s.identifiers, &s.names, &s.contacts, &s.addresses, &s.codings, &s.references, &s.strChunks,
		&s.entries, &s.targets, &s.reqs, &s.refLists, &s.bundles, &s.closings, &s.patients, &s.patientCores, &s.encounters, &s.practitioners, &s.allergies, &s.conditions, &s.reports, &s.observations} {
		f(r)
	}
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
		s.strs = s.strChunks.chunk(max(n, 8))
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
