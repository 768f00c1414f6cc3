package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// encounterPerformers is encounterSection with two performers, each
// named family and identified by the NPI npi.
func encounterPerformers(npi1, family1, npi2, family2 string) string {
	perf := func(npi, family string) string {
		return `<performer><assignedEntity><id root="2.16.840.1.113883.4.6" extension="` + npi + `"/>
   <assignedPerson><name><given>A</given><family>` + family + `</family></name></assignedPerson></assignedEntity></performer>`
	}
	return strings.Replace(encounterSection, `<effectiveTime value="20240101"/>`,
		`<effectiveTime value="20240101"/>`+perf(npi1, family1)+perf(npi2, family2), 1)
}

// TestPlaceholderNPIIsNotAPerson: an NPI names one provider for life (45
// CFR 162.406), so two names under one NPI are one Practitioner. But an
// NPI is ten digits whose last is a Luhn check digit over "80840" and
// the other nine; a value that is not one (5555555555, 999999943252, as
// EHRs fill in for staff without an NPI, and as the corpus's documents
// give two different doctors) names no one, and ferry made everyone who
// carried it one Practitioner: Transfer_Summary.xml's nephrologist Rory
// Renal Primary became its PCP Patricia Primary, and, the id being
// shared across documents and patients, every document's Henry Seven
// or Jim Smith under 999999943252 overwrote the other at the exchange.
// Such a value is still sent as the identifier it is, but no longer
// keys the Practitioner (or Organization): the value and the name do.
func TestPlaceholderNPIIsNotAPerson(t *testing.T) {
	for _, c := range []struct {
		npi  string
		want int
	}{
		{"5555555555", 2},   // check digit wrong
		{"999999943252", 2}, // twelve digits
		{"55555555", 2},     // eight
		{"1234567893", 1},   // a valid NPI: one person, whatever the names say
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", encounterPerformers(c.npi, "Renal", c.npi, "Primary")))
		ps := got["Practitioner"]
		if len(ps) != c.want {
			t.Errorf("NPI %s on two names: %d Practitioners, want %d", c.npi, len(ps), c.want)
			continue
		}
		refs := map[string]bool{}
		for _, p := range got["Encounter"][0].(*fhir.Encounter).Participant {
			refs[p.Individual.Reference] = true
		}
		if len(refs) != c.want {
			t.Errorf("NPI %s: the encounter's performers refer to %d Practitioners, want %d", c.npi, len(refs), c.want)
		}
		for _, p := range ps {
			found := false
			for _, id := range p.(*fhir.Practitioner).Identifier {
				found = found || id.System == "http://hl7.org/fhir/sid/us-npi" && id.Value == c.npi
			}
			if !found {
				t.Errorf("NPI %s: Practitioner %+v does not carry it", c.npi, p.(*fhir.Practitioner).Identifier)
			}
		}
	}
}
