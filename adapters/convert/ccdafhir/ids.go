package ccdafhir

import (
	"github.com/ferry-health/ferry/adapters/fhir"
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
// reuse ids), it makes one from synth, a stable key within the document
// (the element path or, for shared resources, their content), and appends
// it to ids. For shared resources (Practitioner, Organization, Medication)
// a repeat is the same resource: fresh is false and the caller only uses
// the reference.
func (c *converter) claim(typ string, ids []fhir.Identifier, synth string, shared bool) (identity, []fhir.Identifier, bool) {
	var ident fhir.Identifier
	if len(ids) > 0 {
		ident = fhir.Identifier{System: ids[0].System, Value: ids[0].Value}
	}
	k := typ + "|" + ident.System + "|" + ident.Value
	if ident.Value == "" || (c.seen[k] && !shared) {
		ident = fhir.Identifier{System: sysRFC, Value: "urn:uuid:" + uuid.NewSHA1(namespace, []byte(c.docKey+"|"+typ+"|"+synth)).String()}
		ids = append(ids, ident)
		k = typ + "|" + ident.System + "|" + ident.Value
	}
	// Patient-specific resources are scoped to their patient, so an entry
	// id reused by a careless sender for another patient can never make
	// two patients share (and overwrite) a resource. The business
	// identifier itself is kept as sent.
	name := k
	if !shared && typ != "Patient" && c.patient != nil {
		name = c.patient.scope + "|" + k
	}
	u := uuid.NewSHA1(namespace, []byte(name)).String()
	idn := identity{typ: typ, uuid: u, ident: ident}
	if c.conditional(typ) {
		idn.ref = "urn:uuid:" + u
	} else {
		idn.id = u
		idn.ref = typ + "/" + u
	}
	if c.seen[k] {
		return idn, ids, false
	}
	c.seen[k] = true
	return idn, ids, true
}

// add puts a resource into the bundle under its identity.
func (c *converter) add(idn identity, res any) {
	e := fhir.BundleEntry{FullURL: "urn:uuid:" + idn.uuid, Resource: res}
	if c.conditional(idn.typ) && idn.typ != "Binary" {
		e.Request = &fhir.BundleRequest{Method: "PUT",
			URL: idn.typ + "?" + fhir.IdentifierQuery(idn.ident.System, idn.ident.Value)}
	} else {
		e.Request = &fhir.BundleRequest{Method: "PUT", URL: idn.typ + "/" + idn.uuid}
	}
	c.entries[idn.typ] = append(c.entries[idn.typ], e)
}

// conditional reports whether resources of type typ are written by a
// conditional update and referred to by their fullUrl.
func (c *converter) conditional(typ string) bool {
	return c.opts.Mode == ModeConditional || c.opts.Mode == ModePatientConditional && typ == "Patient"
}

// reference returns a Reference to idn.
func (idn identity) reference() *fhir.Reference { return &fhir.Reference{Reference: idn.ref} }
