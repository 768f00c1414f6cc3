package sftpdrop

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configssh/sshtest"
	"github.com/ferry-health/ferry/queue"
)

// TestLateRenameShowsNoHalfFile: a server stuck on the rename of a
// whole .part file (its disk hung) is given up by the watchdog, and the
// bundle sent again on a new session; when the server comes back it
// carries out the first session's rename, which it had received. With
// one .part name for every attempt, that rename took the file the second
// attempt was still writing and put it under the final name: the
// exchange's pick-up job read half a bundle (and the second attempt's
// own rename found no .part, a configuration problem "check the path in
// the URL"). Each attempt writes a .part of its own, so the late rename
// puts a whole copy in place.
func TestLateRenameShowsNoHalfFile(t *testing.T) {
	f := newFixture(t)
	f.cfg.Timeout = time.Second
	var renames atomic.Int32
	resume := make(chan struct{})
	renamed := make(chan struct{})
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if sshtest.ExtendedName(body) != "posix-rename@openssh.com" || renames.Add(1) != 1 {
			return nil, false
		}
		// The server stuck in the rename, then carrying it out: the
		// session it came on is long closed, its answer lost.
		<-resume
		rest := body[9+len("posix-rename@openssh.com"):]
		from, rest := sftpString(rest)
		to, _ := sftpString(rest)
		// Both are in the drop directory; by their names, since on
		// Windows the server's paths are "/C:/...".
		if err := os.Rename(filepath.Join(f.dir, path.Base(from)), filepath.Join(f.dir, path.Base(to))); err != nil {
			t.Errorf("the late rename: %v", err)
		}
		close(renamed)
		return sshtest.StatusReply(body, 0), false
	}, nil)
	s := f.sink(t)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	var h *heldReader
	it := &queue.Item{ID: "01JL", Size: int64(len(body)), Open: func() (io.ReadCloser, error) {
		if h == nil {
			return io.NopCloser(bytes.NewReader(body)), nil
		}
		return io.NopCloser(h), nil
	}}
	if err := s.Send(ctx, it); err == nil {
		t.Fatal("a rename the server never answered was delivered")
	}
	// The second attempt, on a new session, is part way through its file
	// when the server carries out the first attempt's rename.
	h = &heldReader{r: bytes.NewReader(body), started: make(chan struct{}), release: make(chan struct{})}
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- s.Send(ctx, it) }()
	<-h.started
	close(resume)
	select {
	case <-renamed:
	case <-time.After(30 * time.Second):
		t.Fatal("the late rename not carried out 30s on")
	}
	b, err := os.ReadFile(filepath.Join(f.dir, "01JL.json"))
	if err == nil && !bytes.Equal(b, body) {
		t.Errorf("01JL.json holds %d bytes of %d while the bundle was being sent again", len(b), len(body))
	}
	close(h.release)
	if err := <-sent; err != nil {
		t.Errorf("second attempt: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "01JL.json")); !bytes.Equal(b, body) {
		t.Errorf("01JL.json holds %d bytes, want %d", len(b), len(body))
	}
	if got := f.files(t); len(got) != 1 {
		t.Errorf("drop directory holds %q, want 01JL.json alone", got)
	}
}

// TestFailedAttemptsLeaveNoPart: with a .part of its own for each
// attempt, a failed attempt's file is removed at once when the session
// still works (the server's disk full), and when it broke (the server
// answered a write no more), once a later attempt delivers the item:
// the exchange's directory does not fill with them.
func TestFailedAttemptsLeaveNoPart(t *testing.T) {
	f := newFixture(t)
	f.cfg.Timeout = time.Second
	s := f.sink(t)
	ctx := context.Background()
	it := &queue.Item{ID: "01JP", Body: []byte(bundle)}
	for _, tc := range []struct {
		name   string
		filter sshtest.PacketFilter
		want   string
	}{
		{"disk full", func(body []byte) ([]byte, bool) {
			if body[0] == sshtest.FxpWrite {
				return sshtest.StatusReply(body, 4), false // SSH_FX_FAILURE
			}
			return nil, false
		}, ""},
		{"write unanswered", func(body []byte) ([]byte, bool) { return nil, body[0] == sshtest.FxpWrite }, "a .part"},
		{"rename unanswered", func(body []byte) ([]byte, bool) { return nil, body[0] == sshtest.FxpExtended }, "a .part"},
	} {
		f.site.Server.Filter(tc.filter, nil)
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Send(ctx, it); err == nil {
			t.Fatalf("%s: delivered", tc.name)
		}
		got := strings.Join(f.files(t), " ")
		if tc.want == "" && got != "" || tc.want != "" && !strings.HasSuffix(got, ".part") {
			t.Errorf("%s: drop directory holds %q", tc.name, got)
		}
	}
	f.site.Server.Filter(func([]byte) ([]byte, bool) { return nil, false }, nil)
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, it); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.files(t), " "); got != "01JP.json" {
		t.Errorf("drop directory holds %q, want 01JP.json alone", got)
	}
}

// sftpString is the string at the start of b in SFTP's encoding (a
// uint32 length, then the bytes), and what follows it.
func sftpString(b []byte) (string, []byte) {
	if len(b) < 4 {
		return "", nil
	}
	n := binary.BigEndian.Uint32(b)
	if uint32(len(b)-4) < n {
		return "", nil
	}
	return string(b[4 : 4+n]), b[4+n:]
}

// TestEarlierRunsPartsRemoved: the .part files a killed process left (the
// CI suite's kill -9 mid-file left .<ID>.json.<random>.part for good,
// since only the process that wrote it knew of it) are found at the first
// connection and removed once their item is delivered again, as it is
// after a crash; another item's, and files not named as ferry names them
// (another gateway's or program's in a shared directory), stay.
func TestEarlierRunsPartsRemoved(t *testing.T) {
	f := newFixture(t)
	const id, other = "01KB2Y8N6ZQ3J4W5X7V9R0T1SA", "01KB2Y8N6ZQ3J4W5X7V9R0T1SB"
	left := []string{
		"." + id + ".json.2x9ug2nf17t05.part", // the killed run's attempts
		"." + id + ".json.k3j2.part",
		"." + other + ".json.a1.part", // an item not delivered in this test
		".ferry-doctor-1700000000.part",
		".report.json.x.part",
		".01kb2y8n6zq3j4w5x7v9r0t1sa.json.zz-top.part",
	}
	for _, n := range left {
		if err := os.WriteFile(filepath.Join(f.dir, n), []byte(`{"resourceType":`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := f.sink(t)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, &queue.Item{ID: id, Body: []byte(bundle)}); err != nil {
		t.Fatal(err)
	}
	want := []string{left[5], left[3], left[4], left[2], id + ".json"}
	slices.Sort(want)
	got := f.files(t)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("drop directory holds %q, want %q", got, want)
	}
}
