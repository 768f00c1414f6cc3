package main

import (
	"net"
	"strings"
	"testing"
)

// TestStopSaysWhatItWaitsFor: Ctrl-C (or a service stop) logged nothing
// until the stop had ended, up to stopTimeout later, so the contractor
// at the terminal saw a gateway that did not react and pressed Ctrl-C
// again, which ends it at once. The stop now says at once that it is
// stopping, what it has in flight and how long it may take.
func TestStopSaysWhatItWaitsFor(t *testing.T) {
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: main
      listen: 127.0.0.1:0
`, t.TempDir())
	var logs lockedBuffer
	p := &program{cfg: cfg, log: newLogger(&logs, "info")}
	if err := p.startGateway(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.gw.MLLPAddr("main").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "the connection accepted", func() bool { return p.gw.report().Sources[0].Open == 1 })
	if err := p.stopGateway(); err != nil {
		t.Fatal(err)
	}
	l := logs.String()
	stopping, stopped := strings.Index(l, "ferry stopping"), strings.Index(l, "ferry stopped")
	if stopping < 0 || stopped < stopping {
		t.Fatalf("the stop did not say it was stopping before it ended:\n%s", l)
	}
	line, _, _ := strings.Cut(l[stopping:], "\n")
	for _, want := range []string{"mllp_connections=1", "deliveries_in_flight=0", "at_most=30s"} {
		if !strings.Contains(line, want) {
			t.Errorf("stopping line lacks %s: %s", want, line)
		}
	}
}
