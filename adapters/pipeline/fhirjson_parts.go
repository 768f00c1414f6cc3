package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// patientParts cuts a transaction of more than fhir.MaxConditionalEntries
// entries whose plain POST entries (repeatableEntries) include a Patient
// into transactions a Medplum-based exchange takes, as the HL7 v2
// converter's patient-conditional parts are cut: each part holds the
// Patient entries, created conditionally on their identifier
// (repeatableCreate), beside at most as many other entries as fit. Those
// are PUT under ids derived from their identifier or content
// (repeatablePut), and every reference to one of them, or to an entry the
// sender PUT under an id of its own, is written as its literal Type/id,
// which resolves in every part. A Patient PUT under a derived id, as the
// other entries are, would be a second Patient wherever the exchange
// holds the patient under an id of its own: created by a smaller export
// of the same patient (a conditional create), by the HL7 v2 feed, a fax or
// a C-CDA. The other entries are put after what they refer to, so no part
// names a resource a later part writes (an exchange checking references,
// as HAPI FHIR does by default, would refuse it).
//
// parts is nil, and the caller sends the bundle whole, when it has no
// such Patient entry, or holds an entry it cannot cut: one that is not a
// POST or a PUT Type/id, a conditional one of the sender's, or one without
// a resource.
func (c FHIRJSON) patientParts(body []byte, entries []fhirEntry) (parts [][]byte, err error) {
	if len(entries) <= fhir.MaxConditionalEntries {
		return nil, nil
	}
	patients := 0
	for i := range entries {
		e := &entries[i]
		m, u := e.Request.Method, e.Request.URL
		switch {
		case e.Resource == nil, e.Request.IfNoneExist != "", strings.Contains(u, "?"):
			return nil, nil
		case m == "POST" && e.Resource.ResourceType == "Patient":
			patients++
		case m == "POST":
		case m == "PUT" && strings.Count(u, "/") == 1:
		default:
			return nil, nil
		}
	}
	if patients == 0 || patients >= fhir.MaxConditionalEntries {
		return nil, nil
	}
	start, end, found, err := topLevelMember(body, "entry")
	if err != nil || !found {
		return nil, fmt.Errorf("bundle entries: %v", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body[start:end], &raws); err != nil || len(raws) != len(entries) {
		return nil, fmt.Errorf("bundle entries: %v", err)
	}
	fullURLs := make([]string, len(raws))
	// literal maps the fullUrl of each entry written under an id ferry or
	// the sender chose to its Type/id.
	literal := map[string]string{}
	isPatient := make([]bool, len(entries))
	for i := range entries {
		e := &entries[i]
		var f struct {
			FullURL string `json:"fullUrl"`
		}
		if err := json.Unmarshal(raws[i], &f); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		fullURLs[i] = f.FullURL
		if e.Request.Method == "PUT" {
			if f.FullURL != "" {
				literal[f.FullURL] = e.Request.URL
			}
			continue
		}
		if err := storedType(e.Resource.ResourceType); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		rs, re, _, err := topLevelMember(raws[i], "resource")
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		create := c.repeatablePut
		if isPatient[i] = e.Resource.ResourceType == "Patient"; isPatient[i] {
			create = c.repeatableCreate
		}
		resource, req, err := create(raws[i][rs:re], e.Resource)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		if req["method"] == "PUT" && f.FullURL != "" {
			literal[f.FullURL] = req["url"]
		}
		if raws[i], err = rewriteEntry(raws[i], rs, re, resource, req); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
	}
	index := make(map[string]int, len(fullURLs))
	for i, f := range fullURLs {
		if f != "" {
			index[f] = i
		}
	}
	// needs[i] are the entries written under a literal id that entry i
	// refers to.
	needs := make([][]int, len(raws))
	for i := range raws {
		rs, re, _, err := topLevelMember(raws[i], "resource")
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		resource, named, err := literalRefs(raws[i][rs:re], literal)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		raws[i] = splice(raws[i], rs, re, resource)
		for _, f := range named {
			if j := index[f]; j != i && !isPatient[j] {
				needs[i] = append(needs[i], j)
			}
		}
	}
	// The other entries in an order that puts each after what it refers
	// to (a cycle is cut where it closes), what the Patients refer to
	// first: they are in the first part.
	var order []int
	placed := make([]bool, len(raws))
	var place func(i int)
	place = func(i int) {
		if placed[i] {
			return
		}
		placed[i] = true
		for _, j := range needs[i] {
			place(j)
		}
		if !isPatient[i] {
			order = append(order, i)
		}
	}
	for i := range raws {
		if isPatient[i] {
			place(i)
		}
	}
	for i := range raws {
		place(i)
	}
	room := fhir.MaxConditionalEntries - patients
	for lo := 0; lo < len(order); lo += room {
		list := []byte{'['}
		add := func(i int) {
			if len(list) > 1 {
				list = append(list, ',')
			}
			list = append(list, raws[i]...)
		}
		for i := range raws {
			if isPatient[i] {
				add(i)
			}
		}
		for _, i := range order[lo:min(lo+room, len(order))] {
			add(i)
		}
		parts = append(parts, splice(body, start, end, append(list, ']')))
	}
	return parts, nil
}

// literalRefs returns resource (FHIR JSON) with each reference to an
// entry's fullUrl that literal maps, in a Reference's reference or an
// Attachment's url (the elements a transaction's fullUrls are written
// into, and which carry nothing else equal to one), replaced by its
// Type/id, the rest of its bytes unchanged; named lists the fullUrls
// replaced. A value written with escapes is left as it is.
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
			named = append(named, v)
		}
	}
	for k := len(edits) - 1; k >= 0; k-- {
		resource = splice(resource, edits[k].at, edits[k].end, []byte(edits[k].to))
	}
	return resource, named, nil
}
