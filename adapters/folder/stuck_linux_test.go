package folder

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/queuetest"
)

// An inbox ferry cannot take files from (immutable here; a missing
// ReadWritePaths or a read-only mount alike) is reported once at WARN,
// without the file's name, and in Stats; when it works again, that is
// logged too.
func TestStuckFolderIsReported(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.Name = "fax-inbox"
	e, lb := startLogged(t, cfg, rec, false)
	waitPasses(t, e, 1) // the work folders exist before the inbox is frozen

	dropFile(t, dir, phiName, []byte("II*\x00 fax"))
	thaw := queuetest.SetImmutable(t, dir)

	waitFor(t, "failed claims", func() bool { return e.Stats().ClaimErrors >= 5 })
	st := e.Stats()
	if !st.ClaimsFailing || st.LastClaimError != "operation not permitted" || st.LastClaimErrorAt.IsZero() {
		t.Errorf("stats = %+v", st)
	}
	waitFor(t, "waiting figure", func() bool { st := e.Stats(); return st.Waiting == 1 && !st.OldestWaiting.IsZero() })
	if rec.count() != 0 {
		t.Fatal("consumed a file that could not be claimed")
	}
	out := lb.String()
	if n := strings.Count(out, "level=WARN msg=\"folder files cannot be claimed"); n != 1 {
		t.Errorf("%d WARN lines for one episode, want 1:\n%s", n, out)
	}
	for _, want := range []string{"folder=fax-inbox", "path=" + dir, "reason=\"operation not permitted\""} {
		if !strings.Contains(out, want) {
			t.Errorf("the warning lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DOE_JANE") {
		t.Errorf("log names the file:\n%s", out)
	}

	thaw()
	waitFor(t, "claimed after the fix", doneHas(t, e, phiName))
	waitFor(t, "recovery logged", func() bool {
		e.Rescan()
		return strings.Contains(lb.String(), "folder files can be claimed again") && !e.Stats().ClaimsFailing
	})
}
