package v2fhir

import (
	"strings"
	"testing"
)

// TestDriversLicenseStateSystem: a driver's license in PID-3 (CX.5 DL)
// names its issuing state as its assigning authority (CX.4 "CA"). HL7
// registers each US state's driver's licenses under
// 2.16.840.1.113883.4.3.<state FIPS code> (THO NamingSystem FloridaDLN:
// urn:oid:2.16.840.1.113883.4.3.12), the system C-CDA documents and
// other sites write; ferry minted one of its own (<base>:id:ca), which
// no other input or site shares, so the license matched nothing at the
// exchange. A state the site maps in identifiers.systems, or an
// authority given by its OID, keeps that system.
func TestDriversLicenseStateSystem(t *testing.T) {
	for _, tc := range []struct{ pid3, want string }{
		{"123^^^HOSP^MR~D1234567^^^CA^DL", "urn:oid:2.16.840.1.113883.4.3.6|D1234567"},
		{"123^^^HOSP^MR~F123^^^fl^dl", "urn:oid:2.16.840.1.113883.4.3.12|F123"},
		{"123^^^HOSP^MR~S99^^^NY^DL", "urn:oid:2.16.840.1.113883.4.3.36|S99"},
		{"123^^^HOSP^MR~X1^^^&2.16.840.1.113883.4.3.25&ISO^DL", "urn:oid:2.16.840.1.113883.4.3.25|X1"},
		{"123^^^HOSP^MR~Z9^^^ZZ^DL", "urn:ferry:id:zz|Z9"},  // no state
		{"123^^^HOSP^MR~C7^^^CA^PPN", "urn:ferry:id:ca|C7"}, // not a license
	} {
		t.Run(tc.pid3, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5.1\nPID|1||" + tc.pid3 + "||Doe^Jane||19900101|F"
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			if len(p.Identifier) != 2 {
				t.Fatalf("identifiers %+v", p.Identifier)
			}
			id := p.Identifier[1]
			if got := id.System + "|" + id.Value; got != tc.want {
				t.Errorf("identifier %s, want %s", got, tc.want)
			}
			if strings.HasPrefix(tc.want, "urn:oid:") && id.Assigner != nil {
				t.Errorf("assigner %+v beside a registered system", id.Assigner)
			}
		})
	}
	c := testConverter(t)
	c.Systems = map[string]string{"HOSP": "urn:oid:2.16.840.1.113883.3.999.1", "CA": "https://dmv.ca.gov/dl"}
	p, _ := patientOf(t, mustConvert(t, c, "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5.1\nPID|1||123^^^HOSP^MR~D1^^^CA^DL||Doe^Jane||19900101|F"))
	if got := p.Identifier[1].System; got != "https://dmv.ca.gov/dl" {
		t.Errorf("mapped state: system %s, want the mapping's", got)
	}
}
