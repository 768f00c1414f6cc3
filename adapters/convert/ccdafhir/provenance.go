package ccdafhir

import (
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// provenance adds the document's Provenance (US Core Provenance): it
// targets every resource made from the document but the Binary, which
// it names as its source (the DocumentReference when there is no
// Binary), with the document's id. Its agents are the document's
// author, on behalf of the author's organization (the custodian when
// the author names none: US Core's us-core-1 wants an organization
// beside a practitioner), this converter as the assembler, and this
// gateway as the transmitter, as the HL7 v2 converter's Provenance
// names them.
//
// recorded is the document's effectiveTime, the one deterministic time
// of the document (a resent document must write the same Provenance).
// FHIR wants an instant; an effectiveTime without a time of day or a
// zone gives none, and then there is no Provenance
// (Result.Skipped["Provenance"]).
//
// One Provenance a document version, like its DocumentReference (PUT
// Provenance/<id>: the type has no identifier). It goes last, so that
// a document cut into several transactions (Parts) writes it after
// everything it targets; it carries every label of the document, as
// the DocumentReference's own meta does.
func (c *converter) provenance() {
	recorded := c.instant(c.effectiveRaw)
	if recorded == "" {
		c.res.Skipped["Provenance (effectiveTime is not an instant)"]++
		return
	}
	var targets []fhir.Reference
	var source *fhir.Reference
	for _, typ := range typeOrder {
		for _, e := range c.entries[typ] {
			ref := fhir.Reference{Reference: entryRef(e)}
			switch typ {
			case "Binary":
				if source == nil {
					source = &ref
				}
				continue
			case "DocumentReference":
				if source == nil && c.opts.NoBinary {
					source = &ref
				}
			}
			targets = append(targets, ref)
		}
	}
	if len(targets) == 0 {
		return
	}
	agents := make([]fhir.ProvenanceAgent, 0, 3)
	if who, org := c.provenanceAuthor(); who != nil {
		a := fhir.ProvenanceAgent{Type: fhir.ProvenanceAuthor, Who: *who}
		if org != nil && org.Reference != who.Reference {
			a.OnBehalfOf = org
		}
		agents = append(agents, a)
	}
	base := c.opts.Base
	if base == "" {
		base = "urn:ferry"
	}
	agents = append(agents,
		fhir.ProvenanceAgent{Type: fhir.ProvenanceAssembler, Who: fhir.Reference{Display: "ferry C-CDA-to-FHIR converter"}},
		fhir.ProvenanceAgent{Type: fhir.ProvenanceTransmitter, Who: fhir.Reference{
			Identifier: &fhir.Identifier{System: "urn:ietf:rfc:3986", Value: base}, Display: "ferry gateway"}},
	)
	p := &fhir.Provenance{ResourceType: "Provenance", Target: targets, Recorded: recorded, Agent: agents}
	if source != nil {
		what := *source
		if c.docIdent.Value != "" {
			what.Identifier = &fhir.Identifier{System: c.docIdent.System, Value: c.docIdent.Value}
		}
		p.Entity = []fhir.ProvenanceEntity{{Role: "source", What: what}}
	}
	idn, _, _ := c.claim("Provenance", nil, "provenance", false)
	p.ID = idn.uuid
	if sec := c.securityLabels(); len(sec) > 0 {
		p.Meta = &fhir.Meta{Security: sec}
	}
	c.add(idn, p)
}

// provenanceAuthor is the document's first author that names someone
// (a person, else an organization) and the organization it acts for:
// its represented organization, else the document's custodian.
func (c *converter) provenanceAuthor() (who, org *fhir.Reference) {
	for i := range c.authors {
		a := c.authors[i].AssignedAuthor
		if a == nil {
			continue
		}
		if who = c.actor(a); who != nil {
			org = c.organization(a.RepresentedOrganization)
			break
		}
	}
	if org == nil && c.custodian != nil {
		org = c.organization(c.custodian.AssignedCustodian.Org)
	}
	if who == nil {
		who, org = org, nil
	}
	return who, org
}

// entryRef is how the bundle's other entries refer to e: its request URL
// when that names it (PUT Type/id), its fullUrl when the exchange
// chooses the id (a conditional write).
func entryRef(e fhir.BundleEntry) string {
	if e.Request != nil && e.Request.Method == "PUT" && !strings.Contains(e.Request.URL, "?") {
		return e.Request.URL
	}
	return e.FullURL
}
