package fetch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// fixture is an SFTP server (sshtest) with a remote directory to empty
// and a local folder to fill.
type fixture struct {
	site          *sshtest.Site
	remote, local string
	cfg           Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tmp := t.TempDir()
	site := sshtest.NewSite(t, tmp)
	f := &fixture{site: site, remote: filepath.Join(tmp, "outbound"), local: filepath.Join(tmp, "inbox")}
	for _, d := range []string{f.remote, f.local} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.cfg = Config{URL: "sftp://ferry@" + site.Server.Addr() + sshtest.URLPath(f.remote), Login: site.Login, Timeout: 5 * time.Second}
	return f
}

func (f *fixture) fetcher(t *testing.T) *Fetcher {
	t.Helper()
	fe, err := New(adapters.Settings{}, f.cfg, f.local, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fe
}

func (f *fixture) put(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.remote, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func poll(t *testing.T, fe *Fetcher) {
	t.Helper()
	if err := fe.Poll(context.Background()); err != nil {
		t.Fatalf("poll: %v", err)
	}
}

// TestFetchesSettledFiles: a file is taken at the first poll that sees it
// unchanged, stored in the folder whole, then moved to ferry-done on the
// server; hidden and partial files are never taken, and nothing half
// written is left in the folder.
func TestFetchesSettledFiles(t *testing.T) {
	f := newFixture(t)
	f.put(t, "adt-1.hl7", "MSH|^~\\&|A\r")
	written := time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(f.remote, "adt-1.hl7"), written, written); err != nil {
		t.Fatal(err)
	}
	f.put(t, "ccd.xml", "<ClinicalDocument/>")
	f.put(t, ".hidden", "x")
	f.put(t, "export.zip.part", "x")
	fe := f.fetcher(t)
	poll(t, fe)
	if got := list(t, f.local); len(got) != 0 {
		t.Fatalf("first sighting fetched %v", got)
	}
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "adt-1.hl7 ccd.xml" {
		t.Fatalf("folder holds %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(f.local, "ccd.xml")); string(b) != "<ClinicalDocument/>" {
		t.Errorf("ccd.xml holds %q", b)
	}
	// The server's modification time comes along (the folder engine
	// takes files oldest first).
	if li, err := os.Stat(filepath.Join(f.local, "adt-1.hl7")); err != nil || !li.ModTime().Equal(written) {
		t.Errorf("adt-1.hl7 modified %v, on the server %v (%v)", li.ModTime(), written, err)
	}
	if got := strings.Join(list(t, f.remote), " "); got != ".hidden export.zip.part ferry-done" {
		t.Errorf("remote holds %q", got)
	}
	if got := strings.Join(list(t, filepath.Join(f.remote, "ferry-done")), " "); got != "adt-1.hl7 ccd.xml" {
		t.Errorf("ferry-done holds %q", got)
	}
	if st := fe.Stats(); st.Fetched != 2 || st.Polls != 2 || st.LastError != "" {
		t.Errorf("stats %+v", st)
	}
}

// TestGrowingFileWaits: a file that changed since the last listing is
// being written: it waits for a poll that sees it as before.
func TestGrowingFileWaits(t *testing.T) {
	f := newFixture(t)
	fe := f.fetcher(t)
	f.put(t, "big.xml", "<a>")
	poll(t, fe)
	f.put(t, "big.xml", "<a></a>")
	poll(t, fe)
	if got := list(t, f.local); len(got) != 0 {
		t.Fatalf("a growing file was fetched: %v", got)
	}
	poll(t, fe)
	if b, _ := os.ReadFile(filepath.Join(f.local, "big.xml")); string(b) != "<a></a>" {
		t.Fatalf("big.xml holds %q", b)
	}
}

// TestNameTakenAndDelete: a file whose name the folder still holds comes
// in beside it (name.1.ext), never over it; with after: delete the remote
// file is removed.
func TestNameTakenAndDelete(t *testing.T) {
	f := newFixture(t)
	f.cfg.After = AfterDelete
	if err := os.WriteFile(filepath.Join(f.local, "adt.hl7"), []byte("unread"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.put(t, "adt.hl7", "fetched")
	fe := f.fetcher(t)
	poll(t, fe)
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "adt.1.hl7 adt.hl7" {
		t.Fatalf("folder holds %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(f.local, "adt.hl7")); string(b) != "unread" {
		t.Errorf("the unread file was replaced: %q", b)
	}
	if got := list(t, f.remote); len(got) != 0 {
		t.Errorf("after: delete left %v", got)
	}
}

// TestFailedMoveIsNotFetchedAgain: a file that is in the folder but could
// not be moved on the server (here a directory of its name is in the way)
// is reported, stays on the server, and is not fetched again in this run.
func TestFailedMoveIsNotFetchedAgain(t *testing.T) {
	f := newFixture(t)
	if err := os.MkdirAll(filepath.Join(f.remote, "ferry-done", "orm.hl7", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.put(t, "orm.hl7", "MSH")
	fe := f.fetcher(t)
	poll(t, fe)
	err := fe.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is not fetched again") {
		t.Fatalf("second poll: %v", err)
	}
	// Export names carry patients' names: without log.phi the file is
	// named by a hash of its name, in the error and in the status.
	if strings.Contains(err.Error(), "orm") || !strings.Contains(err.Error(), "name-sha256=") || strings.Contains(fe.Stats().LastError, "orm") {
		t.Errorf("the error names the file: %v / %s", err, fe.Stats().LastError)
	}
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "orm.hl7" {
		t.Fatalf("folder holds %q", got)
	}
	if st := fe.Stats(); st.Fetched != 1 || st.LastError != "" {
		t.Errorf("stats %+v", st)
	}
}

// TestLoginProblemsAreReported: a refused key is a poll error that names
// the setting, and nothing is taken.
func TestLoginProblemsAreReported(t *testing.T) {
	f := newFixture(t)
	other, _ := sshtest.NewSigner(t)
	f.site.Server.Allow(other.PublicKey())
	f.put(t, "a.hl7", "MSH")
	fe := f.fetcher(t)
	err := fe.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refused ferry's key") || !strings.Contains(fe.Stats().LastError, "fetch.key_file") {
		t.Fatalf("poll: %v; stats %+v", err, fe.Stats())
	}
	if n, err := fe.Check(context.Background()); err == nil {
		t.Fatalf("check found %d files with a refused key", n)
	}
	f.site.Server.Allow(f.site.ClientKey.PublicKey())
	if n, err := fe.Check(context.Background()); err != nil || n != 1 {
		t.Fatalf("check: %d files, %v", n, err)
	}
}

// TestValidate names what a fetch needs.
func TestValidate(t *testing.T) {
	login := configssh.Login{KeyFile: "/k", KnownHosts: "/h"}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "sftp://ehr@sftp.ehr.example/outbound", Login: login}, ""},
		{Config{URL: "sftp://sftp.ehr.example/outbound", Login: login}, "url: names no account"},
		{Config{URL: "sftp://ehr@sftp.ehr.example/outbound"}, "key_file: required"},
		{Config{URL: "sftp://ehr@sftp.ehr.example/outbound", Login: login, After: "archive"}, "after:"},
		{Config{URL: "sftp://ehr@sftp.ehr.example/outbound", Login: login, After: AfterDelete, DoneDir: "/done"}, "done_dir:"},
		{Config{URL: "sftp://ehr@sftp.ehr.example/outbound", Login: login, Poll: time.Millisecond}, "poll:"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestFetchesLargeFileWhole: a file of several MB, read in concurrent
// chunks, comes into the folder byte for byte.
func TestFetchesLargeFileWhole(t *testing.T) {
	f := newFixture(t)
	big := make([]byte, 5<<20+777)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(f.remote, "export.zip"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	fe := f.fetcher(t)
	poll(t, fe)
	poll(t, fe)
	got, err := os.ReadFile(filepath.Join(f.local, "export.zip"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("export.zip: %d bytes of %d, equal %v (%v)", len(got), len(big), bytes.Equal(got, big), err)
	}
}

// TestMissingFolderIsReported: a local folder that is not there (a share
// not mounted, a folder removed) is a poll error naming the problem, and
// the remote file stays; it is not taken for a remote file gone since the
// listing.
func TestMissingFolderIsReported(t *testing.T) {
	f := newFixture(t)
	f.put(t, "adt.hl7", "MSH")
	fe := f.fetcher(t)
	poll(t, fe)
	if err := os.Remove(f.local); err != nil {
		t.Fatal(err)
	}
	err := fe.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "fetch into the folder") || fe.Stats().LastError == "" {
		t.Fatalf("poll into a missing folder: %v; stats %+v", err, fe.Stats())
	}
	if got := list(t, f.remote); !slices.Contains(got, "adt.hl7") {
		t.Errorf("remote holds %v", got)
	}
}

// waitFor waits for a packet of type typ on requests, failing the test
// if none comes (the server never saw it).
func waitFor(t *testing.T, requests <-chan byte, typ byte) {
	t.Helper()
	guard := time.NewTimer(20 * time.Second)
	defer guard.Stop()
	for {
		select {
		case got := <-requests:
			if got == typ {
				return
			}
		case <-guard.C:
			t.Fatalf("the server never saw an SFTP packet of type %d", typ)
		}
	}
}

// returns waits for done, failing the test if it does not close (what
// it waits for hangs).
func returns(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	guard := time.NewTimer(20 * time.Second)
	defer guard.Stop()
	select {
	case <-done:
	case <-guard.C:
		t.Fatalf("%s hangs", what)
	}
}

// TestStalledLoginEnds: a server that completes the SSH handshake and
// then never answers SFTP (a hung sftp-server) holds neither a poll nor
// Shutdown: the timeout ends the poll, and so does Shutdown.
func TestStalledLoginEnds(t *testing.T) {
	f := newFixture(t)
	requests := f.site.Server.Filter(func(body []byte) ([]byte, bool) { return nil, body[0] == sshtest.FxpInit }, nil)

	f.cfg.Timeout = time.Hour // only Shutdown ends it
	fe := f.fetcher(t)
	if err := fe.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, requests, sshtest.FxpInit)
	done := make(chan struct{})
	go func() { fe.Shutdown(context.Background()); close(done) }()
	returns(t, done, "Shutdown during a stalled login")

	f.cfg.Timeout = 2 * time.Second
	fe = f.fetcher(t)
	errc := make(chan error, 1)
	done = make(chan struct{})
	go func() { errc <- fe.Poll(context.Background()); close(done) }()
	waitFor(t, requests, sshtest.FxpInit)
	returns(t, done, "a poll of a server that stopped answering")
	if err := <-errc; err == nil {
		t.Fatal("a stalled login is no error")
	}
}

// TestStalledListingEndsCheck: `ferry doctor`'s check of a server that
// logs in and then never answers the listing ends at the timeout.
func TestStalledListingEndsCheck(t *testing.T) {
	f := newFixture(t)
	requests := f.site.Server.Filter(func(body []byte) ([]byte, bool) { return nil, body[0] == sshtest.FxpOpendir }, nil)
	f.cfg.Timeout = 2 * time.Second
	fe := f.fetcher(t)
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() { _, err := fe.Check(context.Background()); errc <- err; close(done) }()
	waitFor(t, requests, sshtest.FxpOpendir)
	returns(t, done, "the check of a server that stopped answering")
	if err := <-errc; err == nil {
		t.Fatal("a stalled listing is no error")
	}
}

// TestMoveWithoutPosixRename: a server without OpenSSH's posix-rename
// extension (it does not offer it, and refuses it) still gets its files
// moved to done_dir, over an earlier file of the same name there as with
// posix-rename.
func TestMoveWithoutPosixRename(t *testing.T) {
	f := newFixture(t)
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if sshtest.ExtendedName(body) == "posix-rename@openssh.com" {
			return sshtest.StatusReply(body, 8), false // SSH_FX_OP_UNSUPPORTED
		}
		return nil, false
	}, func(body []byte) []byte {
		if body[0] == sshtest.FxpVersion {
			return body[:5] // the version, no extensions
		}
		return body
	})
	if err := os.MkdirAll(filepath.Join(f.remote, "ferry-done"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.remote, "ferry-done", "ccd.xml"), []byte("yesterday's"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.put(t, "ccd.xml", "<ClinicalDocument/>")
	f.put(t, "adt.hl7", "MSH")
	fe := f.fetcher(t)
	poll(t, fe)
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "adt.hl7 ccd.xml" {
		t.Fatalf("folder holds %q", got)
	}
	if got := strings.Join(list(t, f.remote), " "); got != "ferry-done" {
		t.Errorf("remote holds %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(f.remote, "ferry-done", "ccd.xml")); string(b) != "<ClinicalDocument/>" {
		t.Errorf("ferry-done/ccd.xml holds %q", b)
	}
}

// TestStartRemovesCrashLeftovers: a download a crash interrupted leaves
// its hidden file in the folder; the next start removes it, and nothing
// else.
func TestStartRemovesCrashLeftovers(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{TempPrefix + "2814496511", ".keep", "adt.hl7"} {
		if err := os.WriteFile(filepath.Join(f.local, name), []byte("MSH|half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.cfg.Poll = time.Hour
	fe := f.fetcher(t)
	if err := fe.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer fe.Shutdown(context.Background())
	if got := strings.Join(list(t, f.local), " "); got != ".keep adt.hl7" {
		t.Fatalf("folder holds %q", got)
	}
}

// TestListingCountsWhenFilesFail: a poll that listed the directory but
// could store none of its files (here the folder is gone) still counts
// as a listing: the status's "last listed" says the server answers, the
// error says what failed.
func TestListingCountsWhenFilesFail(t *testing.T) {
	f := newFixture(t)
	f.put(t, "adt.hl7", "MSH")
	fe := f.fetcher(t)
	poll(t, fe)
	first := fe.Stats().LastPoll
	if err := os.Remove(f.local); err != nil {
		t.Fatal(err)
	}
	if err := fe.Poll(context.Background()); err == nil {
		t.Fatal("no error")
	}
	if st := fe.Stats(); st.Polls != 2 || !st.LastPoll.After(first) || st.LastError == "" {
		t.Errorf("stats %+v after a listing whose file failed (first listing at %v)", st, first)
	}
}

// TestManyFailuresStayShort: when every file of a large directory fails
// (the folder gone, a session broken), the poll error, the status and
// the log line name a few and count the rest rather than grow with the
// directory.
func TestManyFailuresStayShort(t *testing.T) {
	f := newFixture(t)
	for i := range 200 {
		f.put(t, fmt.Sprintf("adt-%03d.hl7", i), "MSH")
	}
	fe := f.fetcher(t)
	poll(t, fe)
	if err := os.Remove(f.local); err != nil {
		t.Fatal(err)
	}
	err := fe.Poll(context.Background())
	if err == nil || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "and 197 more files") {
		t.Fatalf("poll error of %d bytes: %.300v", len(fmt.Sprint(err)), err)
	}
	if st := fe.Stats(); len(st.LastError) > 1000 {
		t.Errorf("status error of %d bytes", len(st.LastError))
	}
}

// TestManySmallFilesOverSlowLink: the watchdog bounds each request, not
// the whole poll. Over a link where every open takes 300 ms, a poll of 8
// empty marker files (8 opens and 8 moves, about 2.5 s) with a 1 s
// timeout takes them all; the watchdog counted only bytes written, so
// empty files made no progress and the session was closed mid-poll.
func TestManySmallFilesOverSlowLink(t *testing.T) {
	f := newFixture(t)
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpOpen {
			time.Sleep(300 * time.Millisecond)
		}
		return nil, false
	}, nil)
	var want []string
	for i := range 8 {
		name := fmt.Sprintf("export-%d.ok", i)
		f.put(t, name, "")
		want = append(want, name)
	}
	f.cfg.Timeout = time.Second
	fe := f.fetcher(t)
	poll(t, fe)
	poll(t, fe)
	if got := list(t, f.local); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("folder holds %q", got)
	}
}

// TestOnlyWhatTheFolderUses: with the folder's own test of names (a
// folder.Engine's Uses: its include list, markers and sidecars), files
// the folder would never take (an editor's swap file, a report outside
// its include list) stay on the server instead of being moved off it
// into a folder that leaves them for ever.
func TestOnlyWhatTheFolderUses(t *testing.T) {
	f := newFixture(t)
	cfg := folder.DefaultConfig()
	cfg.Name, cfg.Path, cfg.Include, cfg.MarkerSuffix = "ehr", f.local, []string{"*.hl7"}, ".ok"
	eng, err := folder.New(adapters.Settings{}, cfg, adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"adt-1.hl7", "adt-1.hl7.ok", "report.csv", "adt-2.hl7.swp"} {
		f.put(t, name, "MSH|^~\\&|EHR")
	}
	fe := f.fetcher(t)
	fe.Only(eng.Uses)
	if n, err := fe.Check(context.Background()); err != nil || n != 2 {
		t.Errorf("check: %d waiting, %v; want the input and its marker", n, err)
	}
	poll(t, fe)
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "adt-1.hl7 adt-1.hl7.ok" {
		t.Errorf("folder holds %q", got)
	}
	if got := strings.Join(list(t, f.remote), " "); got != "adt-2.hl7.swp ferry-done report.csv" {
		t.Errorf("server holds %q", got)
	}
}

// TestLongListingOverSlowLink: a directory of 500 files is listed in
// several answers; over a link where each takes 300 ms, the listing
// (about 1.5 s) outlasts a 1 s timeout, yet the server answers all along,
// so the check and the poll go through. The watchdog counted only bytes
// written to the folder and closed the session mid-listing.
func TestLongListingOverSlowLink(t *testing.T) {
	f := newFixture(t)
	for i := range 500 {
		f.put(t, fmt.Sprintf("r%04d.hl7", i), "")
	}
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpReaddir {
			time.Sleep(300 * time.Millisecond)
		}
		return nil, false
	}, nil)
	f.cfg.Timeout = time.Second
	fe := f.fetcher(t)
	if n, err := fe.Check(context.Background()); err != nil || n != 500 {
		t.Fatalf("check: %d waiting, %v", n, err)
	}
	poll(t, fe)
}

// TestFaxWaitsForItsSidecar: a fax service that uploads the PDF and then
// the JSON naming its patient may be listed between the two. The PDF then
// waits for a poll that sees its sidecar settled, and a poll brings the
// sidecar into the folder before the PDF, however old the PDF: the PDF,
// fetched alone, was taken by the folder without its sidecar, the fax
// filed under no patient and the sidecar left to lie there.
func TestFaxWaitsForItsSidecar(t *testing.T) {
	f := newFixture(t)
	cfg := folder.DefaultConfig()
	cfg.Name, cfg.Path, cfg.Include, cfg.Sidecars = "fax", f.local, []string{"*.pdf"}, []string{".json"}
	eng, err := folder.New(adapters.Settings{}, cfg, adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var opened []string
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpOpen && len(body) >= 9 {
			if n := binary.BigEndian.Uint32(body[5:9]); uint32(len(body)-9) >= n {
				mu.Lock()
				opened = append(opened, path.Base(string(body[9:9+n])))
				mu.Unlock()
			}
		}
		return nil, false
	}, nil)
	fe := f.fetcher(t)
	fe.Only(eng.Uses)
	fe.Sidecars(eng.IsSidecar)

	// The PDF, then a minute later its sidecar.
	f.put(t, "fax-0001.pdf", "%PDF-1.4 fax\n%%EOF\n")
	written := time.Now().Add(-time.Minute)
	if err := os.Chtimes(filepath.Join(f.remote, "fax-0001.pdf"), written, written); err != nil {
		t.Fatal(err)
	}
	poll(t, fe)
	f.put(t, "fax-0001.json", `{"mrn": "A7"}`)
	poll(t, fe)
	if got := list(t, f.local); len(got) != 0 {
		t.Fatalf("fetched %v while the sidecar was still being written", got)
	}
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "fax-0001.json fax-0001.pdf" {
		t.Fatalf("folder holds %q", got)
	}
	mu.Lock()
	got := strings.Join(opened, " ")
	mu.Unlock()
	if got != "fax-0001.json fax-0001.pdf" {
		t.Errorf("downloaded in the order %q; want the sidecar first", got)
	}
}

// TestFaxAndSidecarRenamedTogether: when the folder still holds an unread
// file of a fax's name, the fax and its sidecar are renamed alike
// (fax.1.pdf and fax.1.json), so the folder pairs them as the server
// did. The fax became fax.1.pdf and its sidecar stayed fax.json, which
// the folder took as the sidecar of the other fax.pdf: that fax filed to
// this one's patient, and this one to none.
func TestFaxAndSidecarRenamedTogether(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(filepath.Join(f.local, "fax.pdf"), []byte("%PDF-1.4 unread\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.put(t, "fax.pdf", "%PDF-1.4 fetched\n%%EOF\n")
	f.put(t, "fax.json", `{"mrn": "A7"}`)
	fe := f.fetcher(t)
	fe.Sidecars(func(name string) bool { return strings.HasSuffix(name, ".json") })
	poll(t, fe)
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "fax.1.json fax.1.pdf fax.pdf" {
		t.Fatalf("folder holds %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(f.local, "fax.1.json")); string(b) != `{"mrn": "A7"}` {
		t.Errorf("fax.1.json holds %q", b)
	}
}

// TestRewrittenDuringDownload: a file the server rewrites in place while
// it is downloaded (an export job regenerating a file of the same size)
// gives a copy that is half the old file and half the new; it is dropped
// as a changed file is, and the next polls take the new one whole.
func TestRewrittenDuringDownload(t *testing.T) {
	f := newFixture(t)
	old, fresh := make([]byte, 256<<10), make([]byte, 256<<10)
	rand.Read(old)
	rand.Read(fresh)
	remote := filepath.Join(f.remote, "census.csv")
	f.put(t, "census.csv", string(old))
	written := time.Now().Add(-time.Hour)
	if err := os.Chtimes(remote, written, written); err != nil {
		t.Fatal(err)
	}
	fe := f.fetcher(t)
	poll(t, fe)
	// The first chunk is read from the old file; then, before the server
	// sees a read of a later one, the file is rewritten.
	firstData := make(chan struct{})
	var once, rewrite sync.Once
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] != sshtest.FxpRead || len(body) < 9 {
			return nil, false
		}
		h := binary.BigEndian.Uint32(body[5:9])
		if off := binary.BigEndian.Uint64(body[9+h:]); off > 0 {
			rewrite.Do(func() {
				select {
				case <-firstData:
				case <-time.After(5 * time.Second):
				}
				if err := os.WriteFile(remote, fresh, 0o644); err != nil {
					t.Error(err)
				}
			})
		}
		return nil, false
	}, func(body []byte) []byte {
		if body[0] == sshtest.FxpData {
			once.Do(func() { close(firstData) })
		}
		return body
	})
	err := fe.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "changed meanwhile") {
		t.Errorf("poll during the rewrite: %v", err)
	}
	for range 2 {
		fe.Poll(context.Background())
	}
	got, err := os.ReadFile(filepath.Join(f.local, "census.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, fresh) {
		t.Errorf("the folder's census.csv is not the file the server has moved to ferry-done (its first chunk the old file's: %v)",
			bytes.Equal(got[:32768], old[:32768]))
	}
	if got := strings.Join(list(t, f.local), " "); got != "census.csv" {
		t.Errorf("folder holds %q", got)
	}
}

// TestStalledServerIsNamed: a server that stops answering mid-poll (a
// hung sftp-server: the listing, or a file's open, never answered) has
// its session closed by the watchdog; the status says the server
// answered nothing for the timeout, not "connection lost", which sent
// the contractor after the network when the server was to blame.
func TestStalledServerIsNamed(t *testing.T) {
	f := newFixture(t)
	f.put(t, "adt.hl7", "MSH")
	f.cfg.Timeout = time.Second
	fe := f.fetcher(t)
	poll(t, fe)
	for _, held := range []byte{sshtest.FxpOpen, sshtest.FxpOpendir} {
		f.site.Server.Filter(func(body []byte) ([]byte, bool) { return nil, body[0] == held }, nil)
		err := fe.Poll(context.Background())
		if err == nil || !strings.Contains(err.Error(), "answered nothing for 1s") {
			t.Errorf("request %d held: poll: %v", held, err)
		}
		if st := fe.Stats().LastError; !strings.Contains(st, "answered nothing for 1s") {
			t.Errorf("request %d held: status %q", held, st)
		}
	}
	if _, err := fe.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "answered nothing for 1s") {
		t.Errorf("check: %v", err)
	}
}

// TestFaxWaitsWhenItsSidecarFails: a poll that cannot bring a fax's
// sidecar into the folder (the server fails its open, or it changed while
// read) leaves the fax on the server too: fetched alone, the folder took
// it without the sidecar that names its patient.
func TestFaxWaitsWhenItsSidecarFails(t *testing.T) {
	f := newFixture(t)
	f.put(t, "fax-0001.pdf", "%PDF-1.4 fax\n%%EOF\n")
	f.put(t, "fax-0001.json", `{"mrn": "A7"}`)
	f.put(t, "fax-0002.pdf", "%PDF-1.4 other\n%%EOF\n")
	fe := f.fetcher(t)
	fe.Sidecars(func(name string) bool { return strings.HasSuffix(name, ".json") })
	poll(t, fe)
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpOpen && len(body) >= 9 {
			if n := binary.BigEndian.Uint32(body[5:9]); uint32(len(body)-9) >= n && path.Base(string(body[9:9+n])) == "fax-0001.json" {
				return sshtest.StatusReply(body, 4), false // SSH_FX_FAILURE
			}
		}
		return nil, false
	}, nil)
	if err := fe.Poll(context.Background()); err == nil {
		t.Error("a sidecar that could not be fetched is no error")
	}
	if got := strings.Join(list(t, f.local), " "); got != "fax-0002.pdf" {
		t.Fatalf("folder holds %q; want only the fax without a sidecar", got)
	}
	f.site.Server.Filter(func([]byte) ([]byte, bool) { return nil, false }, nil)
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "fax-0001.json fax-0001.pdf fax-0002.pdf" {
		t.Fatalf("folder holds %q", got)
	}
}

// TestDoneDirIsTheDirectory: a done_dir that is the fetched directory
// itself (".", or its own path) moves each file onto itself: it stays,
// is fetched again at every poll, for ever, and the server is never
// emptied. Such a done_dir is refused, naming it.
func TestDoneDirIsTheDirectory(t *testing.T) {
	login := configssh.Login{KeyFile: "/k", KnownHosts: "/h"}
	for _, tc := range []struct {
		url, done string
		refused   bool
	}{
		{"sftp://ehr@sftp.ehr.example/outbound", ".", true},
		{"sftp://ehr@sftp.ehr.example/outbound", "./", true},
		{"sftp://ehr@sftp.ehr.example/outbound", "sent/..", true},
		{"sftp://ehr@sftp.ehr.example/outbound/", "/outbound/", true},
		{"sftp://ehr@sftp.ehr.example/~/outbound", ".", true},
		{"sftp://ehr@sftp.ehr.example/outbound", "sent", false},
		{"sftp://ehr@sftp.ehr.example/outbound", "/archive/outbound", false},
		{"sftp://ehr@sftp.ehr.example/outbound", "..", false},
	} {
		err := Config{URL: tc.url, Login: login, DoneDir: tc.done}.Validate()
		if tc.refused != (err != nil) || err != nil && !strings.Contains(err.Error(), "done_dir:") {
			t.Errorf("url %s, done_dir %q: %v", tc.url, tc.done, err)
		}
	}
	// New, which the gateway and ferry doctor call, refuses it too.
	f := newFixture(t)
	f.cfg.DoneDir = "."
	if _, err := New(adapters.Settings{}, f.cfg, f.local, nil); err == nil {
		t.Error("a fetcher with done_dir . was made")
	}
}

// syncBuffer is a log's text, written by the poll and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestChangedFailureIsLogged: a fetch that keeps failing logs its failure
// again when the reason changes (the key refused, then, the key fixed,
// the server unreachable), as a fax mailbox does; only the first
// failure was logged, so the log said nothing of the second, and a
// contractor who fixed the first took the fetch to work.
func TestChangedFailureIsLogged(t *testing.T) {
	f := newFixture(t)
	var logs syncBuffer
	fe, err := New(adapters.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, f.cfg, f.local, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sshtest.NewSigner(t)
	f.site.Server.Allow(other.PublicKey())
	fe.Poll(context.Background())
	fe.Poll(context.Background())
	f.site.Server.Stop()
	fe.Poll(context.Background())
	warns := strings.Count(logs.String(), "level=WARN")
	if warns != 2 || !strings.Contains(logs.String(), "refused ferry's key") || !strings.Contains(logs.String(), "connect to") {
		t.Errorf("%d warnings, want one for each reason:\n%s", warns, logs.String())
	}
}

// TestFaxWhoseMoveFailedComesAgainWithItsSidecar: a fax stored in the
// folder whose move on the server failed (the connection dropped at that
// moment) is fetched again after a restart; its sidecar, stored before
// it, stays on the server with it, so the two come again together, as a
// pair the folder's dedup log knows. The sidecar was moved first, and the
// fax came again alone: taken as another fax, under no patient.
func TestFaxWhoseMoveFailedComesAgainWithItsSidecar(t *testing.T) {
	f := newFixture(t)
	f.put(t, "fax-0001.pdf", "%PDF-1.4 fax\n%%EOF\n")
	f.put(t, "fax-0001.json", `{"mrn": "A7"}`)
	sidecars := func(name string) bool { return strings.HasSuffix(name, ".json") }
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if n := len(sshtest.ExtendedName(body)); n > 0 && sshtest.ExtendedName(body) == "posix-rename@openssh.com" {
			rest := body[9+n:]
			if m := binary.BigEndian.Uint32(rest); uint32(len(rest)-4) >= m && path.Base(string(rest[4:4+m])) == "fax-0001.pdf" {
				return sshtest.StatusReply(body, 4), false // SSH_FX_FAILURE
			}
		}
		return nil, false
	}, nil)
	fe := f.fetcher(t)
	fe.Sidecars(sidecars)
	poll(t, fe)
	if err := fe.Poll(context.Background()); err == nil {
		t.Fatal("a failed move is no error")
	}
	// ferry restarts; the server moves files again.
	f.site.Server.Filter(func([]byte) ([]byte, bool) { return nil, false }, nil)
	fe = f.fetcher(t)
	fe.Sidecars(sidecars)
	poll(t, fe)
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "fax-0001.1.json fax-0001.1.pdf fax-0001.json fax-0001.pdf" {
		t.Fatalf("folder holds %q; want the fax fetched again with its sidecar", got)
	}
	if got := strings.Join(list(t, f.remote), " "); got != "ferry-done" {
		t.Errorf("remote holds %q", got)
	}
}

// failOpen makes the server fail the open of the remote file name
// (SSH_FX_FAILURE), as a file it cannot read or a dropped disk does.
func failOpen(f *fixture, name string) {
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpOpen && len(body) >= 9 {
			if n := binary.BigEndian.Uint32(body[5:9]); uint32(len(body)-9) >= n && path.Base(string(body[9:9+n])) == name {
				return sshtest.StatusReply(body, 4), false
			}
		}
		return nil, false
	}, nil)
}

// TestSidecarWaitsWhenItsFaxFails: a poll that brings a fax's sidecar
// but cannot download the fax (the server fails its open) leaves both on
// the server and neither in the folder, and the next poll brings the two
// together. The sidecar was stored and moved to ferry-done anyway: with
// a fax the server fails for good (permission denied) it lay alone in the
// folder, unseen, to be taken with the next input of its name as if it
// were that one's; a crash while the fax was downloaded left the same
// lone sidecar, the fax coming again as fax.1.pdf with fax.1.json.
func TestSidecarWaitsWhenItsFaxFails(t *testing.T) {
	f := newFixture(t)
	f.put(t, "fax-0001.pdf", "%PDF-1.4 fax\n%%EOF\n")
	f.put(t, "fax-0001.json", `{"mrn": "A7"}`)
	fe := f.fetcher(t)
	fe.Sidecars(func(name string) bool { return strings.HasSuffix(name, ".json") })
	poll(t, fe)
	failOpen(f, "fax-0001.pdf")
	if err := fe.Poll(context.Background()); err == nil {
		t.Error("a fax that could not be fetched is no error")
	}
	if got := strings.Join(list(t, f.local), " "); got != "" {
		t.Errorf("folder holds %q; want nothing while the fax cannot be fetched", got)
	}
	if got := strings.Join(list(t, f.remote), " "); got != "fax-0001.json fax-0001.pdf ferry-done" {
		t.Errorf("remote holds %q; want the sidecar left with its fax", got)
	}
	f.site.Server.Filter(func([]byte) ([]byte, bool) { return nil, false }, nil)
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "fax-0001.json fax-0001.pdf" {
		t.Errorf("folder holds %q; want the fax with its sidecar", got)
	}
	if got := strings.Join(list(t, filepath.Join(f.remote, "ferry-done")), " "); got != "fax-0001.json fax-0001.pdf" {
		t.Errorf("ferry-done holds %q", got)
	}
}

// resettingServer is an SSH server's address that reads the client's
// version line and resets the connection (a server at MaxStartups, one
// that does not let ferry's address in), and the count of connections it
// took.
func resettingServer(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var dials atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			bufio.NewReader(c).ReadString('\n')
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	return ln.Addr().String(), &dials
}

// TestResetHandshakeWarnedOnce: a server that resets every login logs
// one warning while it lasts, as any failure that does not change. The
// reason named the connection's own port ("read tcp 10.0.0.5:51234->
// ...: connection reset by peer"), a new one at each poll, so each poll
// was taken for a new reason and logged a WARN: 288 a day at the default
// poll.
func TestResetHandshakeWarnedOnce(t *testing.T) {
	f := newFixture(t)
	addr, _ := resettingServer(t)
	f.cfg.URL = "sftp://ferry@" + addr + sshtest.URLPath(f.remote)
	var logs syncBuffer
	fe, err := New(adapters.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, f.cfg, f.local, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := fe.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "reset") {
			t.Fatalf("poll: %v", err)
		}
	}
	if warns := strings.Count(logs.String(), "level=WARN"); warns != 1 {
		t.Errorf("%d warnings for one failure that lasts, want 1:\n%s", warns, logs.String())
	}
}

// TestFailingServerBacksOff: a server that keeps failing the login (down,
// ferry's key refused) is tried again after twice the wait each time, up
// to backoffMax, not at every poll: with poll 1m it was dialled 60 times
// an hour, each a failed login in its log, which intrusion blockers
// (fail2ban, sshguard) and managed SFTP servers' lockouts answer by
// shutting ferry out, also once the key is fixed. The log says when the
// next try is, and the first poll that works is logged as recovery and
// polls at the interval again.
func TestFailingServerBacksOff(t *testing.T) {
	f := newFixture(t)
	addr, dials := resettingServer(t)
	good := f.cfg.URL
	f.cfg.URL = "sftp://ferry@" + addr + sshtest.URLPath(f.remote)
	f.cfg.Poll = time.Minute
	var logs syncBuffer
	fe, err := New(adapters.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, f.cfg, f.local, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	fe.now = func() time.Time { return clock }
	var tried []int
	for m := range 40 {
		before := dials.Load()
		fe.tick()
		if dials.Load() != before {
			tried = append(tried, m)
		}
		clock = clock.Add(time.Minute)
	}
	if want := []int{0, 1, 3, 7, 15, 30}; !slices.Equal(tried, want) {
		t.Errorf("a failing server was tried at minutes %v; want %v", tried, want)
	}
	if !strings.Contains(logs.String(), "next_try=1m0s") || !strings.Contains(logs.String(), "next_try=15m0s") {
		t.Errorf("the log does not say when the next try is:\n%s", logs.String())
	}
	// The server works again: the next try logs the recovery, and the
	// polls after it come at the interval.
	fe.t, _ = configssh.ParseURL(good)
	fe.cfg.URL = good
	for range 20 {
		fe.tick()
		clock = clock.Add(time.Minute)
	}
	if !strings.Contains(logs.String(), "fetch works again") {
		t.Errorf("no recovery logged:\n%s", logs.String())
	}
	if st := fe.Stats(); st.Polls != 15 {
		t.Errorf("%d polls in the 15 minutes after the recovery was due, want 15", st.Polls)
	}
}

// TestMarkerAfterItsFiles: an export that writes x.xml, x.pdf and then
// the marker x.done, within one second (SFTP's times are whole seconds),
// had the marker fetched first (oldest first, then by name: "x.done"
// before "x.pdf"), and a poll that could not download x.xml (the server
// failed its open) brought the marker anyway. The folder then took x.pdf
// with the marker, which it removes with the last file of its stem there,
// and x.xml, fetched at the next poll, waited for a marker for ever. The
// marker now comes after the files it stands for, and stays on the
// server while one of them could not be fetched.
func TestMarkerAfterItsFiles(t *testing.T) {
	f := newFixture(t)
	cfg := folder.DefaultConfig()
	cfg.Name, cfg.Path, cfg.MarkerSuffix = "ehr", f.local, ".done"
	eng, err := folder.New(adapters.Settings{}, cfg, adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	written := time.Now().Add(-time.Minute).Truncate(time.Second)
	for _, name := range []string{"x.xml", "x.pdf", "x.done", "y.hl7", "y.hl7.done"} {
		f.put(t, name, "export "+name)
		if err := os.Chtimes(filepath.Join(f.remote, name), written, written); err != nil {
			t.Fatal(err)
		}
	}
	fe := f.fetcher(t)
	fe.Only(eng.Uses)
	fe.Markers(eng.Config().MarkerSuffix)
	poll(t, fe)
	failOpen(f, "x.xml")
	if err := fe.Poll(context.Background()); err == nil {
		t.Error("a file that could not be fetched is no error")
	}
	if got := strings.Join(list(t, f.local), " "); got != "x.pdf y.hl7 y.hl7.done" {
		t.Errorf("folder holds %q; want x.done left on the server with x.xml", got)
	}
	var mu sync.Mutex
	var opened []string
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpOpen && len(body) >= 9 {
			if n := binary.BigEndian.Uint32(body[5:9]); uint32(len(body)-9) >= n {
				mu.Lock()
				opened = append(opened, path.Base(string(body[9:9+n])))
				mu.Unlock()
			}
		}
		return nil, false
	}, nil)
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "x.done x.pdf x.xml y.hl7 y.hl7.done" {
		t.Errorf("folder holds %q", got)
	}
	mu.Lock()
	got := strings.Join(opened, " ")
	mu.Unlock()
	if got != "x.xml x.done" {
		t.Errorf("fetched in the order %q; want the marker after its file", got)
	}
}

// TestMarkerRenamedWithItsFile: when the folder still holds an unread
// file of an export's name (yesterday's export.hl7, still waiting for its
// marker), the new one is renamed export.1.hl7 and its marker
// export.1.hl7.done with it. The marker kept its name, export.hl7.done:
// the folder took the old file with it, and the new one waited for a
// marker for ever, never sent.
func TestMarkerRenamedWithItsFile(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(filepath.Join(f.local, "export.hl7"), []byte("MSH|old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.put(t, "export.hl7", "MSH|new")
	f.put(t, "export.hl7.done", "")
	f.put(t, "batch.xml", "<new/>")
	f.put(t, "batch.done", "")
	if err := os.WriteFile(filepath.Join(f.local, "batch.xml"), []byte("<old/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	fe := f.fetcher(t)
	fe.Markers(".done")
	poll(t, fe)
	poll(t, fe)
	if got := strings.Join(list(t, f.local), " "); got != "batch.1.done batch.1.xml batch.xml export.1.hl7 export.1.hl7.done export.hl7" {
		t.Errorf("folder holds %q; want each marker renamed with its file", got)
	}
}
