package v2fhir

import (
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestLaterMergeGroupSurvivorOrdersTheMerge: an A40 of two patient groups
// with two survivors (the corpus's ADT-A40-02: 56789 into 12345, 569 into
// 145) writes both surviving Patients, but was queued under the first
// survivor alone, after the two retired records: 145's own bundles were
// not ordered against it. One queued before the merge (an A08 converted
// before it was recorded, without the replaces link) could reach the
// exchange after it and write 145 back without its link to 569 and with
// older demographics, and one queued after it could be overwritten by the
// merge's older PID (README, Delivery: "Bundles of one patient (one queue
// key) go to the exchange one at a time, in the order they were queued").
// Every surviving patient the message writes besides its own is an order
// key it comes after.
func TestLaterMergeGroupSurvivorOrdersTheMerge(t *testing.T) {
	const msg = "MSH|^~\\&|Ntierprise|Ntierprise Clinic|Healthmatics EHR|Healthmatics Clinic|20190423150137+0215||ADT^A40^ADT_A40|8919-40|P|2.8|||NE|NE\n" +
		"EVN|A40|20190423150137+0215||01|13^Berry\n" +
		"PID|1||12345^^^BCBS^MR||Test^Test^A||20180205|F|||123 Any Street^^Raleigh^NC^27615||(111)111-1111^^PH^^^111^1111111|||||5027440^^^^AN\n" +
		"MRG|56789^^^BCBS^MR\n" +
		"PID|1||145^^^BCBS^MR||Test^Test^A||20180205|F|||123 Street^^Raleigh^NC^27615||(111)111-1111^^PH^^^111^1111111|||||5027440^^^^AN\n" +
		"MRG|569^^^BCBS^MR\n"
	c := testConverter(t)
	c.Merges = openRegistry(t)
	_, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Merges) != 2 {
		t.Fatalf("merges %v, want two", res.Merges)
	}
	keyOf := func(id fhir.Identifier) string { return fhir.PatientKey(id.System, id.Value) }
	first, second := res.Merges[0].Survivor, res.Merges[1].Survivor
	if res.PatientKey != keyOf(fhir.Identifier{System: first.System, Value: first.Value}) {
		t.Fatalf("queued under %s, not the first survivor", res.PatientKey)
	}
	want := []string{
		fhir.PatientKey(res.Merges[0].Retired.System, res.Merges[0].Retired.Value),
		fhir.PatientKey(res.Merges[1].Retired.System, res.Merges[1].Retired.Value),
		fhir.PatientKey(second.System, second.Value),
	}
	for _, k := range want {
		if !slices.Contains(res.AfterKeys, k) {
			t.Errorf("after keys %v lack %s", res.AfterKeys, k)
		}
	}
	if slices.Contains(res.AfterKeys, res.PatientKey) || len(res.AfterKeys) != len(want) {
		t.Errorf("after keys %v, want %v", res.AfterKeys, want)
	}
}
