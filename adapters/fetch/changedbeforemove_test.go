package fetch

import (
	"context"
	"encoding/binary"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// TestSidecarRewrittenBeforeItsMoveStays: a sidecar is downloaded at the
// start of a poll and moved once its fax is downloaded too, which for a
// large fax over a slow link (or after the faxes before it) is minutes
// later; a fax service that rewrote the sidecar meanwhile (the patient
// matched, a status added) had the new one deleted (after: delete) or
// moved to ferry-done unread, the folder holding the old one. A file that
// is no longer what the listing said stays on the server and is fetched
// as a changed file is.
func TestSidecarRewrittenBeforeItsMoveStays(t *testing.T) {
	f := newFixture(t)
	f.cfg.After = AfterDelete
	f.put(t, "fax-0001.pdf", "%PDF-1.4 fax\n%%EOF\n")
	f.put(t, "fax-0001.json", `{"mrn": ""}`)
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{"fax-0001.pdf", "fax-0001.json"} {
		if err := os.Chtimes(filepath.Join(f.remote, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	fe := f.fetcher(t)
	fe.Sidecars(func(name string) bool { return strings.HasSuffix(name, ".json") })
	poll(t, fe)
	rewritten := `{"mrn": "A7", "status": "matched"}`
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpOpen && len(body) >= 9 {
			if n := binary.BigEndian.Uint32(body[5:9]); uint32(len(body)-9) >= n && path.Base(string(body[9:9+n])) == "fax-0001.pdf" {
				os.WriteFile(filepath.Join(f.remote, "fax-0001.json"), []byte(rewritten), 0o644)
			}
		}
		return nil, false
	}, nil)
	fe.Poll(context.Background())
	if b, err := os.ReadFile(filepath.Join(f.remote, "fax-0001.json")); err != nil || string(b) != rewritten {
		t.Errorf("the rewritten sidecar on the server: %q, %v; want it left there", b, err)
	}
}
