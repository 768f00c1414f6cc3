package v2fhir

import (
	"strings"
	"testing"
)

// TestRaceEthnicityAlternateCoding: EHRs send PID-10 and PID-22 under
// their own codes with the CDC Race & Ethnicity code as the CWE's
// alternate (CWE.4-6: "W^White^L^2106-3^White^CDCREC"), as the IG's
// CWE[CodeableConcept] map reads it (a second coding). Only CWE.1-3 were
// read, so the local code matched no OMB category and the US Core
// extension carried the text alone: the exchange never got the race or
// ethnicity the message gave.
func TestRaceEthnicityAlternateCoding(t *testing.T) {
	const race, eth = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
	for _, tc := range []struct {
		name, pid10, pid22 string
		want               []string // url part code, text
	}{
		{"local then CDC", "W^White^L^2106-3^White^CDCREC", "HIS^Hispanic^99ETH^2135-2^Hispanic or Latino^CDCREC",
			[]string{"race ombCategory 2106-3", "race text White", "ethnicity ombCategory 2135-2", "ethnicity text Hispanic"}},
		{"detailed alternate", "CHN^Chinese^L^2034-7^Chinese^CDCREC", "",
			[]string{"race detailed 2034-7", "race text Chinese"}},
		{"0189 letter alternate", "", "Y^Yes^L^H^Hispanic or Latino^HL70189",
			[]string{"ethnicity ombCategory 2135-2", "ethnicity text Yes"}},
		{"CDC primary kept once", "2106-3^White^CDCREC^2106-3^White^HL70005", "",
			[]string{"race ombCategory 2106-3", "race text White"}},
		{"local alternate not read", "2106-3^White^CDCREC^W^White^L", "",
			[]string{"race ombCategory 2106-3", "race text White"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5.1\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F||" + tc.pid10 + "||||||||||||" + tc.pid22
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			var got []string
			for _, e := range p.Extension {
				name := map[string]string{race: "race", eth: "ethnicity"}[e.URL]
				if name == "" {
					continue
				}
				for _, s := range e.Extension {
					switch {
					case s.ValueCoding != nil:
						if s.ValueCoding.System != "urn:oid:2.16.840.1.113883.6.238" {
							t.Errorf("%s %s: system %s", name, s.URL, s.ValueCoding.System)
						}
						got = append(got, name+" "+s.URL+" "+s.ValueCoding.Code)
					default:
						got = append(got, name+" "+s.URL+" "+s.ValueString)
					}
				}
			}
			if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}
