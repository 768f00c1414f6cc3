package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// MaxTransactionEntries is the largest transaction a Medplum-based
// exchange accepts when every entry is an update (at most 50 PUTs).
const MaxTransactionEntries = 50

// ErrNotSplittable is returned by SplitTransaction for a bundle with
// conditional entries: their urn:uuid references resolve only inside one
// transaction.
var ErrNotSplittable = errors.New("bundle uses conditional entries and cannot be split")

// SplitTransaction cuts a transaction whose entries are all "PUT Type/id"
// (with literal Type/id references) into parts of at most max entries
// (MaxTransactionEntries when max ≤ 0), keeping entry order where
// references allow (converters put what others refer to, Patient,
// Organization, Practitioner, first): an entry goes with or after those it
// refers to, and entries that refer to each other (an Encounter and its
// diagnoses) go in one part (literalUnits), so each part only points at
// resources written by itself or an earlier part.
// Deliver the parts in order under one queue key; re-sending any part is
// harmless. Each part keeps the bundle's meta (security labels) and gets
// the identifier "<value>#<i>/<n>". A bundle that fits is returned as is.
func SplitTransaction(b *Bundle, max int) ([]*Bundle, error) {
	if max <= 0 {
		max = MaxTransactionEntries
	}
	if len(b.Entry) <= max {
		return []*Bundle{b}, nil
	}
	for _, e := range b.Entry {
		if e.Request != nil && strings.Contains(e.Request.URL, "?") {
			return nil, ErrNotSplittable
		}
	}
	units, sc, err := literalUnits(b, func(int) bool { return false })
	defer sc.release() // units are read until the parts are made
	if err != nil {
		return nil, err
	}
	// The parts' entries, by index: whole units, a unit larger than a part
	// (which no cut can keep together) cut in its order.
	var groups [][]int
	var cur []int
	for _, u := range units {
		if len(cur)+len(u) > max && len(cur) > 0 {
			groups, cur = append(groups, cur), nil
		}
		for len(u) > max {
			groups, u = append(groups, u[:max]), u[max:]
		}
		cur = append(cur, u...)
	}
	groups = append(groups, cur)
	n := len(groups)
	parts := make([]*Bundle, 0, n)
	for i, g := range groups {
		slices.Sort(g) // bundle order within a part
		p := *b
		p.Entry = make([]BundleEntry, len(g))
		for k, j := range g {
			p.Entry[k] = b.Entry[j]
		}
		if b.Identifier != nil {
			id := *b.Identifier
			id.Value += "#" + strconv.Itoa(i+1) + "/" + strconv.Itoa(n)
			p.Identifier = &id
		}
		parts = append(parts, &p)
	}
	return parts, nil
}

// MaxConditionalEntries is the largest transaction a Medplum-based exchange
// accepts when it holds a conditional create (ifNoneExist), or a
// conditional update that finds no match and so creates: such a
// transaction needs serializable isolation, which @medplum/fhir-router
// refuses above 8 entries ("Transaction requires strict isolation but has
// too many entries"). A conditional update that matches is rewritten to
// Type/id before that check and does not count, but a sender cannot know
// in advance which one it will be.
const MaxConditionalEntries = 8

// Conditional reports whether e is a conditional write: a PUT, PATCH or
// DELETE whose URL is a search ("Patient?identifier=..."), or a create
// with ifNoneExist. The receiver resolves or assigns its id, so other
// entries can only refer to it by its fullUrl, inside one transaction.
func Conditional(e BundleEntry) bool {
	return e.Request != nil && (strings.Contains(e.Request.URL, "?") || e.Request.IfNoneExist != "")
}

// SplitSharingAll is SplitShared for bundles whose conditional entries
// everything else may refer to (the Patient of a message): every part
// carries all of them, so no resource has to be searched for the
// conditional entries it names; the other entries are ordered by their
// literal references as SplitTransaction orders them. A conditional entry
// written once more changes nothing at the exchange.
func SplitSharingAll(b *Bundle, max int) ([]*Bundle, error) {
	return splitConditional(b, max, func([]int) ([][]int, error) {
		return nil, nil // every entry needs every conditional entry
	})
}

// SplitShared cuts a transaction whose conditional entries (see
// Conditional) are referred to by their urn:uuid fullUrl, while every other
// entry is "PUT Type/id" referred to literally, into parts of at most max
// entries (MaxConditionalEntries when max ≤ 0). Each part carries a share
// of the other entries, in order where their literal references allow (as
// SplitTransaction orders them), plus a copy of every conditional entry
// they refer to (directly or through another conditional entry), so each
// part's urn:uuid references resolve inside it: the receiver resolves the
// same conditional entry again in every part (a patient found by its
// identifier), and re-sending any part is harmless. Parts are named like
// SplitTransaction's. A bundle that fits is returned as is; one entry that
// needs more conditional entries than fit beside it gives
// ErrNotSplittable.
func SplitShared(b *Bundle, max int) ([]*Bundle, error) {
	return splitConditional(b, max, func(cond []int) ([][]int, error) {
		// refs[i] lists the conditional entries entry i names by fullUrl.
		refs := make([][]int, len(b.Entry))
		var buf []byte
		for i, e := range b.Entry {
			var err error
			if buf, err = AppendJSON(buf[:0], e.Resource); err != nil {
				return nil, fmt.Errorf("split: entry %d: %w", i, err)
			}
			for _, c := range cond {
				if c != i && b.Entry[c].FullURL != "" && bytes.Contains(buf, []byte(`"`+b.Entry[c].FullURL+`"`)) {
					refs[i] = append(refs[i], c)
				}
			}
		}
		return refs, nil
	})
}

// splitConditional is SplitShared and SplitSharingAll without their view of
// which conditional entries each entry needs (refsOf, given the indexes of
// the conditional entries; nil refs: all of them): a bundle that fits is returned whole, one
// without conditional entries splits as SplitTransaction does.
func splitConditional(b *Bundle, max int, refsOf func(cond []int) ([][]int, error)) ([]*Bundle, error) {
	if max <= 0 {
		max = MaxConditionalEntries
	}
	if len(b.Entry) <= max {
		return []*Bundle{b}, nil
	}
	var cond []int // indexes of the conditional entries
	for i, e := range b.Entry {
		if Conditional(e) {
			cond = append(cond, i)
		}
	}
	if len(cond) == 0 {
		return SplitTransaction(b, max)
	}
	refs, err := refsOf(cond)
	if err != nil {
		return nil, err
	}
	return splitShared(b, max, cond, refs)
}

// splitShared cuts b into parts of at most max entries, each carrying the
// conditional entries (cond) its other entries need, directly or through
// other conditional entries (refs; nil when every entry needs all of
// them, as if each listed cond).
//
// Every message of the default write mode goes through here, so the sets
// are bitsets over entry indexes (a bundle of up to 64 entries needs one
// word per set) and every part's entries are cut from one array: the
// partition and order are those of the map-based version it replaced
// (TestSplitSharedMatchesReference keeps that version as a reference), at
// a fraction of its allocations.
func splitShared(b *Bundle, max int, cond []int, refs [][]int) ([]*Bundle, error) {
	n := len(b.Entry)
	w := (n + 63) / 64
	// One block: which entries are conditional, scratch sets, and what each
	// conditional entry needs (clo, in the order of cond); the parts' sets
	// (partBits) start in its spare room.
	words := make([]uint64, (3+len(cond))*w, (7+len(cond))*w)
	isCond, need, seen := bitset(words[:w]), bitset(words[w:2*w]), bitset(words[2*w:3*w])
	clo := words[3*w:]
	for _, c := range cond {
		isCond.set(c)
	}
	if refs == nil {
		// Each conditional entry needs all of them (itself included, as a
		// cycle would), and so does every other entry.
		for k := range cond {
			copy(clo[k*w:(k+1)*w], isCond)
		}
	}
	// cloOf is what conditional entry c needs besides itself: everything
	// reachable from it in one step or more.
	cloOf := func(c int) bitset {
		k, _ := slices.BinarySearch(cond, c)
		return bitset(clo[k*w : (k+1)*w])
	}
	var stackBuf [16]int
	stack := stackBuf[:0]
	for k, c := range cond {
		if refs == nil {
			break
		}
		clear(seen)
		stack = append(stack[:0], refs[c]...)
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !seen.has(x) {
				seen.set(x)
				stack = append(stack, refs[x]...)
			}
		}
		copy(clo[k*w:(k+1)*w], seen)
	}
	// A part holds a run of the non-conditional entries in the order
	// literalUnits gives them (others of them, flat[lo:hi]) and the
	// conditional entries in its set (partBits[off:off+w]).
	type part struct{ off, lo, hi, others int }
	var partsBuf [4]part
	parts := partsBuf[:0]
	partBits := words[len(words):len(words)]
	condOf := func(p part) bitset { return bitset(partBits[p.off : p.off+w]) }
	newPart := func(lo int) {
		parts = append(parts, part{off: len(partBits), lo: lo, hi: lo})
		partBits = append(partBits, make([]uint64, w)...)
	}
	// The other entries go in the order and units literalUnits gives
	// (bundle order when none refers to a later one), flat holding them
	// in that order: a part's are flat[lo:hi].
	units, sc, err := literalUnits(b, isCond.has)
	defer sc.release() // units are read until the parts are made
	if err != nil {
		return nil, err
	}
	flat := slices.Grow(sc.flat[:0], n-len(cond))
	defer func() { sc.flat = flat }()
	cur := -1 // the part being filled, none before the first entry
	needOf := func(u []int) {
		if refs == nil {
			copy(need, isCond)
			return
		}
		clear(need)
		for _, i := range u {
			for _, c := range refs[i] {
				need.set(c)
				need.or(cloOf(c))
			}
		}
	}
	place := func(u []int) error {
		needOf(u)
		size := need.count()
		if size+len(u) > max {
			return fmt.Errorf("split: entry %d refers to %d conditional entries, more than fit in %d: %w", u[0], size, max, ErrNotSplittable)
		}
		if cur >= 0 && parts[cur].others+condOf(parts[cur]).unionCount(need)+len(u) > max {
			cur = -1
		}
		if cur < 0 {
			newPart(len(flat))
			cur = len(parts) - 1
		}
		condOf(parts[cur]).or(need)
		flat = append(flat, u...)
		parts[cur].hi = len(flat)
		parts[cur].others += len(u)
		return nil
	}
	for _, u := range units {
		if len(u) > 1 {
			if needOf(u); need.count()+len(u) > max {
				// No part holds the whole cycle: its entries go one by
				// one, in bundle order.
				for _, i := range u {
					if err := place([]int{i}); err != nil {
						return nil, err
					}
				}
				continue
			}
		}
		if err := place(u); err != nil {
			return nil, err
		}
	}
	// A conditional entry nothing refers to is still written, once.
	for _, c := range cond {
		placed := false
		for _, p := range parts {
			placed = placed || condOf(p).has(c)
		}
		if placed {
			continue
		}
		copy(need, cloOf(c))
		need.set(c)
		size := need.count()
		k := 0
		for k < len(parts) && condOf(parts[k]).count()+parts[k].others+size > max {
			k++
		}
		if k == len(parts) {
			newPart(0)
		}
		condOf(parts[k]).or(need)
	}
	total := 0
	for _, p := range parts {
		total += condOf(p).count() + p.others
	}
	entries := make([]BundleEntry, 0, total)
	// Each part's Bundle and Identifier, side by side in one array.
	type bundleID struct {
		b  Bundle
		id Identifier
	}
	bundles := make([]bundleID, len(parts))
	out := make([]*Bundle, len(parts))
	// The parts' identifier values ("<value>#<i>/<n>"), cut in turn from
	// one string.
	var values string
	of := "/" + strconv.Itoa(len(parts))
	if b.Identifier != nil {
		var sb strings.Builder
		sb.Grow(len(parts) * (len(b.Identifier.Value) + 2*len(of)))
		for i := range parts {
			sb.WriteString(b.Identifier.Value)
			sb.WriteByte('#')
			sb.WriteString(strconv.Itoa(i + 1))
			sb.WriteString(of)
		}
		values = sb.String()
	}
	for i, p := range parts {
		// The part's entries in bundle order: conditional entries keep
		// their place among the others.
		mask := need // free again: used as scratch
		copy(mask, condOf(p))
		for _, j := range flat[p.lo:p.hi] {
			mask.set(j)
		}
		start := len(entries)
		for wi, word := range mask {
			for word != 0 {
				entries = append(entries, b.Entry[wi*64+bits.TrailingZeros64(word)])
				word &= word - 1
			}
		}
		q := &bundles[i].b
		*q = *b
		q.Entry = entries[start:len(entries):len(entries)]
		if b.Identifier != nil {
			id := &bundles[i].id
			*id = *b.Identifier
			l := len(id.Value) + len("#") + len(strconv.Itoa(i+1)) + len(of)
			id.Value, values = values[:l], values[l:]
			q.Identifier = id
		}
		out[i] = q
	}
	return out, nil
}

// bitset is a set of entry indexes, one bit each.
type bitset []uint64

func (s bitset) set(i int)      { s[i>>6] |= 1 << (i & 63) }
func (s bitset) has(i int) bool { return s[i>>6]&(1<<(i&63)) != 0 }

// or adds the members of t (as long as s) to s.
func (s bitset) or(t bitset) {
	for i := range s {
		s[i] |= t[i]
	}
}

func (s bitset) count() int {
	n := 0
	for _, x := range s {
		n += bits.OnesCount64(x)
	}
	return n
}

// unionCount is the size of s ∪ t (t as long as s).
func (s bitset) unionCount(t bitset) int {
	n := 0
	for i, x := range s {
		n += bits.OnesCount64(x | t[i])
	}
	return n
}

// SplitSeeding cuts a transaction whose entries are written by their
// identifier (conditional updates, PUT Type?identifier=..., and
// conditional creates, every entry referring to the others by urn:uuid
// fullUrl: hl7v2.writes conditional) for an exchange that takes at most
// max entries (MaxConditionalEntries when max ≤ 0) in a transaction that
// may create conditionally. Such a bundle cannot be cut as SplitShared cuts
// one: a report refers to each of its results and the Provenance to every
// entry, and a urn:uuid resolves only inside its transaction, while a
// conditional update that finds the resource it names does not make the
// transaction one that creates (see MaxConditionalEntries). So the parts
// are:
//
//   - seeds, in order, of at most max entries: each conditional entry as a
//     conditional create (POST Type, ifNoneExist identifier=...), which
//     writes it only when the exchange holds nothing with its identifier,
//     and otherwise leaves what it holds as it is. A seed's references to
//     entries of other parts are left out (a backbone element or
//     extension holding one goes with it), and every part carries the
//     Patient entries, so the references a resource must have are there;
//   - last, b whole, in which every conditional update now finds its
//     resource and updates it, and every conditional create is a
//     conditional PATCH that changes nothing (a JSON Patch "test" of its
//     resourceType: the resource it would create is there, the seed), so
//     the exchange takes it as a transaction that creates nothing, and it
//     writes the message as one transaction would, references resolved.
//
// Every part is harmless to send again, and the parts go in order under
// one queue key. The last part is refused, as b whole was, when its
// updates are more than the exchange takes (MaxTransactionEntries). A
// bundle that fits, or has no conditional entry, is cut as splitConditional
// cuts it.
func SplitSeeding(b *Bundle, max int) ([]*Bundle, error) {
	if max <= 0 {
		max = MaxConditionalEntries
	}
	if len(b.Entry) <= max {
		return []*Bundle{b}, nil
	}
	var shared, seeded []int // the Patient entries; the other entries to seed
	for i, e := range b.Entry {
		if !seedable(e) {
			continue
		}
		if _, ok := e.Resource.(*Patient); ok {
			shared = append(shared, i)
		} else {
			seeded = append(seeded, i)
		}
	}
	if len(shared)+len(seeded) == 0 {
		return SplitTransaction(b, max)
	}
	room := max - len(shared)
	if room < 1 {
		return nil, fmt.Errorf("split: %d Patient entries leave no room in transactions of %d: %w", len(shared), max, ErrNotSplittable)
	}
	// A conditional create is written by its seed alone when the exchange
	// lacks it (the last part leaves it as it finds it), so its seed
	// goes with the entries it refers to, and theirs when they are
	// conditional creates too; other seeds are completed by the last
	// part.
	entries := make(map[string]bool, len(b.Entry)) // the fullUrls of b
	for _, e := range b.Entry {
		if e.FullURL != "" {
			entries[e.FullURL] = true
		}
	}
	var buf []byte
	group := func(i int) ([]int, error) {
		g := []int{i}
		for k := 0; k < len(g); k++ {
			e := b.Entry[g[k]]
			if e.Request.Method != "POST" {
				continue
			}
			var err error
			if buf, err = AppendJSON(buf[:0], e.Resource); err != nil {
				return nil, fmt.Errorf("split: entry %d: %w", g[k], err)
			}
			for _, j := range seeded {
				u := b.Entry[j].FullURL
				if u != "" && !slices.Contains(g, j) && bytes.Contains(buf, []byte(`"`+u+`"`)) {
					g = append(g, j)
				}
			}
		}
		return g, nil
	}
	var chunks [][]int
	placed := make(map[int]bool, len(seeded))
	// The first part writes what a Patient written by a conditional
	// create refers to (only its first seed can create it).
	var first []int
	for _, i := range shared {
		g, err := group(i)
		if err != nil {
			return nil, err
		}
		for _, j := range g[1:] {
			if !slices.Contains(first, j) {
				first = append(first, j)
			}
		}
	}
	for n, i := range append([]int{-1}, seeded...) {
		g := first
		if n > 0 {
			if placed[i] {
				continue
			}
			var err error
			if g, err = group(i); err != nil {
				return nil, err
			}
		}
		if len(g) > room {
			// A seed cannot be whole beside what it refers to.
			return []*Bundle{b}, nil
		}
		k := len(chunks) - 1
		if k < 0 || len(chunks[k])+len(g) > room {
			chunks = append(chunks, nil)
			k++
		}
		for _, j := range g {
			if !slices.Contains(chunks[k], j) {
				chunks[k] = append(chunks[k], j)
			}
			placed[j] = true
		}
	}
	if len(chunks) == 0 {
		chunks = [][]int{nil} // the Patient entries alone
	}
	out := make([]*Bundle, 0, len(chunks)+1)
	in := make(map[string]bool, len(shared)+len(seeded))
	for _, chunk := range chunks {
		idx := slices.Concat(shared, chunk)
		slices.Sort(idx)
		clear(in)
		for _, i := range idx {
			in[b.Entry[i].FullURL] = true
		}
		p := *b
		p.Entry = make([]BundleEntry, len(idx))
		for j, i := range idx {
			seed, err := seedEntry(b.Entry[i], func(ref string) bool {
				return entries[ref] && !in[ref]
			})
			if err != nil {
				return nil, fmt.Errorf("split: entry %d: %w", i, err)
			}
			p.Entry[j] = seed
		}
		out = append(out, &p)
	}
	last := *b
	last.Entry = slices.Clone(b.Entry)
	for i, e := range last.Entry {
		if e.Request != nil && e.Request.Method == "POST" && e.Request.IfNoneExist != "" && seedable(e) {
			last.Entry[i] = BundleEntry{
				FullURL:  e.FullURL,
				Resource: &Binary{ResourceType: "Binary", ContentType: JSONPatchType, Data: []byte(`[{"op":"test","path":"/resourceType","value":"` + e.Request.URL + `"}]`)},
				Request:  &BundleRequest{Method: "PATCH", URL: e.Request.URL + "?" + e.Request.IfNoneExist},
			}
		}
	}
	out = append(out, &last)
	if b.Identifier != nil {
		of := "/" + strconv.Itoa(len(out))
		for i, p := range out {
			id := *b.Identifier
			id.Value += "#" + strconv.Itoa(i+1) + of
			p.Identifier = &id
		}
	}
	return out, nil
}

// seedable reports whether SplitSeeding seeds e: a conditional update
// (PUT Type?...) or conditional create (POST Type, ifNoneExist) of a
// resource.
func seedable(e BundleEntry) bool {
	if e.Request == nil || e.Resource == nil {
		return false
	}
	switch e.Request.Method {
	case "PUT":
		typ, _, search := strings.Cut(e.Request.URL, "?")
		return search && typ != "" && !strings.Contains(typ, "/")
	case "POST":
		return e.Request.IfNoneExist != "" && e.Request.URL != "" && !strings.ContainsAny(e.Request.URL, "/?")
	}
	return false
}

// seedEntry is e as a conditional create with the references drop
// names left out (see SplitSeeding).
func seedEntry(e BundleEntry, drop func(ref string) bool) (BundleEntry, error) {
	url, search := e.Request.URL, e.Request.IfNoneExist
	if e.Request.Method == "PUT" {
		url, search, _ = strings.Cut(url, "?")
	}
	js, err := AppendJSON(nil, e.Resource)
	if err != nil {
		return BundleEntry{}, err
	}
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber() // a decimal keeps its digits
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return BundleEntry{}, err
	}
	pruneRefs(v, false, drop)
	rt, _ := v["resourceType"].(string)
	delete(v, "resourceType")
	rest, err := json.Marshal(v)
	if err != nil {
		return BundleEntry{}, err
	}
	// resourceType first, as FHIR JSON writes it (json.html).
	js = AppendJSONString(append(js[:0], `{"resourceType":`...), rt)
	if len(rest) > 2 {
		js = append(js, ',')
	}
	js = append(js, rest[1:]...)
	return BundleEntry{FullURL: e.FullURL, Resource: json.RawMessage(js), Request: &BundleRequest{Method: "POST", URL: url, IfNoneExist: search}}, nil
}

// pruneRefs removes from m every Reference drop names, with the element
// that holds it when that element is one of a list (a participant, a
// location, an extension: what is left of it may lack what it must have),
// and lists and elements left empty. It reports whether m itself should go.
func pruneRefs(m map[string]any, inList bool, drop func(ref string) bool) bool {
	if ref, ok := m["reference"].(string); ok && drop(ref) {
		delete(m, "reference")
		if len(m) == 0 || inList {
			return true
		}
		if _, ok := m["display"]; !ok {
			if _, ok := m["identifier"]; !ok {
				return true
			}
		}
	}
	lost := false
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			if pruneRefs(x, false, drop) {
				delete(m, k)
				lost = true
			}
		case []any:
			kept := x[:0]
			for _, y := range x {
				if ym, ok := y.(map[string]any); ok && pruneRefs(ym, true, drop) {
					continue
				}
				kept = append(kept, y)
			}
			if len(kept) == 0 {
				delete(m, k)
				lost = true
			} else {
				m[k] = kept
			}
		}
	}
	return len(m) == 0 || lost && inList
}

// literalUnits orders the entries of b that skip does not pass over (the
// entries written under a literal id, PUT Type/id) for cutting into
// parts, as units that each go whole into one part: each unit after the
// units whose entries it refers to, by Type/id or by fullUrl, and entries
// that refer to each other in a cycle (an Encounter naming its diagnoses,
// each Condition naming its Encounter) in one unit. Entries keep bundle
// order where references do not say otherwise, so a bundle none of whose
// entries refers to a later one gives one unit an entry, in order. A part
// then names only resources it or an earlier part writes: an exchange that
// checks references on write (HAPI FHIR by default, Medplum with
// checkReferencesOnWrite) refuses a transaction naming one it does not
// hold yet.
//
// Every message cut into parts comes here, so what it works with (the
// map, the references, Tarjan's arrays) and the units it returns are in
// sc, from a pool: the caller calls sc.release once done with the units.
func literalUnits(b *Bundle, skip func(i int) bool) (units [][]int, sc *unitsScratch, err error) {
	n := len(b.Entry)
	sc = unitsPool.Get().(*unitsScratch)
	// named maps the Type/id each entry is written under to the entry.
	named := sc.named
	for i, e := range b.Entry {
		if !skip(i) && e.Request != nil && e.Request.Method == "PUT" && strings.Count(e.Request.URL, "/") == 1 && !strings.Contains(e.Request.URL, "?") {
			named[e.Request.URL] = i
		}
	}
	// refs[i] is what entry i refers to: sink.edges[ends[i]:ends[i+1]].
	sink := &sc.sink
	sink.edges = sink.edges[:0]
	ends := append(sc.ends[:0], 0)
	if len(named) > 0 {
		// Each resource's references, walked (walkRefs, about a tenth
		// of the cost of encoding it to read them off its JSON).
		sink.named = named
		for i, e := range b.Entry {
			if !skip(i) && e.Resource != nil {
				sink.self, sink.start = i, len(sink.edges)
				if err := walkRefs(e.Resource, sink); err != nil {
					return nil, sc, fmt.Errorf("split: entry %d: %w", i, err)
				}
			}
			ends = append(ends, len(sink.edges))
		}
	} else {
		for range b.Entry {
			ends = append(ends, 0)
		}
	}
	sc.ends = ends
	// Tarjan's strongly connected components, from the entries in bundle
	// order: a component is complete only after every component it refers
	// to, so they come out in the order to write them.
	t := &sc.tarjan
	t.edges, t.ends = sink.edges, ends
	t.index = append(t.index[:0], make([]int, n)...) // 0: not visited; else the visit's number + 1
	t.low = append(t.low[:0], make([]int, n)...)
	t.onStack = append(t.onStack[:0], make([]bool, n)...)
	t.stack, t.next = t.stack[:0], 1
	// The units; their entries, one unit after another (room for all,
	// so the units are never left in an old array).
	t.units, t.all = slices.Grow(t.units[:0], n), slices.Grow(t.all[:0], n)
	for i := range b.Entry {
		if !skip(i) && t.index[i] == 0 {
			t.strongconnect(i)
		}
	}
	return t.units, sc, nil
}

// tarjan is the state of literalUnits' search for strongly connected
// components.
type tarjan struct {
	edges, ends       []int // v refers to edges[ends[v]:ends[v+1]]
	index, low, stack []int
	onStack           []bool
	next              int
	units             [][]int
	all               []int
}

func (t *tarjan) strongconnect(v int) {
	t.index[v], t.low[v] = t.next, t.next
	t.next++
	t.stack = append(t.stack, v)
	t.onStack[v] = true
	for _, w := range t.edges[t.ends[v]:t.ends[v+1]] {
		switch {
		case t.index[w] == 0:
			t.strongconnect(w)
			t.low[v] = min(t.low[v], t.low[w])
		case t.onStack[w]:
			t.low[v] = min(t.low[v], t.index[w])
		}
	}
	if t.low[v] == t.index[v] {
		start := len(t.all)
		for {
			w := t.stack[len(t.stack)-1]
			t.stack = t.stack[:len(t.stack)-1]
			t.onStack[w] = false
			t.all = append(t.all, w)
			if w == v {
				break
			}
		}
		unit := t.all[start:len(t.all):len(t.all)]
		slices.Sort(unit)
		t.units = append(t.units, unit)
	}
}

// unitsScratch is literalUnits' pooled scratch.
type unitsScratch struct {
	flat   []int // splitShared's order of the entries
	named  map[string]int
	ends   []int
	sink   refSink
	tarjan tarjan
}

var unitsPool = sync.Pool{New: func() any { return &unitsScratch{named: map[string]int{}} }}

// release returns sc to unitsPool, holding nothing of the bundle (the
// map's keys are its URLs); the units literalUnits returned with it are
// not to be read after.
func (sc *unitsScratch) release() {
	if len(sc.named) > 1024 {
		sc.named = map[string]int{} // a rare large bundle's map is not kept
	}
	clear(sc.named)
	sc.sink.named = nil
	sc.tarjan.edges, sc.tarjan.ends = nil, nil
	if cap(sc.sink.buf) > 1<<20 {
		sc.sink.buf = nil
	}
	unitsPool.Put(sc)
}
