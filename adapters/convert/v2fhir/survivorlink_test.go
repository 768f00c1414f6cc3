package v2fhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
)

// TestSurvivorKeepsReplacesLink: an A01 for each of two records, an A40
// merging 55999 into 55501, then the survivor's own feed goes on (an A08,
// the discharge A03), posted to the stand-in exchange in every write mode.
// The survivor must still link to the record it replaced, as the A40 wrote
// it (FHIR Patient.link "replaces": the inactive record "should be
// consulted to retrieve additional referenced information"; IHE PMIR). The
// merged record's visit and results stay filed to it at the exchange, and
// were reachable from the survivor only through that link: a later ADT of
// the survivor, written whole, dropped it. A second merge into the same
// survivor keeps the first one's link too, and the first A40 sent again
// adds no second link.
func TestSurvivorKeepsReplacesLink(t *testing.T) {
	ex := standin.Start(t)
	adt := func(trig, id, mrn, name string) string {
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^" + trig + "^ADT_A01|" + id + "|P|2.5\n" +
			"EVN|" + trig + "|20240321085900\n" +
			"PID|1||" + mrn + "^^^HOSP^MR||" + name + "||20010101|M|||1 Main St^^Town\n" +
			"PV1|1|I|W1^101^A||||||||||||||||V-" + mrn + "^^^HOSP^VN\n"
	}
	a40 := func(id, retired, name string) string {
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|" + id + "|P|2.5\n" +
			"EVN|A40|20240321085900\n" +
			"PID|1||55501^^^HOSP^MR||" + name + "||20010101|M\n" +
			"MRG|" + retired + "^^^HOSP^MR\n"
	}
	msgs := []string{
		adt("A01", "M1", "55501", "ONeil^Sean"),
		adt("A01", "M2", "55999", "ONeal^Shawn"),
		adt("A01", "M3", "55777", "ONeill^Sean"),
		a40("M4", "55999", "ONeil^Sean"),
		adt("A08", "M5", "55501", "ONeil^Sean^P"),
		a40("M6", "55777", "ONeil^Sean"),
		adt("A03", "M7", "55501", "ONeil^Sean^P"),
		a40("M8", "55999", "ONeil^Sean^P"), // sent again: one link still
	}
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			reg := openRegistry(t)
			c := testConverter(t)
			c.Mode = mode
			c.Merges = reg
			ex.Reset(t)
			const system = "urn:oid:2.16.840.1.113883.3.999.1" // testConverter's HOSP
			for _, m := range msgs {
				b, _ := convertRecording(t, c, reg, m)
				parts, err := c.Parts(b)
				if err != nil {
					t.Fatal(err)
				}
				ex.Post(t, parts...)
			}
			surv := ex.Patient(t, system, "55501")
			if given := fmt.Sprint(surv["name"]); !strings.Contains(given, "P") {
				t.Errorf("survivor's name %s: the A03 was not applied", given)
			}
			if links, _ := surv["link"].([]any); len(links) != 2 {
				t.Errorf("survivor's links %v, want the two replaces", surv["link"])
			}
			for _, mrn := range []string{"55999", "55777"} {
				retired := ex.Patient(t, system, mrn)
				if fmt.Sprint(retired["active"]) != "false" || !strings.Contains(fmt.Sprint(retired["link"]), "replaced-by") {
					t.Errorf("retired %s: active %v, link %v; want inactive, replaced-by", mrn, retired["active"], retired["link"])
				}
				if !standin.Replaces(surv, retired, system, mrn) {
					t.Errorf("survivor's links %v: none replaces the record of %s (Patient/%v)", surv["link"], mrn, retired["id"])
				}
			}
		})
	}
}
