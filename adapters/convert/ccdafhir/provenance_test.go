package ccdafhir

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

func provenanceOf(t *testing.T, b *fhir.Bundle) *fhir.Provenance {
	t.Helper()
	var p *fhir.Provenance
	for i, e := range b.Entry {
		if r, ok := e.Resource.(*fhir.Provenance); ok {
			if i != len(b.Entry)-1 {
				t.Errorf("Provenance is entry %d of %d, want the last", i+1, len(b.Entry))
			}
			if e.Request == nil || e.Request.URL != "Provenance/"+r.ID {
				t.Errorf("Provenance written by %+v", e.Request)
			}
			p = r
		}
	}
	return p
}

// TestProvenance: a document's resources get one US Core Provenance. It
// targets every resource but the Binary, which it names as the source
// with the document's id; the author acts on behalf of the author's
// organization; the transmitter is the gateway, named by its base; and
// recorded is the document's effectiveTime.
func TestProvenance(t *testing.T) {
	raw := readCase(t, "ccda-problem")
	b, _, err := ConvertBytes(raw, Options{Base: "urn:ferry:site:1d7c7d3e-5a0f-4a53-9d55-2f5b1c0e9a11"})
	if err != nil {
		t.Fatal(err)
	}
	p := provenanceOf(t, b)
	if p == nil {
		t.Fatal("no Provenance")
	}
	if p.Recorded != "2024-01-02T10:30:00-05:00" {
		t.Errorf("recorded %q", p.Recorded)
	}
	var want []string
	var binary string
	for _, e := range b.Entry {
		switch r := e.Resource.(type) {
		case *fhir.Binary:
			binary = "Binary/" + r.ID
		case *fhir.Provenance:
		default:
			want = append(want, e.Request.URL)
		}
	}
	var got []string
	for _, r := range p.Target {
		got = append(got, r.Reference)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("targets %v, want %v", got, want)
	}
	if binary == "" || len(p.Entity) != 1 || p.Entity[0].Role != "source" || p.Entity[0].What.Reference != binary ||
		p.Entity[0].What.Identifier == nil || p.Entity[0].What.Identifier.Value != "PRB1" {
		t.Errorf("entity %+v, want the Binary %s with the document id", p.Entity, binary)
	}
	roles := map[string]fhir.ProvenanceAgent{}
	for _, a := range p.Agent {
		roles[a.Type.Coding[0].Code] = a
	}
	author := roles["author"]
	if !strings.HasPrefix(author.Who.Reference, "Practitioner/") || author.OnBehalfOf == nil || !strings.HasPrefix(author.OnBehalfOf.Reference, "Organization/") {
		t.Errorf("author agent %+v", author)
	}
	if tr := roles["transmitter"]; tr.Who.Identifier == nil || tr.Who.Identifier.Value != "urn:ferry:site:1d7c7d3e-5a0f-4a53-9d55-2f5b1c0e9a11" {
		t.Errorf("transmitter %+v", tr)
	}
	if _, ok := roles["assembler"]; !ok || len(p.Agent) != 3 {
		t.Errorf("agents %+v", p.Agent)
	}

	// Resent, the same Provenance: PUT under the same id, same content.
	again, _, _ := ConvertBytes(append([]byte(nil), raw...), Options{Base: "urn:ferry:site:1d7c7d3e-5a0f-4a53-9d55-2f5b1c0e9a11"})
	if q := provenanceOf(t, again); q == nil || q.ID != p.ID || toJSON(t, q) != toJSON(t, p) {
		t.Error("a resent document wrote another Provenance")
	}

	// An author without an organization acts for the document's custodian.
	noOrg := regexp.MustCompile(`(?s)(<author>.*?)<representedOrganization>.*?</representedOrganization>`).ReplaceAll(raw, []byte("$1"))
	b, _, err = ConvertBytes(noOrg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := provenanceOf(t, b); p == nil || p.Agent[0].OnBehalfOf == nil || !strings.HasPrefix(p.Agent[0].OnBehalfOf.Reference, "Organization/") {
		t.Errorf("author without an organization: %+v", p)
	}

	// An effectiveTime without a time of day gives no instant: no
	// Provenance, and the Result says so.
	dateOnly := strings.Replace(string(raw), `<effectiveTime value="20240102103000-0500"/>`, `<effectiveTime value="20240102"/>`, 1)
	b, res, err := ConvertBytes([]byte(dateOnly), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := provenanceOf(t, b); p != nil || res.Skipped["Provenance (effectiveTime is not an instant)"] != 1 {
		t.Errorf("date-only effectiveTime: Provenance %+v, skipped %v", p, res.Skipped)
	}
}
