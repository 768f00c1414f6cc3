package fhir

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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
// (MaxTransactionEntries when max ≤ 0), keeping entry order: converters
// put what others refer to (Patient, Organization, Practitioner) first, so
// each part only points at resources written by itself or an earlier part.
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
	n := (len(b.Entry) + max - 1) / max
	parts := make([]*Bundle, 0, n)
	for i := 0; i < n; i++ {
		lo, hi := i*max, min((i+1)*max, len(b.Entry))
		p := *b
		p.Entry = b.Entry[lo:hi:hi]
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
// carries all of them, so no resource has to be encoded to look for
// references (that search is a tenth of the gateway's CPU a message). A
// conditional entry written once more changes nothing at the exchange.
func SplitSharingAll(b *Bundle, max int) ([]*Bundle, error) {
	return splitConditional(b, max, func(cond []int) ([][]int, error) {
		refs := make([][]int, len(b.Entry))
		for i := range b.Entry {
			refs[i] = cond
		}
		return refs, nil
	})
}

// SplitShared cuts a transaction whose conditional entries (see
// Conditional) are referred to by their urn:uuid fullUrl, while every other
// entry is "PUT Type/id" referred to literally, into parts of at most max
// entries (MaxConditionalEntries when max ≤ 0). Each part carries a share
// of the other entries, in order, plus a copy of every conditional entry
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
// the conditional entries): a bundle that fits is returned whole, one
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
// other conditional entries (refs).
func splitShared(b *Bundle, max int, cond []int, refs [][]int) ([]*Bundle, error) {
	closure := func(i int) map[int]bool {
		seen := map[int]bool{}
		stack := append([]int(nil), refs[i]...)
		for len(stack) > 0 {
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !seen[c] {
				seen[c] = true
				stack = append(stack, refs[c]...)
			}
		}
		return seen
	}
	type part struct {
		cond   map[int]bool
		others []int
	}
	var parts []part
	cur := part{cond: map[int]bool{}}
	for i := range b.Entry {
		if Conditional(b.Entry[i]) {
			continue
		}
		need := closure(i)
		if len(need)+1 > max {
			return nil, fmt.Errorf("split: entry %d refers to %d conditional entries, more than fit in %d: %w", i, len(need), max, ErrNotSplittable)
		}
		union := len(cur.cond)
		for c := range need {
			if !cur.cond[c] {
				union++
			}
		}
		if len(cur.others) > 0 && union+len(cur.others)+1 > max {
			parts = append(parts, cur)
			cur = part{cond: map[int]bool{}}
		}
		for c := range need {
			cur.cond[c] = true
		}
		cur.others = append(cur.others, i)
	}
	if len(cur.others) > 0 || len(cur.cond) > 0 {
		parts = append(parts, cur)
	}
	// A conditional entry nothing refers to is still written, once.
	for _, c := range cond {
		placed := false
		for _, p := range parts {
			placed = placed || p.cond[c]
		}
		if placed {
			continue
		}
		need := closure(c)
		need[c] = true
		k := 0
		for k < len(parts) && len(parts[k].cond)+len(parts[k].others)+len(need) > max {
			k++
		}
		if k == len(parts) {
			parts = append(parts, part{cond: map[int]bool{}})
		}
		for n := range need {
			parts[k].cond[n] = true
		}
	}
	out := make([]*Bundle, 0, len(parts))
	for i, p := range parts {
		idx := append([]int(nil), p.others...)
		for c := range p.cond {
			idx = append(idx, c)
		}
		sort.Ints(idx) // bundle order: conditional entries keep their place
		q := *b
		q.Entry = make([]BundleEntry, len(idx))
		for j, k := range idx {
			q.Entry[j] = b.Entry[k]
		}
		if b.Identifier != nil {
			id := *b.Identifier
			id.Value += "#" + strconv.Itoa(i+1) + "/" + strconv.Itoa(len(parts))
			q.Identifier = &id
		}
		out = append(out, &q)
	}
	return out, nil
}
