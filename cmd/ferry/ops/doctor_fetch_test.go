package ops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// TestDoctorFetchCountsWhatTheFolderTakes: ferry doctor's count of the
// files that wait on the server counts those the fetch takes, the
// folder's inputs and sidecars. It counted every file, also those outside
// the folder's include list (a fax inbox's *.pdf, *.tif), which the
// fetch leaves on the server for ever: a contractor read "3 file(s) wait
// to be fetched" where one fax and its sidecar would come.
func TestDoctorFetchCountsWhatTheFolderTakes(t *testing.T) {
	tmp := t.TempDir()
	site := sshtest.NewSite(t, tmp)
	remote, local := filepath.Join(tmp, "outbound"), filepath.Join(tmp, "inbox")
	for _, d := range []string{remote, local} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"fax-0001.pdf", "fax-0001.json", "delivery-report.txt"} {
		if err := os.WriteFile(filepath.Join(remote, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config.Config{}
	cfg.Sources.Folders = []config.Folder{{
		Config: fax.Config{Config: folder.Config{Name: "faxes", Kind: fax.KindFax, Path: local}},
		Fetch:  &fetch.Config{URL: "sftp://ferry@" + site.Server.Addr() + sshtest.URLPath(remote), Login: site.Login, Timeout: 5 * time.Second},
	}}
	out := CheckFetches(context.Background(), cfg)
	if len(out) != 1 || out[0].Level == Fail || !strings.Contains(out[0].Detail, "2 file(s) wait") {
		t.Errorf("doctor: %+v; want 2 files waiting (the fax and its sidecar)", out)
	}
}
