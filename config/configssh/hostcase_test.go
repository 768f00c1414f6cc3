package configssh_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// TestHostNameInCapitals: ssh-keyscan writes the host name it was given
// in lower case (and hashes it so with -H), and OpenSSH matches
// known_hosts in any case; a URL that writes the server's name as its
// onboarding sheet does (SFTP.Ehr.Example.com) was refused as a host
// known_hosts names no key for, though it names it.
func TestHostNameInCapitals(t *testing.T) {
	dir := t.TempDir()
	site := sshtest.NewSite(t, dir)
	_, port, _ := net.SplitHostPort(site.Server.Addr())
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	// known_hosts as `ssh-keyscan -p PORT LocalHost` writes it.
	hostKey := site.Server.HostKey.PublicKey()
	sshtest.WriteKnownHosts(t, site.Login.KnownHosts, "localhost:"+port, hostKey)
	tg, err := configssh.ParseURL("sftp://ferry@LocalHost:" + port + sshtest.URLPath(in))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := configssh.Dial(context.Background(), site.Login, tg, 5*time.Second, "fetch")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	sess.Close()
	// A line written by hand as the URL writes the name is found too.
	sshtest.WriteKnownHosts(t, site.Login.KnownHosts, "LocalHost:"+port, hostKey)
	sess, err = configssh.Dial(context.Background(), site.Login, tg, 5*time.Second, "fetch")
	if err != nil {
		t.Fatalf("dial with the line in capitals: %v", err)
	}
	sess.Close()
	// Any case is no weaker check: another key under the name is refused.
	other, _ := sshtest.NewSigner(t)
	sshtest.WriteKnownHosts(t, site.Login.KnownHosts, "localhost:"+port, other.PublicKey())
	if sess, err := configssh.Dial(context.Background(), site.Login, tg, 5*time.Second, "fetch"); err == nil {
		sess.Close()
		t.Error("logged in to a server whose host key known_hosts does not hold")
	}
}
