package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// vitalsAt is a vital signs section with two same-day readings whose
// times have no zone, and a third with its own zone and one with a date
// only.
const vitalsAt = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.4.1" extension="2015-08-01"/>
 <code code="8716-3" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
  <id root="9.9.9" extension="hr1"/>
  <code code="8867-4" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240101093000"/>
  <value xsi:type="PQ" value="80" unit="/min"/>
 </observation></entry>
 <entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
  <id root="9.9.9" extension="hr2"/>
  <code code="8867-4" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <effectiveTime value="202401011415"/>
  <value xsi:type="PQ" value="72" unit="/min"/>
 </observation></entry>
 <entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
  <id root="9.9.9" extension="hr3"/>
  <code code="8867-4" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240101160000+0100"/>
  <value xsi:type="PQ" value="70" unit="/min"/>
 </observation></entry>
 <entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
  <id root="9.9.9" extension="hr4"/>
  <code code="8867-4" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240101"/>
  <value xsi:type="PQ" value="75" unit="/min"/>
 </observation></entry>
</section></component>`

// observationTimes converts doc and returns each Observation's
// effectiveDateTime and id, by identifier value.
func observationTimes(t *testing.T, doc string) (times, ids map[string]string) {
	t.Helper()
	out, _ := convertReview(t, doc)
	times, ids = map[string]string{}, map[string]string{}
	for _, r := range out["Observation"] {
		o := r.(*fhir.Observation)
		for _, id := range o.Identifier {
			times[id.Value], ids[id.Value] = o.EffectiveDateTime, o.ID
		}
	}
	return times, ids
}

// TestTimesWithoutZoneTakeTheDocumentsZone: a TS with a time and no zone
// in a document whose effectiveTime has one (-0500) is meant in that zone,
// so same-day vital signs keep their times and order; a TS with its own
// zone keeps it, a date stays a date. In a document whose effectiveTime
// has no zone either, such a time is cut to its date, as before, rather
// than given an invented zone. Resource ids do not depend on times.
func TestTimesWithoutZoneTakeTheDocumentsZone(t *testing.T) {
	doc := reviewDoc("TZ1", "TZ1", "", vitalsAt)
	if !strings.Contains(doc, `<effectiveTime value="20240102101500-0500"/>`) {
		t.Fatal("test document changed: its effectiveTime is not 20240102101500-0500")
	}
	times, ids := observationTimes(t, doc)
	want := map[string]string{
		"hr1": "2024-01-01T09:30:00-05:00",
		"hr2": "2024-01-01T14:15:00-05:00",
		"hr3": "2024-01-01T16:00:00+01:00",
		"hr4": "2024-01-01",
	}
	for k, w := range want {
		if times[k] != w {
			t.Errorf("with the document's zone: %s effectiveDateTime = %q, want %q", k, times[k], w)
		}
	}

	noZone := strings.Replace(doc, `<effectiveTime value="20240102101500-0500"/>`, `<effectiveTime value="20240102101500"/>`, 1)
	times2, ids2 := observationTimes(t, noZone)
	want["hr1"], want["hr2"] = "2024-01-01", "2024-01-01"
	for k, w := range want {
		if times2[k] != w {
			t.Errorf("without a document zone: %s effectiveDateTime = %q, want %q", k, times2[k], w)
		}
		if ids[k] == "" || ids[k] != ids2[k] {
			t.Errorf("%s: id %q with the zone, %q without: ids must not depend on times", k, ids[k], ids2[k])
		}
	}
}

// TestDocZone: only +HHMM, -HHMM and Z are taken as the document's zone.
func TestDocZone(t *testing.T) {
	for in, want := range map[string]string{
		"20240102101500-0500": "-0500",
		"20240102101500+0130": "+0130",
		"20240102101500Z":     "Z",
		"20240102-0500":       "-0500",
		"20240102101500":      "",
		"20240102101500-05":   "",
		"20240102101500-05ab": "",
		"":                    "",
	} {
		if got := docZone(in); got != want {
			t.Errorf("docZone(%q) = %q, want %q", in, got, want)
		}
	}
}
