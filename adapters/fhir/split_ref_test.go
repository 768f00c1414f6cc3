package fhir

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
)

// refSplitShared is splitShared as it was written first, with maps for
// sets; the bitset version must cut every bundle exactly as it does.
func refSplitShared(b *Bundle, max int, cond []int, refs [][]int) ([]*Bundle, error) {
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
		sort.Ints(idx)
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

// TestSplitSharedMatchesReference: on random bundles (up to 150 entries,
// so sets span several words; random conditional entries, references
// between them, cycles and caps), splitShared gives the reference's parts,
// identifiers and errors.
func TestSplitSharedMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for iter := 0; iter < 3000; iter++ {
		n := 1 + r.IntN(150)
		if iter%2 == 0 {
			n = 1 + r.IntN(20)
		}
		b := &Bundle{ResourceType: "Bundle", Type: "transaction"}
		if r.IntN(4) > 0 {
			b.Identifier = &Identifier{System: "urn:m", Value: "M" + strconv.Itoa(iter)}
		}
		var cond []int
		for i := 0; i < n; i++ {
			e := obs(i, "")
			if r.IntN(8) == 0 {
				e = condPatient(i)
				cond = append(cond, i)
			}
			b.Entry = append(b.Entry, e)
		}
		refs := make([][]int, n)
		all := r.IntN(3) == 0 // SplitSharingAll's view: splitShared gets nil
		if all {
			for i := range refs {
				refs[i] = cond
			}
		} else {
			for i := range refs {
				for _, c := range cond {
					if r.IntN(3) == 0 {
						refs[i] = append(refs[i], c)
					}
				}
			}
		}
		max := 1 + r.IntN(12)
		want, werr := refSplitShared(b, max, cond, refs)
		var got []*Bundle
		var gerr error
		if all && len(cond) > 0 {
			got, gerr = splitShared(b, max, cond, nil)
		} else {
			got, gerr = splitShared(b, max, cond, refs)
		}
		if fmt.Sprint(werr) != fmt.Sprint(gerr) {
			t.Fatalf("iter %d: error %v, want %v", iter, gerr, werr)
		}
		if len(got) != len(want) {
			t.Fatalf("iter %d: %d parts, want %d", iter, len(got), len(want))
		}
		if layout(got) != layout(want) {
			t.Fatalf("iter %d:\n got %s\nwant %s", iter, layout(got), layout(want))
		}
		for i := range got {
			if (got[i].Identifier == nil) != (want[i].Identifier == nil) ||
				got[i].Identifier != nil && *got[i].Identifier != *want[i].Identifier {
				t.Fatalf("iter %d part %d: identifier %+v, want %+v", iter, i, got[i].Identifier, want[i].Identifier)
			}
			if got[i].Type != want[i].Type || got[i].ResourceType != want[i].ResourceType {
				t.Fatalf("iter %d part %d: header differs", iter, i)
			}
		}
		if b.Identifier != nil && b.Identifier.Value != "M"+strconv.Itoa(iter) {
			t.Fatalf("iter %d: the whole bundle's identifier changed", iter)
		}
	}
}
