package configssh_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

// TestHostKeyOfNoListedType: a server that has no host key of the type
// known_hosts names for it (known_hosts holds its old ECDSA key; it now
// has an Ed25519 one only, or another machine answers) is a host key
// that is not the one known_hosts names: a problem for the operator, said
// as such. It was an outage to retry for ever, "ssh: handshake failed:
// no common algorithm for host key", naming neither known_hosts nor what
// to do.
func TestHostKeyOfNoListedType(t *testing.T) {
	dir := t.TempDir()
	site := sshtest.NewSite(t, dir)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ssh.NewSignerFromKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	sshtest.WriteKnownHosts(t, site.Login.KnownHosts, site.Server.Addr(), ec.PublicKey())
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	tg, err := configssh.ParseURL("sftp://ferry@" + site.Server.Addr() + sshtest.URLPath(in))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := configssh.Dial(context.Background(), site.Login, tg, 5*time.Second, "fetch")
	if err == nil {
		sess.Close()
		t.Fatal("logged in to a server whose host key known_hosts does not hold")
	}
	var ce *configssh.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(ce.ConfigProblem(), "not the one fetch.known_hosts names") {
		t.Errorf("dial: %v; want the changed-key problem", err)
	}
}
