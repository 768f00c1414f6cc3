package configssh_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// TestRefusedHostKeyNamesItsFingerprint: a server whose host key
// known_hosts does not name (a new exchange's server, never added) or
// names otherwise (the key changed, or another machine answers) is
// refused, and the problem gives the key the server presented, by its
// type and SHA256 fingerprint as ssh shows it, for the contractor to
// read to the server's operators. It said only "names no key for ...;
// fingerprint checked with its operators" and "is not the one ...
// names", so the fingerprint to check was nowhere.
func TestRefusedHostKeyNamesItsFingerprint(t *testing.T) {
	dir := t.TempDir()
	site := sshtest.NewSite(t, dir)
	other, _ := sshtest.NewSigner(t)
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	tg, err := configssh.ParseURL("sftp://ferry@" + site.Server.Addr() + sshtest.URLPath(in))
	if err != nil {
		t.Fatal(err)
	}
	presented := site.Server.HostKey.PublicKey()
	want := presented.Type() + " key " + ssh.FingerprintSHA256(presented)
	for _, tc := range []struct {
		name, problem string
		write         func()
	}{
		{"unknown host", "names no key for", func() {
			sshtest.WriteKnownHosts(t, site.Login.KnownHosts, "hie.example:22", presented)
		}},
		{"changed key", "is not the one fetch.known_hosts names", func() {
			sshtest.WriteKnownHosts(t, site.Login.KnownHosts, site.Server.Addr(), other.PublicKey())
		}},
	} {
		tc.write()
		sess, err := configssh.Dial(context.Background(), site.Login, tg, 5*time.Second, "fetch")
		if err == nil {
			sess.Close()
			t.Fatalf("%s: logged in", tc.name)
		}
		var ce *configssh.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(ce.ConfigProblem(), tc.problem) {
			t.Errorf("%s: %v; want a problem saying %q", tc.name, err, tc.problem)
			continue
		}
		if !strings.Contains(ce.ConfigProblem(), want) {
			t.Errorf("%s: %q\ndoes not name the key the server presented, %q", tc.name, ce.ConfigProblem(), want)
		}
		if strings.Contains(ce.ConfigProblem(), "presented "+other.PublicKey().Type()+" key "+ssh.FingerprintSHA256(other.PublicKey())) {
			t.Errorf("%s: %q names known_hosts' key as the one presented", tc.name, ce.ConfigProblem())
		}
	}
}
