//go:build unix

package sftpdrop

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/config/configssh/sshtest"
	"github.com/ferry-health/ferry/queue"
)

// TestDeliveredFileModeKeepsOthersOut: a delivered file holds PHI, and
// the server created it as its umask says, 0644 with the usual 022:
// readable by every account on a server that many clinics' accounts
// share. It is now 0640 at most (the account and its group, where the
// exchange's pick-up job runs), a stricter umask's 0600 kept; a server
// that refuses to set modes (one without POSIX modes, a Windows server)
// still gets the file, and that is said once.
func TestDeliveredFileModeKeepsOthersOut(t *testing.T) {
	// The test server (pkg/sftp's, as OpenSSH's) creates files 0666 or
	// 0644 less the process's umask.
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	f := newFixture(t)
	var logs syncBuffer
	s, err := New(f.cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	send := func(id string) os.FileMode {
		t.Helper()
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Send(ctx, &queue.Item{ID: id, Body: []byte(bundle)}); err != nil {
			t.Fatalf("send %s: %v", id, err)
		}
		st, err := os.Stat(filepath.Join(f.dir, id+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	if got := send("01JA"); got != 0o640 {
		t.Errorf("with the server's umask 022 the file is %04o, want 0640", got)
	}
	syscall.Umask(0o077)
	if got := send("01JB"); got != 0o600 {
		t.Errorf("with the server's umask 077 the file is %04o, want 0600 (kept)", got)
	}
	syscall.Umask(0o022)
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpFsetstat {
			return sshtest.StatusReply(body, 8), false // SSH_FX_OP_UNSUPPORTED
		}
		return nil, false
	}, nil)
	s.Close(ctx) // the filter applies to the sessions to come
	for _, id := range []string{"01JC", "01JD"} {
		if got := send(id); got != 0o644 {
			t.Errorf("a server that sets no modes: %s is %04o, want the server's 0644", id, got)
		}
	}
	if n := strings.Count(logs.String(), "file's mode"); n != 1 {
		t.Errorf("a server that sets no modes was said %d times, want once:\n%s", n, logs.String())
	}
}
