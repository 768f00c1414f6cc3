package audit

import (
	"fmt"
	"testing"
)

// TestSlowRepositoryKeepsEvents: a repository that is up but slower than
// the events come (an https FHIR base taking one AuditEvent for every
// four the gateway records, as in a backlog an EHR resends) must not cost
// events while the spool has room: those the sender cannot write in time
// go to the spool and follow in order, instead of filling the channel
// from Record until it drops them.
func TestSlowRepositoryKeepsEvents(t *testing.T) {
	p := demoPKI(t)
	gate := make(chan struct{})
	r := &fhirRepo{gate: gate}
	url := startFHIRRepo(t, p, r)
	s := newSink(t, url, clientTLS(p), t.TempDir(), func(o *Options) { o.QueueSize = 32 })
	start(t, s)
	const n = 400
	for i := range n {
		s.Record(exportN(i))
		if i%4 == 3 {
			gate <- struct{}{} // one POST taken
		}
	}
	close(gate)
	st := waitStats(t, s, "every event sent or lost", func(st Stats) bool { return st.Pending == 0 && st.Sent+st.Dropped >= n })
	if st.Dropped != 0 {
		t.Fatalf("%d of %d events dropped by a repository that was only slow (%+v)", st.Dropped, n, st)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, m := range r.got {
		ent := m["entity"].([]any)
		last := ent[len(ent)-1].(map[string]any)
		// exportN's bundle: the submission set's X-Request-Id detail.
		id := last["detail"].([]any)[0].(map[string]any)["valueString"].(string)
		if want := fmt.Sprintf("bundle-%05d", i); id != want {
			t.Fatalf("event %d is %s, want %s", i, id, want)
		}
	}
	if len(r.got) != n {
		t.Errorf("repository has %d events, want %d", len(r.got), n)
	}
}
