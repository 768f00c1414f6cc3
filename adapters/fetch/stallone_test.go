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

// TestFileTheServerHangsOnDoesNotHoldTheOthers: a server that lists a
// file but never answers its read (a file on storage that went offline,
// one another program holds locked on a Windows server) had the poll's
// watchdog close the connection at that file, and the files after it
// failed with it; the file, the oldest, was tried first again at every
// poll, so no file was fetched again for as long as it hung. A file the
// server did not answer for is tried after the others from then on,
// until it is fetched or changes.
func TestFileTheServerHangsOnDoesNotHoldTheOthers(t *testing.T) {
	f := newFixture(t)
	f.cfg.Timeout = time.Second
	old := time.Now().Add(-time.Hour)
	for i, name := range []string{"a-stuck.hl7", "b.hl7", "c.hl7"} {
		f.put(t, name, "MSH|^~\\&|"+name+"\r")
		at := old.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(filepath.Join(f.remote, name), at, at); err != nil {
			t.Fatal(err)
		}
	}
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpOpen && len(body) >= 9 {
			n := binary.BigEndian.Uint32(body[5:9])
			return nil, uint32(len(body)-9) >= n && path.Base(string(body[9:9+n])) == "a-stuck.hl7"
		}
		return nil, false
	}, nil)
	fe := f.fetcher(t)
	poll(t, fe)
	for range 3 {
		if err := fe.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "answered nothing for 1s") {
			t.Fatalf("poll: %v", err)
		}
	}
	if got := strings.Join(list(t, f.local), " "); got != "b.hl7 c.hl7" {
		t.Errorf("folder holds %q; want the files the server answers for", got)
	}
	if got := strings.Join(list(t, f.remote), " "); got != "a-stuck.hl7 ferry-done" {
		t.Errorf("remote holds %q", got)
	}
}
