package ccdafhir

import (
	"strings"
	"testing"
)

// TestXMLErrorQuotesNoText: encoding/xml's syntax errors quote the text
// around the fault, and in a C-CDA that text is the patient's: a name
// written with a bare & ("Smith&Jones", "Mary & John Doe") gave
// "invalid character entity &Jones (no semicolon)", a bare < in the
// narrative ("Doe<Jane") an element named after the patient. The
// error's first line is what `ferry quarantine list` shows without
// log.phi (conversion errors name places, not values), so it names the
// line and what is wrong there, never the text.
func TestXMLErrorQuotesNoText(t *testing.T) {
	head := `<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="MRN777123"/>
`
	for name, tc := range map[string]struct{ body, want string }{
		"bare & in a name": {`    <patient><name><given>Jane</given><family>Smith&Jones</family></name></patient>
`, "&amp;"},
		"bare & in an attribute": {`    <patient><name><given value="Jane&Joan"/></name></patient>
`, "&amp;"},
		"bare & in an element ferry skips": {`    </patientRole></recordTarget><informant><relatedEntity><relatedPerson><name>Joan&Jones</name></relatedPerson></relatedEntity></informant><recordTarget><patientRole>
`, "&amp;"},
		"bare < in text": {`    <patient><name><given>Jane</given><family>Doe<Jane>Smith</family></name></patient>
`, "&lt;"},
	} {
		doc := head + tc.body + "  </patientRole></recordTarget>\n</ClinicalDocument>\n"
		_, _, err := ConvertBytes([]byte(doc), Options{})
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "line 4") || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %q, want it to name line 4 and say to write %s", name, msg, tc.want)
		}
		for _, phi := range []string{"Jones", "Joan", "Jane", "Smith"} {
			if strings.Contains(msg, phi) {
				t.Errorf("%s: the error quotes %q of the document: %s", name, phi, msg)
			}
		}
	}
}
