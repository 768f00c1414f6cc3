package v2fhir

import (
	"strings"
	"testing"
)

// TestNamePeriod: XPN.12 and XPN.13 (effective and expiration date) are
// HumanName.period, and XPN.10, the validity range they replaced, when
// neither is sent (IG XPN[HumanName] map). They were dropped, so a name
// the sender marked as no longer valid read as current.
func TestNamePeriod(t *testing.T) {
	for _, tc := range []struct {
		name, pid5 string
		want       []string // family|start|end
	}{
		{"expired name", "Doe^Jane~Smith^Jane^^^^^M^^^^^19900101^20150601", []string{"Doe||", "Smith|1990-01-01|2015-06-01"}},
		{"effective time", "Doe^Jane^^^^^L^^^^^201506011230-0500", []string{"Doe|2015-06-01T12:30:00-05:00|"}},
		{"validity range", "Doe^Jane^^^^^L^^^19900101&20150601", []string{"Doe|1990-01-01|2015-06-01"}},
		{"no dates", "Doe^Jane", []string{"Doe||"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5.1\nPID|1||123^^^HOSP^MR||" + tc.pid5 + "||19900101|F"
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			var got []string
			for _, n := range p.Name {
				s := n.Family + "||"
				if n.Period != nil {
					s = n.Family + "|" + n.Period.Start + "|" + n.Period.End
				}
				got = append(got, s)
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("names %v, want %v", got, tc.want)
			}
		})
	}
}
