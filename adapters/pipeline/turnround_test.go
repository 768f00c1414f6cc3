package pipeline

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/merges"
)

// TestBatchMergeTurnedRound: after 55999 was merged into 55501, a batch
// file turns the merge round (an A40 merging 55501 into 55999) and goes
// on with results under both numbers. Before the file is stored the
// registry still holds the old merge, so the batch's own view must not
// follow it: both results are 55999's. Once stored, merges.log holds the
// turned merge only, and the log says so without PHI.
func TestBatchMergeTurnedRound(t *testing.T) {
	g := openMergeGateway(t, t.TempDir())
	if err := g.consume(t, "hl7v2", mergeA40); err != nil {
		t.Fatal(err)
	}
	g.next(t)
	back := strings.NewReplacer("PID|1||55501", "PID|1||55999", "MRG|55999", "MRG|55501", "|M40|", "|M41|").Replace(mergeA40)
	under := func(mrn, id string) string {
		return strings.NewReplacer("55999^^^HOSP", mrn+"^^^HOSP", "|L7|", "|"+id+"|").Replace(lateORU)
	}
	if err := g.consume(t, "hl7v2-batch", back+"\n"+under("55999", "L8")+"\n"+under("55501", "L9")); err != nil {
		t.Fatal(err)
	}
	_, pats := observationSubjects(t, g.next(t))
	if len(pats) != 2 {
		t.Fatalf("turned merge writes Patients %v, want the current and the retired one", pats)
	}
	for _, mrn := range []string{"55999", "55501"} {
		subjects, _ := observationSubjects(t, g.next(t))
		if len(subjects) != 1 || subjects[0] != pats[0] {
			t.Errorf("result under %s: subjects %v, want 55999's %s", mrn, subjects, pats[0])
		}
	}
	sys := "urn:oid:2.16.840.1.113883.3.999.1"
	if _, ok, _ := g.reg.Survivor(merges.ID{System: sys, Value: "55999"}); ok {
		t.Error("55999 still retired after the merge was turned round")
	}
	if s, ok, _ := g.reg.Survivor(merges.ID{System: sys, Value: "55501"}); !ok || s.Value != "55999" {
		t.Errorf("55501 resolves to %v (retired %v), want 55999", s, ok)
	}
	logs := g.log.String()
	if !strings.Contains(logs, "turns an earlier one round") {
		t.Errorf("no log line for the turned merge: %s", logs)
	}
	for _, phi := range []string{"55999", "55501", "ONeil"} {
		if strings.Contains(logs, phi) {
			t.Errorf("log holds %q: %s", phi, logs)
		}
	}
}
