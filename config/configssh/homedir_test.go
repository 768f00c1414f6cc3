package configssh_test

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// TestHomeDirectoryURL: sftp://user@host/~/ (and /~) names the
// account's home itself, as /~/dir names dir under it (as curl reads an
// sftp:// URL: a path that starts with /~/ is relative to the home),
// where an exchange that has its accounts drop files into their homes
// wants them. ParseURL took it for the
// directory "" (and /~ for the directory "/~"), which no server has:
// every connection failed "cannot find the directory : no such file or
// directory on the server (check the path in the URL)".
func TestHomeDirectoryURL(t *testing.T) {
	site := sshtest.NewSite(t, t.TempDir())
	for _, p := range []string{"/~/", "/~"} {
		tg, err := configssh.ParseURL("sftp://ferry@" + site.Server.Addr() + p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if tg.Dir != "." {
			t.Errorf("%s: directory %q, want the home, \".\"", p, tg.Dir)
		}
		// pkg/sftp's server takes its own working directory for the
		// account's home, as sftp-server does the home.
		sess, err := configssh.Dial(context.Background(), site.Login, tg, 5*time.Second, "fetch")
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		sess.Close()
	}
}
