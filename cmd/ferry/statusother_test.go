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

// TestStatusOtherGateway: another ferry (another data folder) answers on
// this configuration's status address. `ferry status` must not present its
// figures as this gateway's, which cannot be running with that port taken:
// it reports this one's data folder offline and names the other.
func TestStatusOtherGateway(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":"1.2.3","data_dir":"./ferry-data","exchange":"none: outbox ferry-data/outbox"}`))
	}))
	defer other.Close()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil { // this gateway ran here before
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "ferry.yaml")
	yaml := fmt.Sprintf("data_dir: %q\nstatus: {listen: %q}\n", data, strings.TrimPrefix(other.URL, "http://"))
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, &errOut)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 3 {
		t.Errorf("status: %v, want exit 3 (this gateway is not running)", err)
	}
	if !strings.Contains(out.String(), "not running") || !strings.Contains(out.String(), data) {
		t.Errorf("stdout:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "./ferry-data") {
		t.Errorf("stderr does not name the other gateway's data folder:\n%s", errOut.String())
	}
}
