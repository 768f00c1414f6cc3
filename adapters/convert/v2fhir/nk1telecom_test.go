package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestContactTelecomV27: as of HL7 v2.7 NK1-5 and NK1-6 are kept for
// backward compatibility only and a next of kin's phone, e-mail or pager
// is NK1-40 (Next of Kin Telecommunication Information), that of the
// party's contact person NK1-41; the v2-to-FHIR IG's NK1[Patient] map
// writes both as contact.telecom. They were read past, so a v2.7+
// sender's emergency contact reached the exchange with no way to reach
// them (the corpus's ADT-A01-01: its NK1-40 mobile, XTN-12 777, and NK1-41 444444), and one given
// only a name and a phone there no contact at all. A number NK1-5 gives
// too is listed once.
func TestContactTelecomV27(t *testing.T) {
	c := testConverter(t)
	b, _, err := c.ConvertRaw(corpusMessage(t, "ADT-A01-01.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	js := toJSON(entriesOf[fhir.Patient](b)[0].Contact)
	for _, want := range []string{`"value":"777"`, `"value":"444444"`} {
		if !strings.Contains(js, want) {
			t.Errorf("corpus contact lacks %s: %s", want, js)
		}
	}

	msg := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240403140000||ADT^A08^ADT_A01|NK-2|P|2.8\r" +
		"EVN|A08|20240403140000\r" +
		"PID|1||MRN1^^^CLINIC^MR||Rivera^Ana||19780214|F\r" +
		"NK1|1||SPO^Spouse^HL70063||^PRN^PH^^1^217^5550143||EP^Emergency Contact Person^HL70131" + strings.Repeat("|", 33) + "^PRN^PH^^1^217^5550143~^PRN^CP^^1^217^5550199\r"
	p := entriesOf[fhir.Patient](mustConvert(t, c, msg))[0]
	if len(p.Contact) != 1 {
		t.Fatalf("contacts %s", toJSON(p.Contact))
	}
	got := p.Contact[0].Telecom
	if len(got) != 2 || !strings.Contains(got[0].Value, "555-0143") || !strings.Contains(got[1].Value, "555-0199") || got[1].Use != "mobile" {
		t.Errorf("telecom %s, want the home phone once and the mobile", toJSON(got))
	}
}
