package main

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartPortInUseSaysWhatToDo: a port already taken (the interface
// engine ferry replaces, a `ferry run` left in another terminal) stopped
// the start with "start mllp/lab: mllp listen on 127.0.0.1:2575: listen
// tcp ...: bind: address already in use", naming neither the field to
// change nor what to do, as ferry doctor's port check does. The start's
// error names the field and says to stop the other program or choose
// another port.
func TestStartPortInUseSaysWhatToDo(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	for _, tc := range []struct {
		name, yaml, field string
	}{
		{"mllp", "data_dir: %q\nsources:\n  mllp:\n    - {name: other, listen: " + freeAddr + "}\n    - {name: lab, listen: %s}\n", "sources.mllp[1].listen " + busy.Addr().String()},
		{"status", "data_dir: %q\nsources:\n  mllp:\n    - {name: lab, listen: " + freeAddr + "}\nstatus:\n  listen: %s\n", "status.listen " + busy.Addr().String()},
	} {
		cfg := parseConfig(t, tc.yaml, filepath.Join(t.TempDir(), "data"), busy.Addr().String())
		gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
		if err != nil {
			t.Fatal(err)
		}
		err = gw.Start(context.Background())
		gw.Shutdown(context.Background())
		if err == nil {
			t.Fatalf("%s: started on a port in use", tc.name)
		}
		for _, want := range []string{tc.field, "already in use", "stop it or choose another port"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: start error %q does not say %q", tc.name, err, want)
			}
		}
	}
}
