package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVXUHistoricalReportOrigin: RXA-9 01 to 08 (NIP001) says a dose is
// reported from a source other than the one who gave it, and which: 02
// another provider, 03 the parent's written record, 04 the parent's
// recall, 07 a school record. ferry kept only primarySource false, so the
// exchange could not tell a dose read off another clinic's chart from
// one a parent remembers. FHIR R4 Immunization.reportOrigin is "the
// source of the data when the report of the immunization event is not
// based on information from the person who administered the vaccine",
// and the v2-to-FHIR IG's RXA map notes the CDC guide maps RXA-9 to it.
// A new record (00) has none (primarySource true).
func TestVXUHistoricalReportOrigin(t *testing.T) {
	const msg = `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0044|P|2.5.1
PID|1||MRN200784^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Pablo||20100105|M
ORC|RE||IZ-14501^SPRINGCLINIC
RXA|0|1|20141012||88^influenza, unspecified formulation^CVX|999|||04^Historical information - from parent's recall^NIP001|||||||||||CP|A
ORC|RE||IZ-14502^SPRINGCLINIC
RXA|0|1|20240401101500||20^DTaP^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001|||||||||||CP|A`
	b := mustConvert(t, testConverter(t), msg)
	byCode := map[string]*fhir.Immunization{}
	for _, imm := range entriesOf[fhir.Immunization](b) {
		byCode[imm.VaccineCode.Coding[0].Code] = imm
	}
	recalled, given := byCode["88"], byCode["20"]
	if recalled == nil || given == nil {
		t.Fatalf("immunizations: %s", toJSON(byCode))
	}
	if o := recalled.ReportOrigin; o == nil || len(o.Coding) != 1 || o.Coding[0].Code != "04" || o.Coding[0].Display != "Historical information - from parent's recall" {
		t.Errorf("historical dose: reportOrigin %s, want RXA-9 04 (parent's recall)", toJSON(recalled.ReportOrigin))
	}
	if given.ReportOrigin != nil {
		t.Errorf("new record: reportOrigin %s, want none", toJSON(given.ReportOrigin))
	}
	strictR4(t, marshal(t, b))
}
