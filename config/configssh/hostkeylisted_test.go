package configssh_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// TestChangedHostKeyNamesListedKey: a server presenting a key other than
// the one known_hosts names for it is refused with both keys named, the
// one it presented and the one known_hosts holds, with its line, as ssh
// says "Offending key in known_hosts:3": the contractor checks with the
// server's operators which of the two is theirs, and knows which line to
// replace. Only the presented key was named, so the one known_hosts held
// was to be found by hand among its lines.
func TestChangedHostKeyNamesListedKey(t *testing.T) {
	dir := t.TempDir()
	site := sshtest.NewSite(t, dir)
	old, _ := sshtest.NewSigner(t)
	other, _ := sshtest.NewSigner(t)
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	tg, err := configssh.ParseURL("sftp://ferry@" + site.Server.Addr() + sshtest.URLPath(in))
	if err != nil {
		t.Fatal(err)
	}
	// Another host's line first: the server's old key is on line 2.
	lines := knownhosts.Line([]string{"hie.example"}, other.PublicKey()) + "\n" +
		knownhosts.Line([]string{knownhosts.Normalize(site.Server.Addr())}, old.PublicKey()) + "\n"
	if err := os.WriteFile(site.Login.KnownHosts, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	sess, err := configssh.Dial(context.Background(), site.Login, tg, 5*time.Second, "exchange.sftp")
	if err == nil {
		sess.Close()
		t.Fatal("logged in")
	}
	var ce *configssh.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("%v: not a configuration problem", err)
	}
	p := ce.ConfigProblem()
	presented := site.Server.HostKey.PublicKey()
	for _, want := range []string{
		site.Server.Addr(),
		"presented " + presented.Type() + " key " + ssh.FingerprintSHA256(presented),
		fmt.Sprintf("line 2 of %s: %s key %s", site.Login.KnownHosts, old.PublicKey().Type(), ssh.FingerprintSHA256(old.PublicKey())),
	} {
		if !strings.Contains(p, want) {
			t.Errorf("%q\ndoes not say %q", p, want)
		}
	}
	if strings.Contains(p, ssh.FingerprintSHA256(other.PublicKey())) {
		t.Errorf("%q names another host's key", p)
	}
}
