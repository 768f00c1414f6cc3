package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVXUManufacturerMVXCode: RXA-17 names the vaccine's manufacturer by
// its MVX code (CDC's HL7 table 0227, "PMC^Sanofi Pasteur^MVX"), which an
// immunization registry matches on; ferry wrote the name alone as the
// manufacturer's display, the code lost, and one sent with the code only
// had the code as its display. The code is the reference's identifier in
// the MVX system (THO CodeSystem MVX: http://hl7.org/fhir/sid/mvx, as
// ccdafhir writes it), the name its display.
func TestVXUManufacturerMVXCode(t *testing.T) {
	const msg = `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0032|P|2.5.1
PID|1||MRN200779^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Ana||20230105|F
ORC|RE||IZ-14101^SPRINGCLINIC
RXA|0|1|20240401101500||20^DTaP^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||DT1||PMC^Sanofi Pasteur^MVX|||CP|A
ORC|RE||IZ-14102^SPRINGCLINIC
RXA|0|1|20240401102000||08^Hep B, adolescent or pediatric^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||HB2||MSD^^MVX|||CP|A`
	b := mustConvert(t, testConverter(t), msg)
	byLot := map[string]*fhir.Immunization{}
	for _, imm := range entriesOf[fhir.Immunization](b) {
		byLot[imm.LotNumber] = imm
	}
	for lot, want := range map[string][2]string{"DT1": {"PMC", "Sanofi Pasteur"}, "HB2": {"MSD", ""}} {
		imm := byLot[lot]
		if imm == nil {
			t.Fatalf("no Immunization of lot %s", lot)
		}
		m := imm.Manufacturer
		if m == nil || m.Identifier == nil || m.Identifier.System != "http://hl7.org/fhir/sid/mvx" ||
			m.Identifier.Value != want[0] || m.Display != want[1] {
			t.Errorf("lot %s: manufacturer %s, want identifier http://hl7.org/fhir/sid/mvx|%s display %q", lot, toJSON(m), want[0], want[1])
		}
	}
	strictR4(t, marshal(t, b))
}
