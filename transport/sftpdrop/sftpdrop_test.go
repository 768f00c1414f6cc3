package sftpdrop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// server is an SSH server on loopback whose sessions run pkg/sftp's
// server over the real file system: a real SFTP implementation (without
// fsync@openssh.com; OpenSSH's, which has it, runs in the interop suite).
type server struct {
	t       testing.TB
	ln      net.Listener
	hostKey ssh.Signer
	allowed ssh.PublicKey
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newSigner(t testing.TB) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

func startServer(t testing.TB, addr string, hostKey ssh.Signer, allowed ssh.PublicKey) *server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, ln: ln, hostKey: hostKey, allowed: allowed}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.stop)
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

func (s *server) serve() {
	defer s.wg.Done()
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), s.allowed.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("key not authorized")
	}}
	cfg.AddHostKey(s.hostKey)
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_, chans, reqs, err := ssh.NewServerConn(nc, cfg)
			if err != nil {
				nc.Close()
				return
			}
			go ssh.DiscardRequests(reqs)
			for nch := range chans {
				if nch.ChannelType() != "session" {
					nch.Reject(ssh.UnknownChannelType, "session only")
					continue
				}
				ch, in, err := nch.Accept()
				if err != nil {
					continue
				}
				go func() {
					for req := range in {
						ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
						req.Reply(ok, nil)
						if ok {
							srv, err := sftp.NewServer(ch)
							if err == nil {
								srv.Serve()
							}
							ch.Close()
						}
					}
				}()
			}
		}()
	}
}

// stop closes the listener and every connection.
func (s *server) stop() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// fixture is a server, a drop directory and a client configuration.
type fixture struct {
	srv       *server
	dir       string
	cfg       Config
	hostKey   ssh.Signer
	clientKey ssh.Signer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	hostKey, _ := newSigner(t)
	clientKey, clientPriv := newSigner(t)
	srv := startServer(t, "127.0.0.1:0", hostKey, clientKey.PublicKey())
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "inbound")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(tmp, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(tmp, "known_hosts")
	writeKnownHosts(t, known, srv.addr(), hostKey.PublicKey())
	return &fixture{srv: srv, dir: dir, hostKey: hostKey, clientKey: clientKey, cfg: Config{
		URL:     "sftp://ferry@" + srv.addr() + dir,
		Options: Options{KeyFile: keyFile, KnownHosts: known},
		Timeout: 5 * time.Second,
	}}
}

func writeKnownHosts(t testing.TB, file, addr string, key ssh.PublicKey) {
	t.Helper()
	if err := os.WriteFile(file, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) sink(t *testing.T) *Sink {
	t.Helper()
	s, err := New(f.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// files lists the drop directory, hidden files included.
func (f *fixture) files(t *testing.T) []string {
	t.Helper()
	es, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

const bundle = `{"resourceType":"Bundle","type":"transaction","entry":[]}`

// TestDeliversWholeFiles: each item becomes <ID>.json, whole, in memory
// or streamed from its body file; no .part file is left; sending an item
// again (its acknowledgement lost) replaces the copy, one file still.
func TestDeliversWholeFiles(t *testing.T) {
	f := newFixture(t)
	s := f.sink(t)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 3<<20)
	items := []*queue.Item{
		{ID: "01JA", Body: []byte(bundle)},
		{ID: "01JB", Size: int64(len(big)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(big)), nil }},
		{ID: "01JA", Body: []byte(bundle)},
	}
	for _, it := range items {
		if err := s.Send(ctx, it); err != nil {
			t.Fatalf("send %s: %v", it.ID, err)
		}
	}
	if got := strings.Join(f.files(t), " "); got != "01JA.json 01JB.json" {
		t.Fatalf("drop directory holds %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "01JA.json")); string(b) != bundle {
		t.Errorf("01JA.json holds %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "01JB.json")); !bytes.Equal(b, big) {
		t.Errorf("01JB.json holds %d bytes, want %d", len(b), len(big))
	}
}

// TestHostKeyMustBeKnown: a server whose host key known_hosts does not
// name, or names otherwise, gets nothing, and the failure is a
// configuration problem that says which.
func TestHostKeyMustBeKnown(t *testing.T) {
	f := newFixture(t)
	other, _ := newSigner(t)
	for _, tc := range []struct {
		name  string
		write func()
		want  string
	}{
		{"changed key", func() { writeKnownHosts(t, f.cfg.KnownHosts, f.srv.addr(), other.PublicKey()) }, "is not the one exchange.sftp.known_hosts names"},
		{"unknown host", func() { writeKnownHosts(t, f.cfg.KnownHosts, "hie.example:22", f.hostKey.PublicKey()) }, "names no key for [127.0.0.1]:"},
	} {
		tc.write()
		err := f.sink(t).Connect(context.Background())
		var ce *configssh.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(ce.ConfigProblem(), tc.want) {
			t.Errorf("%s: %v, want a configuration problem saying %q", tc.name, err, tc.want)
		}
	}
}

// TestRefusedKeyAndMissingDirectory: a key the account does not accept,
// and a directory that is not there, are configuration problems too.
func TestRefusedKeyAndMissingDirectory(t *testing.T) {
	f := newFixture(t)
	other, _ := newSigner(t)
	f.srv.allowed = other.PublicKey()
	var ce *configssh.ConfigError
	if err := f.sink(t).Connect(context.Background()); !errors.As(err, &ce) || !strings.Contains(ce.ConfigProblem(), "refused ferry's key for the account ferry") {
		t.Errorf("refused key: %v", err)
	}
	f.srv.allowed = f.clientKey.PublicKey()
	f.cfg.URL += "/missing"
	if err := f.sink(t).Connect(context.Background()); !errors.As(err, &ce) || !strings.Contains(ce.ConfigProblem(), "no such file or directory") {
		t.Errorf("missing directory: %v", err)
	}
}

// TestOutageIsRetried: a server that goes away after Connect fails the
// send with a retryable error (never a dead letter), the sink asks to
// connect again, and once the server is back the item is delivered.
func TestOutageIsRetried(t *testing.T) {
	f := newFixture(t)
	s := f.sink(t)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	addr := f.srv.addr()
	f.srv.stop()
	it := &queue.Item{ID: "01JC", Body: []byte(bundle)}
	err := s.Send(ctx, it)
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("send to a server gone: %v, want a retryable error", err)
	}
	if err := s.Send(ctx, it); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("next send: %v, want ErrNotConnected", err)
	}
	if err := s.Connect(ctx); err == nil {
		t.Fatal("connected to a server that is down")
	}
	startServer(t, addr, f.hostKey, f.clientKey.PublicKey())
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, it); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.files(t), " "); got != "01JC.json" {
		t.Fatalf("drop directory holds %q", got)
	}
}

// TestDoctorCheck writes and removes a probe file, and says that this
// server does not flush on request.
func TestDoctorCheck(t *testing.T) {
	f := newFixture(t)
	fsync, err := f.sink(t).Check(context.Background())
	if err != nil || fsync {
		t.Fatalf("check: fsync %v, %v", fsync, err)
	}
	if names := f.files(t); len(names) != 0 {
		t.Fatalf("probe left behind: %v", names)
	}
}

// TestValidate names what an sftp:// exchange needs.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		url, want string
		opts      Options
	}{
		{"sftp://hie.example/in", "names no account", Options{KeyFile: "k", KnownHosts: "h"}},
		{"sftp://ferry:secret@hie.example/in", "holds a password", Options{KeyFile: "k", KnownHosts: "h"}},
		{"sftp://ferry@hie.example", "names no directory", Options{KeyFile: "k", KnownHosts: "h"}},
		{"sftp://ferry@hie.example/in", "sftp.key_file: required", Options{KeyFile: "", KnownHosts: "h"}},
		{"sftp://ferry@hie.example/in", "sftp.known_hosts: required", Options{KeyFile: "k", KnownHosts: ""}},
		{"sftp://ferry@hie.example:2222/~/in", "", Options{KeyFile: "k", KnownHosts: "h"}},
	} {
		err := Config{URL: tc.url, Options: tc.opts}.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error repeats the password: %v", tc.url, err)
		}
	}
	if tg, _ := configssh.ParseURL("sftp://ferry@hie.example:2222/~/in/"); tg.Dir != "in" || tg.Addr != "hie.example:2222" {
		t.Errorf("parse: %+v", tg)
	}
}
