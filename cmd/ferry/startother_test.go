package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartOtherGatewayAnswers: another ferry (a `ferry run` on another
// configuration left in a terminal) holds the status address of the
// service's configuration. The service's gateway cannot listen there and
// does not start, but `ferry start` took the other's /readyz 200 for its
// own and said "start done (running, ready)". It now asks who answers, as
// `ferry status` does, and says that another ferry holds the address.
func TestStartOtherGatewayAnswers(t *testing.T) {
	root := t.TempDir()
	other := parseConfig(t, "data_dir: %q\n", filepath.Join(root, "other"))
	other.Status.Listen = "127.0.0.1:0"
	gw := runGateway(t, other)
	addr := gw.statusAddr.String()

	svc := parseConfig(t, "data_dir: %q\n", filepath.Join(root, "service"))
	svc.Status.Listen = addr
	running := func() bool { return false }
	err := waitReady(context.Background(), svc, 5*time.Second, running)
	if err == nil || !strings.Contains(err.Error(), "another ferry") || !strings.Contains(err.Error(), other.DataDir) {
		t.Errorf("start beside another ferry on the status address: %v, want it named", err)
	}
	own := *other
	own.Status.Listen = addr
	if err := waitReady(context.Background(), &own, 5*time.Second, running); err != nil {
		t.Errorf("the gateway of the configuration itself: %v", err)
	}
}
