package ccdafhir

import (
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/convert/internal/npi"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/google/uuid"
)

// identity is the deterministic identity of one output resource.
type identity struct {
	typ   string
	uuid  string          // UUIDv5 of type|system|value
	id    string          // resource id: uuid in ModePutID, "" otherwise
	ref   string          // how other resources reference it
	ident fhir.Identifier // business identifier used as the key
}

// claim picks the identity of a resource of type typ from its business
// identifiers. Without usable identifiers, or when the identifier was
// already used by another resource of the type (example documents often
// reuse ids), it makes one from synth, a key unique within the document
// (entryKey, a fixed name, or for shared resources their content), and
// appends it to ids. For shared resources (Practitioner, Organization,
// Medication) a repeat is the same resource: fresh is false and the
// caller only uses the reference.
//
// The minted identifier is scoped to the document's set (setKey) and the
// patient, not to the document: a version that replaces another
// (relatedDocument RPLC, same setId) writes the entries both carry onto
// the same resources instead of adding copies. The Binary and the
// DocumentReference belong to one version, and a Patient without an id
// is only known by its document, so theirs stay scoped to the document id.
func (c *converter) claim(typ string, ids []fhir.Identifier, synth string, shared bool) (identity, []fhir.Identifier, bool) {
	var ident fhir.Identifier
	for _, id := range ids {
		if keyable(id) {
			ident = fhir.Identifier{System: id.System, Value: id.Value}
			break
		}
	}
	k := typ + "|" + ident.System + "|" + ident.Value
	if ident.Value == "" || (c.seen[k] && !shared) {
		if ident.Value != "" {
			// The id keys another resource of the type already: this one
			// must not carry it too, or a search (and a conditional
			// update) by it would find two.
			ids = withoutKeys(typ, ids, c.seen)
		}
		scope := c.setKey
		switch {
		case typ == "Binary" || typ == "DocumentReference" || typ == "Provenance" || typ == "Patient":
			// One version's own, or a recordTarget without an id: a
			// setId is only as unique as its sender makes it (a fixed
			// template value serves every patient), and two patients
			// must never become one.
			scope = c.docKey
		case !shared && c.patient != nil:
			// The identifier alone finds the resource in ModeConditional:
			// scoped by the patient, a setId two patients' documents
			// share cannot put one's entry over the other's.
			scope = c.patient.scope + "|" + c.setKey
		}
		ident = fhir.Identifier{System: sysRFC, Value: "urn:uuid:" + uuid.NewSHA1(namespace, []byte(scope+"|"+typ+"|"+synth)).String()}
		ids = append(ids, ident)
		k = typ + "|" + ident.System + "|" + ident.Value
	}
	idn := c.identityOf(typ, ident, shared)
	if c.seen[k] {
		return idn, ids, false
	}
	c.seen[k] = true
	return idn, ids, true
}

// keyable reports whether id may stand for the resource it is sent on. An
// NPI names one provider for life, but a value under the NPI's system
// that is not an NPI (5555555555, a twelve-digit 999999943252: EHRs fill
// such in for staff without one) names no one: everyone who carries it
// would become one Practitioner. It stays an identifier of the resource.
func keyable(id fhir.Identifier) bool {
	return id.System != identifierSystems[oidNPI] || npi.Valid(id.Value)
}

// withoutKeys returns ids less those that key a resource of type typ
// already claimed in this document (seen), in a new slice: ids may be
// shared with the statement's other resources.
func withoutKeys(typ string, ids []fhir.Identifier, seen map[string]bool) []fhir.Identifier {
	out := make([]fhir.Identifier, 0, len(ids)+1)
	for _, id := range ids {
		if !seen[typ+"|"+id.System+"|"+id.Value] {
			out = append(out, id)
		}
	}
	return out
}

// identityOf is the identity of the resource of type typ whose key is the
// business identifier ident. Patient-specific resources are scoped to
// their patient, so an entry id reused by a careless sender for another
// patient can never make two patients share (and overwrite) a resource.
// The business identifier itself is kept as sent. A Patient's id is
// fhir.PatientID of its identifier, the one the HL7 v2 and CSV converters
// give it, so that in ModePutID a patient who arrives by ADT and by C-CDA
// is one Patient at the exchange. (Patient-specific resources are scoped
// by patientState.scope, which names the identifier, not this id.)
func (c *converter) identityOf(typ string, ident fhir.Identifier, shared bool) identity {
	var u string
	if typ == "Patient" {
		u = fhir.PatientID(ident.System, ident.Value)
	} else {
		name := typ + "|" + ident.System + "|" + ident.Value
		if !shared && c.patient != nil {
			name = c.patient.scope + "|" + name
		}
		u = uuid.NewSHA1(namespace, []byte(name)).String()
	}
	idn := identity{typ: typ, uuid: u, ident: ident}
	if c.conditional(typ) {
		idn.ref = "urn:uuid:" + u
	} else {
		idn.id = u
		idn.ref = typ + "/" + u
	}
	return idn
}

// entryKey is the minted key of a resource of type typ made from the
// statement a, which has no id of its own: unique within the document,
// and the same for the same entry in another version of the document.
// The element path would be unique too, but a replacement that adds one
// allergy before the others would shift every later one onto its
// neighbour's resource. So the key names the section (by its LOINC code
// or template, not its position), the type, and what the statement is
// about (entryWhat), with a running count of equal keys: two equal
// entries in one document stay two resources, and the n-th equal one of
// a replacement lands on the n-th of its parent. within names what the
// statement is part of (a results panel), for statements that take their
// time from it.
func (c *converter) entryKey(typ string, a *act, within string) string {
	k := "entry|" + c.skipSection + "|" + typ + "|" + entryWhat(typ, a)
	if within != "" {
		k += "|in " + within
	}
	if c.occ == nil {
		c.occ = map[string]int{}
	}
	c.occ[k]++
	return k + "#" + strconv.Itoa(c.occ[k])
}

// entryWhat names what a statement records, leaving out what a
// corrected version of it may change: status, narrative text, authors,
// nested statements, and (but for allergies and problems, whose coded
// value is the allergy type or the problem itself) the value, since a
// replacement often exists to correct a result. Problems and allergies
// leave out their dates too: a corrected onset is the same problem. Codes
// stand for themselves; a concept without a code is named by its text.
func entryWhat(typ string, a *act) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(a.ClassCode) + "|" + strings.ToUpper(strings.TrimSpace(a.MoodCode)))
	b.WriteString("|code=" + cdKey(a.Code))
	lasting := typ == "AllergyIntolerance" || typ == "Condition"
	if lasting {
		for i := range a.Value {
			b.WriteString("|value=" + cdKey(a.Value[i].asCD()))
		}
	} else if len(a.EffectiveTime) > 0 {
		t := a.EffectiveTime[0]
		b.WriteString("|time=" + t.Value)
		for _, x := range []*ts{t.Low, t.Center} {
			if x != nil {
				b.WriteString("/" + x.Value)
			}
		}
	}
	for _, p := range a.Participant {
		if pr := p.ParticipantRole; pr != nil && pr.PlayingEntity != nil {
			b.WriteString("|participant=" + cdKey(pr.PlayingEntity.Code))
			if pr.PlayingEntity.Code == nil || strings.TrimSpace(pr.PlayingEntity.Code.Code) == "" {
				for _, n := range pr.PlayingEntity.Name {
					b.WriteString("," + strings.ToLower(clean(n.Text)))
				}
			}
		}
	}
	for _, h := range []*productHolder{a.Consumable, a.Product} {
		if h != nil && h.ManufacturedProduct != nil && h.ManufacturedProduct.ManufacturedMaterial != nil {
			m := h.ManufacturedProduct.ManufacturedMaterial
			b.WriteString("|material=" + cdKey(m.Code) + "," + strings.ToLower(clean(m.Name)))
		}
	}
	return b.String()
}

// cdKey is a coded value as a key: code and system, or the original text
// when there is no code.
func cdKey(x *cd) string {
	if x == nil {
		return ""
	}
	if code := strings.TrimSpace(x.Code); code != "" {
		return strings.TrimSpace(x.CodeSystem) + "#" + code
	}
	if x.OriginalText != nil {
		return strings.ToLower(clean(x.OriginalText.Text))
	}
	return ""
}

// supersedeURL is the request URL of the DocumentReference ferry wrote
// for the document whose id is parent: its id is derived from the id
// alone (and the patient), so the replaced version's resource is found
// without asking the exchange.
func (c *converter) supersedeURL(parent fhir.Identifier) string {
	if c.conditional("DocumentReference") {
		return "DocumentReference?" + fhir.IdentifierQuery(parent.System, parent.Value)
	}
	return "DocumentReference/" + c.identityOf("DocumentReference", parent, false).uuid
}

// versionKey is the key of the document version whose id is doc in the
// registry of replaced versions (Options.Replaced, Result.Replaces): the
// id ferry gives its DocumentReference in ModePutID, which follows from
// the document id and the patient in every write mode, so one patient's
// replacement never marks another patient's document that shares its id.
func (c *converter) versionKey(doc fhir.Identifier) string {
	return "ccda DocumentReference/" + c.identityOf("DocumentReference", doc, false).uuid
}

// replacedVersion reports whether the registry of replaced versions
// (Options.Replaced) knows the version doc of this patient replaced or of
// a record merged into this patient (mergedScopes): a replacement
// accepted before the merge was recorded under that patient, whether the
// document names the retired identifier or (an export made after the
// merge) the survivor.
func (c *converter) replacedVersion(doc fhir.Identifier) bool {
	if c.opts.Replaced(c.versionKey(doc)) {
		return true
	}
	for _, scope := range c.mergedScopes() {
		if c.opts.Replaced(c.scopedVersionKey(scope, doc)) {
			return true
		}
	}
	return false
}

// scopedVersionKey is versionKey for the patient whose scope is scope.
func (c *converter) scopedVersionKey(scope string, doc fhir.Identifier) string {
	own := c.patient.scope
	c.patient.scope = scope
	k := c.versionKey(doc)
	c.patient.scope = own
	return k
}

// scopedSupersedeURL is supersedeURL for the patient whose scope is
// scope.
func (c *converter) scopedSupersedeURL(scope string, parent fhir.Identifier) string {
	own := c.patient.scope
	c.patient.scope = scope
	u := c.supersedeURL(parent)
	c.patient.scope = own
	return u
}

// mergedScopes are the scopes of the records merged into the document's
// patient: the retired identifier the document names (retie), and every
// record merged into the patient, directly or down chains (C into B, then
// B into A: A has both), each once. A version filed before a merge was
// keyed under its record's scope. Merged answers from the merge
// registry's index of survivors, so the walk visits those records only,
// never the whole registry.
func (c *converter) mergedScopes() []string {
	if c.patient == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{c.patient.scope: true}
	add := func(scope string) bool {
		if seen[scope] {
			return false
		}
		seen[scope] = true
		out = append(out, scope)
		return true
	}
	if c.patient.retiredScope != "" {
		add(c.patient.retiredScope)
	}
	ml, ok := c.opts.Merges.(MergedLookup)
	if !ok {
		return out
	}
	todo := []merges.ID{{System: c.patient.idn.ident.System, Value: c.patient.idn.ident.Value}}
	for len(todo) > 0 {
		id := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, m := range ml.Merged(id) {
			if add("Patient|" + m.System + "|" + m.Value) {
				todo = append(todo, m)
			}
		}
	}
	return out
}

// add puts a resource into the bundle under its identity.
func (c *converter) add(idn identity, res any) {
	e := fhir.BundleEntry{FullURL: "urn:uuid:" + idn.uuid, Resource: res}
	if c.conditional(idn.typ) && idn.typ != "Binary" && idn.typ != "Provenance" {
		e.Request = &fhir.BundleRequest{Method: "PUT",
			URL: idn.typ + "?" + fhir.IdentifierQuery(idn.ident.System, idn.ident.Value)}
	} else {
		e.Request = &fhir.BundleRequest{Method: "PUT", URL: idn.typ + "/" + idn.uuid}
	}
	c.entries[idn.typ] = append(c.entries[idn.typ], e)
	if c.resources == nil {
		c.resources = map[string]any{}
	}
	if _, ok := c.resources[e.FullURL]; !ok {
		c.resources[e.FullURL] = res
	}
	if o, ok := res.(*fhir.Observation); ok {
		if c.observations == nil {
			c.observations = map[string]*fhir.Observation{}
		}
		c.observations[e.FullURL] = o
	}
	if p, ok := res.(*fhir.Practitioner); ok {
		r := &fhir.Reference{Reference: e.FullURL}
		if p.ID != "" {
			r.Reference = "Practitioner/" + p.ID
		}
		if c.practitionersByID == nil {
			c.practitionersByID = map[idKey][]*fhir.Reference{}
		}
		for _, id := range p.Identifier {
			k := idKey{id.System, id.Value}
			c.practitionersByID[k] = append(c.practitionersByID[k], r)
		}
	}
	if c.curLabels != nil {
		if c.resLabels == nil {
			c.resLabels = map[any]*fhir.Labels{}
		}
		c.resLabels[res] = c.curLabels
	}
}

// conditional reports whether resources of type typ are written by a
// conditional update and referred to by their fullUrl.
func (c *converter) conditional(typ string) bool {
	return c.opts.Mode == ModeConditional || c.opts.Mode == ModePatientConditional && typ == "Patient"
}

// reference returns a Reference to idn.
func (idn identity) reference() *fhir.Reference { return &fhir.Reference{Reference: idn.ref} }
