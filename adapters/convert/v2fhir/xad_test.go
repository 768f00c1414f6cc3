package v2fhir

import (
	"strings"
	"testing"
)

// TestAddressPeriod: XAD.13 and XAD.14 (effective and expiration date)
// are Address.period, and XAD.12, the validity range they replaced, when
// neither is sent (IG XAD[Address] map). They were dropped, so an address
// the patient had left read as current.
func TestAddressPeriod(t *testing.T) {
	for _, tc := range []struct {
		name, pid11 string
		want        []string // line|start|end
	}{
		{"moved away", "1 Old Rd^^Town^ST^12345^^H^^^^^^20100101^20200601~2 New Rd^^Town^ST^12345^^H^^^^^^20200601", []string{"1 Old Rd|2010-01-01|2020-06-01", "2 New Rd|2020-06-01|"}},
		{"validity range", "1 Old Rd^^Town^ST^12345^^H^^^^^20100101&20200601", []string{"1 Old Rd|2010-01-01|2020-06-01"}},
		{"no dates", "1 Old Rd^^Town^ST^12345^^H", []string{"1 Old Rd||"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5.1\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F|||" + tc.pid11
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			var got []string
			for _, a := range p.Address {
				s := a.Line[0] + "||"
				if a.Period != nil {
					s = a.Line[0] + "|" + a.Period.Start + "|" + a.Period.End
				}
				got = append(got, s)
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("addresses %v, want %v", got, tc.want)
			}
		})
	}
}
