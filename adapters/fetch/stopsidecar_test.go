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

// TestStopMidPollMovesFaxesWithTheirSidecars: a poll that brought a fax
// and its sidecar into the folder and moved the fax on the server moved
// the sidecar only once every file of the poll was done, so a stop while
// a later fax was downloaded (a service restart, Windows rebooting for an
// update) left the sidecar on the server without its fax: after the
// restart it came into the folder alone, which after five minutes moved
// it to failed/ with a WARN that its fax had gone without it (the fax had
// gone with it). A fax's sidecars are moved as soon as the fax is.
func TestStopMidPollMovesFaxesWithTheirSidecars(t *testing.T) {
	f := newFixture(t)
	old := time.Now().Add(-time.Hour)
	for _, p := range []struct{ name, body string }{
		{"fax-0001.pdf", "%PDF-1.4 one\n%%EOF\n"}, {"fax-0001.json", `{"mrn": "A7"}`},
		{"fax-0002.pdf", "%PDF-1.4 two\n%%EOF\n"}, {"fax-0002.json", `{"mrn": "B9"}`},
	} {
		f.put(t, p.name, p.body)
		at := old
		if strings.HasPrefix(p.name, "fax-0002") {
			at = old.Add(time.Minute)
		}
		if err := os.Chtimes(filepath.Join(f.remote, p.name), at, at); err != nil {
			t.Fatal(err)
		}
	}
	fe := f.fetcher(t)
	fe.Sidecars(func(name string) bool { return strings.HasSuffix(name, ".json") })
	poll(t, fe)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The gateway stops while the second fax is downloaded.
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpOpen && len(body) >= 9 {
			if n := binary.BigEndian.Uint32(body[5:9]); uint32(len(body)-9) >= n && path.Base(string(body[9:9+n])) == "fax-0002.pdf" {
				cancel()
				return nil, true
			}
		}
		return nil, false
	}, nil)
	fe.Poll(ctx)
	if got := strings.Join(list(t, f.local), " "); got != "fax-0001.json fax-0001.pdf" {
		t.Fatalf("folder holds %q; want the first fax and its sidecar", got)
	}
	if got := strings.Join(list(t, filepath.Join(f.remote, "ferry-done")), " "); got != "fax-0001.json fax-0001.pdf" {
		t.Errorf("ferry-done holds %q; want the first fax moved with its sidecar", got)
	}
	if got := strings.Join(list(t, f.remote), " "); got != "fax-0002.json fax-0002.pdf ferry-done" {
		t.Errorf("remote holds %q; want only the second fax and its sidecar", got)
	}
}
