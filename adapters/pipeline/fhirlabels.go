package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// Envelope labels on FHIR JSON. A FHIR resource or transaction from an
// XDM package is labelled as METADATA.XML labels it (xdmfhir.MetaLabels),
// as a C-CDA or an HL7 v2 file of the package is: the labels are added to
// every resource's meta.security, so the exchange stores them with the
// data (STANDARDS.md §7: never drop a label). Only meta.security changes;
// every other byte of the resource stays as the sender wrote it.

// labelResource returns obj, a FHIR resource as JSON, with labels added
// to its meta.security: each label it lacks (by system and code), and a
// v3-Confidentiality code only when it ranks above the resource's own,
// which it then replaces (one confidentiality code a resource, never a
// lower one).
func labelResource(obj []byte, labels []fhir.Coding) ([]byte, error) {
	if len(labels) == 0 {
		return obj, nil
	}
	ms, me, found, err := topLevelMember(obj, "meta")
	if err != nil {
		return nil, err
	}
	if !found || string(bytes.TrimSpace(obj[ms:me])) == "null" {
		sec, err := json.Marshal(fhir.OneConfidentiality(labels))
		if err != nil {
			return nil, err
		}
		meta := append(append([]byte(`{"security":`), sec...), '}')
		if found {
			return splice(obj, ms, me, meta), nil
		}
		at := bytes.LastIndexByte(obj, '}')
		if at < 0 {
			return nil, errors.New("resource is not a JSON object")
		}
		sep := []byte(`,"meta":`)
		if len(bytes.TrimSpace(obj[:at])) == 1 { // "{}": no member before it
			sep = sep[1:]
		}
		return splice(obj, at, at, append(sep, meta...)), nil
	}
	meta := obj[ms:me]
	ss, se, hasSec, err := topLevelMember(meta, "security")
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	var raws []json.RawMessage
	var have []fhir.Coding
	if hasSec && string(bytes.TrimSpace(meta[ss:se])) != "null" {
		if err := json.Unmarshal(meta[ss:se], &raws); err != nil {
			return nil, fmt.Errorf("meta.security: %w", err)
		}
		have = make([]fhir.Coding, len(raws))
		for i, r := range raws {
			if err := json.Unmarshal(r, &have[i]); err != nil {
				return nil, fmt.Errorf("meta.security[%d]: %w", i, err)
			}
		}
	}
	own := -1
	for _, c := range have {
		own = max(own, fhir.ConfidentialityOf(c))
	}
	var add []fhir.Coding
	replace := -1 // the rank that replaces the resource's confidentiality codes
	for _, l := range labels {
		if r := fhir.ConfidentialityOf(l); r >= 0 {
			if r > own && r > replace {
				replace = r
			}
			continue
		}
		if !hasCoding(have, l) && !hasCoding(add, l) {
			add = append(add, l)
		}
	}
	if replace < 0 && len(add) == 0 {
		return obj, nil
	}
	list := []byte{'['}
	appendElem := func(b []byte) {
		if len(list) > 1 {
			list = append(list, ',')
		}
		list = append(list, b...)
	}
	placed := false
	for i, c := range have {
		if replace >= 0 && fhir.ConfidentialityOf(c) >= 0 {
			if !placed {
				b, err := json.Marshal(fhir.ConfidentialityCoding(replace))
				if err != nil {
					return nil, err
				}
				appendElem(b)
				placed = true
			}
			continue
		}
		appendElem(raws[i])
	}
	if replace >= 0 && !placed {
		add = append([]fhir.Coding{fhir.ConfidentialityCoding(replace)}, add...)
	}
	for _, c := range add {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		appendElem(b)
	}
	list = append(list, ']')
	if hasSec {
		meta = splice(meta, ss, se, list)
	} else {
		at := bytes.LastIndexByte(meta, '}')
		if at < 0 {
			return nil, errors.New("meta is not a JSON object")
		}
		sep := []byte(`,"security":`)
		if len(bytes.TrimSpace(meta[:at])) == 1 {
			sep = sep[1:]
		}
		meta = splice(meta, at, at, append(sep, list...))
	}
	return splice(obj, ms, me, meta), nil
}

// labelEntries labels the resource of every entry of bundle, a
// transaction or batch Bundle as JSON, with labels, and the Bundle itself
// with the high-water mark of every entry's labels (its own and those
// added), as the Bundle ferry wraps one resource in carries its labels'
// (DS4P): a transaction exported with labelled entries and an unlabelled
// Bundle, or one labelled lower, goes out with the mark raised. whole
// are more labels for the Bundle's mark: those deeper in the transaction
// (deepLabels: a contained resource's, a DocumentReference's
// securityLabel), which exchange.hold reads too, and, for a part, those
// of the whole transaction it was cut from (bundleLabels), which every
// part carries.
func labelEntries(bundle []byte, labels, whole []fhir.Coding) ([]byte, error) {
	start, end, found, err := topLevelMember(bundle, "entry")
	if err != nil {
		if len(labels) == 0 {
			return bundle, nil // as it came, as securityOf reads a bad meta
		}
		return nil, err
	}
	all := slices.Clone(labels)
	if found {
		var raws []json.RawMessage
		if err := json.Unmarshal(bundle[start:end], &raws); err != nil {
			if len(labels) == 0 {
				return bundle, nil
			}
			return nil, fmt.Errorf("bundle entries: %w", err)
		}
		list := []byte{'['}
		for i, r := range raws {
			rs, re, ok, err := topLevelMember(r, "resource")
			if err != nil && len(labels) > 0 {
				return nil, fmt.Errorf("entry %d: %w", i+1, err)
			}
			if ok && err == nil {
				res, err := labelResource(r[rs:re], labels)
				if err != nil {
					return nil, fmt.Errorf("entry %d resource: %w", i+1, err)
				}
				r = splice(r, rs, re, res)
				all = append(all, resourceSecurity(res)...)
			}
			if i > 0 {
				list = append(list, ',')
			}
			list = append(list, r...)
		}
		if len(labels) > 0 {
			bundle = splice(bundle, start, end, append(list, ']'))
		}
	}
	return labelResource(bundle, markOf(withLabels(all, whole)))
}

// withLabels is labels with each of more it lacks (by system and code)
// added after them.
func withLabels(labels, more []fhir.Coding) []fhir.Coding {
	for _, c := range more {
		if !hasCoding(labels, c) {
			labels = append(labels, c)
		}
	}
	return labels
}

// markOf is the high-water mark of labels gathered from several
// resources: their highest confidentiality code first, then every other
// label but the handling codes, each once.
func markOf(labels []fhir.Coding) []fhir.Coding {
	hwm := fhir.HighWaterMark(labels)
	out := make([]fhir.Coding, 0, len(hwm))
	for _, c := range hwm {
		if fhir.ConfidentialityOf(c) >= 0 {
			out = append(out, c)
		}
	}
	for _, c := range hwm {
		if fhir.ConfidentialityOf(c) < 0 && !hasCoding(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// bundleLabels are the labels of bundle, a transaction as JSON, and of
// its entries' resources, as the sender wrote them; none where they
// cannot be read (labelEntries then reads the parts alike). Labels deeper
// in (a contained resource's, a DocumentReference's securityLabel), which
// exchange.hold reads too, follow: a part is held with the one holding
// such an entry.
func bundleLabels(bundle []byte) []fhir.Coding {
	return withLabels(ownLabels(bundle), deepLabels(bundle))
}

// ownLabels are the labels of bundle and of its entries' resources as
// written in their meta.security (bundleLabels).
func ownLabels(bundle []byte) []fhir.Coding {
	labels := resourceSecurity(bundle)
	start, end, found, err := topLevelMember(bundle, "entry")
	if err != nil || !found {
		return labels
	}
	var entries []struct {
		Resource json.RawMessage `json:"resource"`
	}
	if json.Unmarshal(bundle[start:end], &entries) != nil {
		return labels
	}
	for _, e := range entries {
		if len(e.Resource) > 0 {
			labels = append(labels, resourceSecurity(e.Resource)...)
		}
	}
	return labels
}

// resourceSecurity is the meta.security of obj, a resource as JSON; none
// when it has no meta or one that is not what FHIR says (securityOf).
func resourceSecurity(obj []byte) []fhir.Coding {
	ms, me, found, err := topLevelMember(obj, "meta")
	if err != nil || !found {
		return nil
	}
	return securityOf(obj[ms:me])
}

func hasCoding(list []fhir.Coding, c fhir.Coding) bool {
	for _, o := range list {
		if o.System == c.System && o.Code == c.Code {
			return true
		}
	}
	return false
}
