package ehrdrop

import (
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
)

// IHE MHD maps a DocumentEntry's serviceStartTime and serviceStopTime to
// DocumentReference.context.period and its eventCodeList to
// context.event (the DocumentEntry mapping of the MHD DocumentReference
// profiles; Minimal has context.period 0..1 must support, context.event
// 0..*): a PDF of an XDM package whose METADATA.XML gives them reaches
// the exchange with them, so a search by the date of the visit or by the
// procedure finds it. Both are the patient's care, kept out of the
// Entry's metadata without PHI.
func TestZipXDMServiceTimesAndEvents(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	rec := &recorder{next: pipe}
	s := startSource(t, zipConfig(dir), rec)
	e := pdfEntry()
	e.serviceStart, e.serviceStop = "20260226140000", "20260227093000"
	e.eventCode = [3]string{"80146002", "2.16.840.1.113883.6.96", "Appendectomy"}
	copyIn(t, dir, "direct.zip", directPackage(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), e))
	if reason := settled(t, s, "direct.zip", false); reason != "" {
		t.Fatal(reason)
	}
	items := q.all()
	pdf := items[len(items)-1]
	if pdf.Attrs["format"] != xdmfhir.Format {
		t.Fatalf("last bundle is %v, not the PDF's", pdf.Attrs)
	}
	d := entryOf(t, pdf.Body, "DocumentReference")["resource"]
	if at(d, "context", "period", "start") != "2026-02-26T14:00:00Z" || at(d, "context", "period", "end") != "2026-02-27T09:30:00Z" {
		t.Errorf("context.period %v, want the service start and stop times", at(d, "context", "period"))
	}
	if at(d, "context", "event", 0, "coding", 0, "system") != "http://snomed.info/sct" || at(d, "context", "event", 0, "coding", 0, "code") != "80146002" {
		t.Errorf("context.event %v, want the eventCodeList's code", at(d, "context", "event"))
	}
	for _, raw := range rec.all() {
		if m := raw.Meta[xdmfhir.MetaEntry]; strings.Contains(m, "2026022614") || strings.Contains(m, "80146002") {
			t.Errorf("the service time or event code is in %s, the metadata without PHI: %s", xdmfhir.MetaEntry, m)
		}
	}
}
