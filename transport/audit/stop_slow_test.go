package audit

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStopEventSurvivesSlowRepository: at shutdown the events still in
// memory (the last imports, the gateway's own Application Stop) must be on
// disk before anything slow is tried, so that a repository slower than
// the shutdown deadline (a slow https FHIR base; a syslog peer that stops
// reading) cannot make the process exit with them only in memory. Here
// the repository takes one event, then holds the next POST open; Shutdown runs out of time
// while the sender waits on it, and what the process leaves on disk (its
// spool and its hand-off directory, both sent at the next start) must hold
// both events.
func TestStopEventSurvivesSlowRepository(t *testing.T) {
	p := demoPKI(t)
	posted := make(chan struct{}, 16)
	release := make(chan struct{})
	r := &fhirRepo{status: func(n int) int {
		if n == 1 {
			return http.StatusCreated
		}
		posted <- struct{}{}
		<-release
		return http.StatusCreated
	}}
	url := startFHIRRepo(t, p, r)
	dir := t.TempDir()
	spoolDir, handoff := filepath.Join(dir, "spool"), filepath.Join(dir, "handoff")
	s := newSink(t, url, clientTLS(p), spoolDir, func(o *Options) {
		o.HandoffDir = handoff
		o.Timeout = time.Minute // the repository answers within it, but not within the shutdown deadline
	})
	start(t, s)
	s.Record(exportN(0))
	waitStats(t, s, "the first event sent", func(st Stats) bool { return st.Sent == 1 && st.Pending == 0 })
	s.Record(exportN(1))
	<-posted // the sender waits on the repository now
	s.Record(exportN(2))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s.Shutdown(ctx) // may report the deadline: the POST still runs
	// The process exits here.
	got := recordsOnDisk(t, spoolDir, handoff)
	close(release)
	<-s.done
	if got != 2 {
		t.Fatalf("the spool and hand-off directory hold %d events at exit, want 2 (the one being sent and the last one)", got)
	}
}

// recordsOnDisk counts the unsent records of a spool and of a hand-off
// directory without changing either.
func recordsOnDisk(t *testing.T, spoolDir, handoff string) int {
	t.Helper()
	n := 0
	var curSeq uint64
	var curOff int64
	if b, err := os.ReadFile(filepath.Join(spoolDir, "cursor")); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			curSeq, curOff = parseUint(f[0]), int64(parseUint(f[1]))
		}
	}
	ents, _ := os.ReadDir(spoolDir)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".seg") {
			continue
		}
		seq := parseUint(strings.TrimSuffix(e.Name(), ".seg"))
		if seq < curSeq {
			continue
		}
		f, err := os.Open(filepath.Join(spoolDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(f)
		var off int64
		for {
			m, err := readRecord(br)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("spool segment %s: %v", e.Name(), err)
				}
				break
			}
			if seq > curSeq || off >= curOff {
				n++
			}
			off += recHeader + int64(len(m))
		}
		f.Close()
	}
	names, err := handoffFiles(handoff)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		m, err := readHandoff(filepath.Join(handoff, name))
		if err != nil {
			t.Fatal(err)
		}
		n += len(m)
	}
	return n
}

func parseUint(s string) uint64 {
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}
