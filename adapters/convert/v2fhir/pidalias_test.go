package v2fhir

import (
	"strings"
	"testing"
)

// TestPatientAliasKept: PID-9, the patient's aliases (HL7 v2.3 to v2.4;
// from v2.5 kept for backward compatibility, later versions listing them
// in PID-5 with name type A), is a name of the Patient in the IG's
// PID[Patient] map (name[2], XPN[HumanName]), which an exchange matching
// patients searches too. It was dropped. A PID-9 name that repeats one
// of PID-5 is written once.
func TestPatientAliasKept(t *testing.T) {
	for _, tc := range []struct {
		name, pid5, pid9 string
		want             []string // use|family|given
	}{
		{"alias", "Doe^Jane^^^^^L", "Smith^Janet~Roe^Jay^^^^^N", []string{"official|Doe|Jane", "|Smith|Janet", "nickname|Roe|Jay"}},
		{"repeats PID-5", "Doe^Jane", "Doe^Jane~Smith^Janet", []string{"|Doe|Jane", "|Smith|Janet"}},
		{"alias only", "", "Smith^Janet", []string{"|Smith|Janet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.3\nPID|1||123^^^HOSP^MR||" + tc.pid5 + "||19900101|F|" + tc.pid9
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			var got []string
			for _, n := range p.Name {
				got = append(got, n.Use+"|"+n.Family+"|"+strings.Join(n.Given, " "))
			}
			if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("names %v, want %v", got, tc.want)
			}
		})
	}
}
