package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// conditionalParts cuts a transaction of more than
// fhir.MaxConditionalEntries entries that holds a conditional write into
// transactions a Medplum-based exchange takes, as fhir.SplitShared cuts a
// converter's: each part holds a share of the entries and a copy of every
// conditional one they refer to by its fullUrl (directly or through
// another conditional one), which resolves it again in every part.
//
// Each plain POST entry is written as it would be in a smaller
// transaction or alone (repeatableCreate): a conditional create on its
// identifier, so that it lands on the resource the exchange already holds
// with that identifier under an id of its own (from a smaller export of
// the same patient, the HL7 v2 feed, a fax or a C-CDA) rather than beside
// it, in whichever part it falls. The sender's own conditional creates
// and updates (ifNoneExist, PUT Type?identifier=) go as they came. An
// entry that needs more conditional entries than fit beside it in a part
// (a DiagnosticReport listing a dozen results) has those it needs PUT
// instead, under ids derived from their identifier or content
// (repeatablePut), the ones the fewest other entries refer to first and a
// Patient never; every reference to an entry written under a literal id
// (ferry's or the sender's PUT Type/id) is written as its Type/id, which
// resolves in every part, and the entries are put after what they refer
// to, so no part names a resource a later part writes (an exchange
// checking references, as HAPI FHIR does by default, would refuse it).
//
// parts is nil, and the caller sends the bundle whole, when it has no
// conditional entry, or holds an entry it cannot cut: one that is not a
// POST, a PUT Type/id or a PUT Type?search, or one without a resource, or
// a conditional one of the sender's that more entries need than fit.
func (c FHIRJSON) conditionalParts(body []byte, entries []fhirEntry) (parts [][]byte, err error) {
	const max = fhir.MaxConditionalEntries
	if len(entries) <= max {
		return nil, nil
	}
	for i := range entries {
		e := &entries[i]
		m, u := e.Request.Method, e.Request.URL
		path, _, search := strings.Cut(u, "?")
		switch {
		case e.Resource == nil:
			return nil, nil
		case m == "POST" && !search:
		case m == "PUT" && search && path != "" && !strings.Contains(path, "/"):
		case m == "PUT" && !search && strings.Count(u, "/") == 1:
		default:
			return nil, nil
		}
	}
	start, end, found, err := topLevelMember(body, "entry")
	if err != nil || !found {
		return nil, fmt.Errorf("bundle entries: %v", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body[start:end], &raws); err != nil || len(raws) != len(entries) {
		return nil, fmt.Errorf("bundle entries: %v", err)
	}
	n := len(raws)
	fullURLs := make([]string, n)
	index := map[string]int{}
	for i := range raws {
		var f struct {
			FullURL string `json:"fullUrl"`
		}
		if err := json.Unmarshal(raws[i], &f); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		if fullURLs[i] = f.FullURL; f.FullURL != "" {
			index[f.FullURL] = i
		}
	}
	// refs[i] are the entries entry i refers to by their fullUrl, or by
	// their Type/id relative to its own RESTful fullUrl (relativeNames).
	refs := make([][]int, n)
	self := make(map[string]string, len(index))
	for f := range index {
		self[f] = f
	}
	names := relativeNames(fullURLs, self)
	for i := range raws {
		rs, re, _, err := topLevelMember(raws[i], "resource")
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		_, named, err := literalRefs(raws[i][rs:re], names(i))
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		for _, f := range named {
			if j := index[f]; j != i && !slices.Contains(refs[i], j) {
				refs[i] = append(refs[i], j)
			}
		}
	}
	// The entries as written: a plain POST as repeatableCreate writes it
	// (plain marks them), the others as they came; cond marks the
	// conditional ones.
	plain, cond := make([]bool, n), make([]bool, n)
	referrers := make([]int, n)
	orig := slices.Clone(raws)
	for i := range entries {
		e := &entries[i]
		for _, j := range refs[i] {
			referrers[j]++
		}
		if e.Request.Method != "POST" || e.Request.IfNoneExist != "" {
			cond[i] = e.Request.IfNoneExist != "" || strings.Contains(e.Request.URL, "?")
			continue
		}
		if err := storedType(e.Resource.ResourceType); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		if raws[i], cond[i], err = c.rewritePlain(raws[i], e, c.repeatableCreate); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		plain[i] = true
	}
	// need is what entry i needs in its part: itself and the conditional
	// entries it reaches through conditional entries.
	need := func(i int) []int {
		out := []int{i}
		for k := 0; k < len(out); k++ {
			for _, j := range refs[out[k]] {
				if cond[j] && !slices.Contains(out, j) {
					out = append(out, j)
				}
			}
		}
		return out
	}
	for i := range raws {
		for nd := need(i); len(nd) > max; nd = need(i) {
			put := -1
			for _, j := range nd[1:] {
				if plain[j] && cond[j] && entries[j].Resource.ResourceType != "Patient" &&
					(put < 0 || referrers[j] < referrers[put] || referrers[j] == referrers[put] && j > put) {
					put = j
				}
			}
			if put < 0 {
				return nil, nil
			}
			if raws[put], cond[put], err = c.rewritePlain(orig[put], &entries[put], c.repeatablePut); err != nil {
				return nil, fmt.Errorf("entry %d: %w", put+1, err)
			}
		}
	}
	if !slices.Contains(cond, true) {
		return nil, nil
	}
	// literal maps the fullUrl of each entry written under an id ferry or
	// the sender chose to its Type/id.
	literal := map[string]string{}
	for i := range raws {
		if !cond[i] && fullURLs[i] != "" {
			var r struct {
				Request struct{ URL string } `json:"request"`
			}
			if err := json.Unmarshal(raws[i], &r); err != nil {
				return nil, fmt.Errorf("entry %d: %w", i+1, err)
			}
			literal[fullURLs[i]] = r.Request.URL
		}
	}
	names = relativeNames(fullURLs, literal)
	for i := range raws {
		rs, re, _, err := topLevelMember(raws[i], "resource")
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		resource, _, err := literalRefs(raws[i][rs:re], names(i))
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		raws[i] = splice(raws[i], rs, re, resource)
	}
	// The entries in an order that puts each after what it refers to (a
	// cycle is cut where it closes).
	var order []int
	placed := make([]bool, n)
	var place func(i int)
	place = func(i int) {
		if placed[i] {
			return
		}
		placed[i] = true
		for _, j := range refs[i] {
			place(j)
		}
		order = append(order, i)
	}
	for i := range raws {
		place(i)
	}
	// Each part: a run of the order, with the conditional entries it
	// needs; a conditional entry another part already wrote is not
	// written again for its own sake.
	var cur []int
	written := make([]bool, n)
	flush := func() {
		slices.Sort(cur)
		list := []byte{'['}
		for k, i := range cur {
			if k > 0 {
				list = append(list, ',')
			}
			list = append(list, raws[i]...)
		}
		parts = append(parts, splice(body, start, end, append(list, ']')))
		cur = cur[:0]
	}
	for _, i := range order {
		if written[i] {
			continue
		}
		nd := need(i)
		add := 0
		for _, j := range nd {
			if !slices.Contains(cur, j) {
				add++
			}
		}
		if len(cur)+add > max {
			flush()
		}
		for _, j := range nd {
			if !slices.Contains(cur, j) {
				cur = append(cur, j)
			}
			written[j] = true
		}
	}
	flush()
	return parts, nil
}

// rewritePlain returns the plain POST entry raw (e its parsed form) as
// create (repeatableCreate or repeatablePut) writes it, and whether that
// is a conditional create.
func (c FHIRJSON) rewritePlain(raw []byte, e *fhirEntry, create func([]byte, *fhirHead) ([]byte, map[string]string, error)) ([]byte, bool, error) {
	rs, re, _, err := topLevelMember(raw, "resource")
	if err != nil {
		return nil, false, err
	}
	resource, req, err := create(raw[rs:re], e.Resource)
	if err != nil {
		return nil, false, err
	}
	raw, err = rewriteEntry(raw, rs, re, resource, req)
	return raw, req["ifNoneExist"] != "", err
}

// relativeNames returns, for entry i, byFullURL (which maps entries'
// fullUrls) with the relative references that name those entries from
// entry i added: in a transaction, Type/id written in an entry whose
// fullUrl is RESTful, [root]/Type2/id2, names the entry whose fullUrl is
// [root]/Type/id (FHIR R4 bundle.html#references: "if the reference has
// the format [type]/[id], and the fullUrl of the bundle entry that
// contains the resource is a RESTful one ..., extract the [root] and
// append the reference ([type]/[id]) to it and then try to resolve within
// the bundle"), as EHR exports write their references. A Type/id that
// names no entry is left to the exchange.
func relativeNames(fullURLs []string, byFullURL map[string]string) func(i int) map[string]string {
	byRoot := map[string]map[string]string{}
	for _, f := range fullURLs {
		root, rel, ok := restfulFullURL(f)
		to, mapped := byFullURL[f]
		if !ok || !mapped {
			continue
		}
		if byRoot[root] == nil {
			byRoot[root] = maps.Clone(byFullURL)
		}
		byRoot[root][rel] = to
	}
	return func(i int) map[string]string {
		if root, _, ok := restfulFullURL(fullURLs[i]); ok && byRoot[root] != nil {
			return byRoot[root]
		}
		return byFullURL
	}
}

// restfulFullURL splits a RESTful fullUrl, http(s)://.../Type/id with an
// optional /_history/<version>, into its root and Type/id; ok is false
// for any other (urn:uuid:, urn:oid:).
func restfulFullURL(f string) (root, rel string, ok bool) {
	if !strings.HasPrefix(f, "http://") && !strings.HasPrefix(f, "https://") {
		return "", "", false
	}
	if h := strings.Index(f, "/_history/"); h >= 0 {
		f = f[:h]
	}
	j := strings.LastIndexByte(f, '/')
	k := strings.LastIndexByte(f[:max(j, 0)], '/')
	if j < 0 || k < 0 || !fhir.StoredResourceType(f[k+1:j]) || !validID(f[j+1:]) {
		return "", "", false
	}
	return f[:k], f[k+1:], true
}

// literalRefs returns resource (FHIR JSON) with each reference that
// literal maps (an entry's fullUrl, or a relative Type/id naming it), in
// a Reference's reference or an Attachment's url (the elements a
// transaction's fullUrls are written into, and which carry nothing else
// equal to one), replaced by what it maps to, the rest of its bytes
// unchanged; named lists what the references replaced mapped to. A value
// written with escapes is left as it is.
func literalRefs(resource []byte, literal map[string]string) (_ []byte, named []string, _ error) {
	if len(literal) == 0 {
		return resource, nil, nil
	}
	type edit struct {
		at, end int
		to      string
	}
	var edits []edit
	// inObject[k] tells whether the k-th open container is an object, and
	// atKey whether the next token in it is a member's name.
	var inObject, atKey []bool
	key := ""
	dec := json.NewDecoder(bytes.NewReader(resource))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		top := len(inObject) - 1
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			inObject, atKey = inObject[:top], atKey[:top]
			continue
		}
		if top >= 0 && inObject[top] {
			if atKey[top] {
				key, _ = tok.(string)
				atKey[top] = false
				continue
			}
			atKey[top] = true
		}
		switch v := tok.(type) {
		case json.Delim:
			inObject, atKey = append(inObject, v == '{'), append(atKey, v == '{')
		case string:
			if top < 0 || !inObject[top] || (key != "reference" && key != "url") {
				continue
			}
			to, ok := literal[v]
			end := int(dec.InputOffset())
			quoted := `"` + v + `"`
			if !ok || end < len(quoted) || string(resource[end-len(quoted):end]) != quoted {
				continue
			}
			edits = append(edits, edit{end - len(quoted), end, `"` + to + `"`})
			named = append(named, to)
		}
	}
	for k := len(edits) - 1; k >= 0; k-- {
		resource = splice(resource, edits[k].at, edits[k].end, []byte(edits[k].to))
	}
	return resource, named, nil
}
