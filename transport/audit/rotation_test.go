package audit

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue/seal"
)

// TestSpoolSealedKeyRotation: events spooled sealed with a key that was
// then rotated out (kept as a previous key) still reach the repository,
// and SpoolKeys names that key while they wait, so that doctor does not
// call it removable.
func TestSpoolSealedKeyRotation(t *testing.T) {
	p := demoPKI(t)
	oldKey, _ := seal.NewKey(bytes.Repeat([]byte{7}, 32))
	newKey, _ := seal.NewKey(bytes.Repeat([]byte{9}, 32))
	spoolDir := filepath.Join(t.TempDir(), "spool")
	s1 := newSink(t, "tls://"+reserveAddr(t), clientTLS(p), spoolDir, func(o *Options) { o.Key = oldKey })
	start(t, s1)
	s1.Record(ExportEvent(Export{Gateway: "gw", ExchangeURL: "https://hie/fhir", PatientID: mrnA7, BundleID: "01J"}))
	waitStats(t, s1, "spooled", func(st Stats) bool { return st.Spooled == 1 })
	shutdown(t, s1)

	use, err := SpoolKeys(spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	if use[oldKey.ID()] != 1 || len(use) != 1 {
		t.Fatalf("SpoolKeys = %v, want 1 record under %s", use, oldKey.ID())
	}

	r, addr := startTLSRepo(t, p, "127.0.0.1:0")
	s2 := newSink(t, "tls://"+addr, clientTLS(p), spoolDir, func(o *Options) { o.Key = newKey.WithPrevious(oldKey) })
	start(t, s2)
	msgs := r.waitN(t, 1)
	if !bytes.Contains(msgs[0].msg, []byte(`MRN-A7`)) {
		t.Errorf("the spooled event lost the patient:\n%s", msgs[0].msg)
	}
	shutdown(t, s2)
	if st := s2.Stats(); st.Dropped != 0 {
		t.Errorf("stats = %+v", st)
	}
	if use, err := SpoolKeys(spoolDir); err != nil || len(use) != 0 {
		t.Errorf("after sending: SpoolKeys = %v, %v", use, err)
	}
}
