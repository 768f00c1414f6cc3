package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusOtherProgramAnswers: a program that is not ferry (another
// web application, a second service configured on port 8089) holds this
// configuration's status address, so the gateway cannot listen there and
// is not running. `ferry status` failed with "answered 404 Not Found, not
// a ferry status page" (or "not a ferry status report" for a page that
// is not JSON), exit status 1 and no figures, where README has it exit 3
// with the figures read from data_dir. It now reports the data folder
// offline, exit 3, and says on stderr what answers on the address.
func TestStatusOtherProgramAnswers(t *testing.T) {
	for _, page := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"404", http.NotFound},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>Jenkins</html>")) }},
	} {
		other := httptest.NewServer(page.h)
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o700); err != nil {
			t.Fatal(err)
		}
		cfgFile := filepath.Join(dir, "ferry.yaml")
		addr := strings.TrimPrefix(other.URL, "http://")
		if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir: %q\nstatus: {listen: %q}\n", data, addr)), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		err := cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, &errOut)
		var ee exitError
		if !errors.As(err, &ee) || ee.code != 3 {
			t.Errorf("%s: status: %v, want exit 3 (the gateway is not running)", page.name, err)
		}
		if !strings.Contains(out.String(), "not running") || !strings.Contains(out.String(), "queue depth:") {
			t.Errorf("%s: stdout:\n%s", page.name, out.String())
		}
		if !strings.Contains(errOut.String(), addr) || !strings.Contains(errOut.String(), "not a ferry") {
			t.Errorf("%s: stderr does not say what answers on %s:\n%s", page.name, addr, errOut.String())
		}
		out.Reset()
		errOut.Reset()
		if err := cmdStatus(context.Background(), []string{"--config", cfgFile, "--json"}, &out, &errOut); err != nil || !strings.Contains(out.String(), `"running": false`) {
			t.Errorf("%s: status --json: %v\n%s%s", page.name, err, out.String(), errOut.String())
		}
		other.Close()
	}
}
