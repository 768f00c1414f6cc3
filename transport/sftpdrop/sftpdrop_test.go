package sftpdrop

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/mllptls"
)

// fixture is a server (sshtest: pkg/sftp's server, no fsync), a drop
// directory and a client configuration.
type fixture struct {
	site *sshtest.Site
	dir  string
	cfg  Config
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	tmp := t.TempDir()
	site := sshtest.NewSite(t, tmp)
	dir := filepath.Join(tmp, "inbound")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &fixture{site: site, dir: dir, cfg: Config{
		URL:     "sftp://ferry@" + site.Server.Addr() + sshtest.URLPath(dir),
		Options: Options{Login: site.Login},
		Timeout: 5 * time.Second,
	}}
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
	// Random bytes: chunks written concurrently (out of order) must
	// still land where they belong.
	big := make([]byte, 3<<20+12345)
	rand.Read(big)
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
	other, _ := sshtest.NewSigner(t)
	srv := f.site.Server
	for _, tc := range []struct {
		name  string
		write func()
		want  string
	}{
		{"changed key", func() { sshtest.WriteKnownHosts(t, f.cfg.KnownHosts, srv.Addr(), other.PublicKey()) }, "is not the one exchange.sftp.known_hosts names"},
		{"unknown host", func() { sshtest.WriteKnownHosts(t, f.cfg.KnownHosts, "hie.example:22", srv.HostKey.PublicKey()) }, "names no key for [127.0.0.1]:"},
		// A key marked @revoked (stolen) is an operator's problem too,
		// not an outage to retry in silence.
		{"revoked key", func() {
			line := "@revoked * " + string(ssh.MarshalAuthorizedKey(srv.HostKey.PublicKey()))
			if err := os.WriteFile(f.cfg.KnownHosts, []byte(line), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "marks @revoked (line 1)"},
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
	other, _ := sshtest.NewSigner(t)
	f.site.Server.Allow(other.PublicKey())
	var ce *configssh.ConfigError
	if err := f.sink(t).Connect(context.Background()); !errors.As(err, &ce) || !strings.Contains(ce.ConfigProblem(), "refused ferry's key for the account ferry") {
		t.Errorf("refused key: %v", err)
	}
	f.site.Server.Allow(f.site.ClientKey.PublicKey())
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
	addr := f.site.Server.Addr()
	f.site.Server.Stop()
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
	sshtest.Start(t, addr, f.site.Server.HostKey, f.site.ClientKey.PublicKey())
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

// TestDoctorCheckStalledOrFull: `ferry doctor`'s check of a server that
// logs in and then never answers the probe's open ends at the timeout,
// and a probe the server created but would not write (a full disk) is
// removed, not left in the exchange's directory.
func TestDoctorCheckStalledOrFull(t *testing.T) {
	f := newFixture(t)
	requests := f.site.Server.Filter(func(body []byte) ([]byte, bool) { return nil, body[0] == sshtest.FxpOpen }, nil)
	f.cfg.Timeout = 2 * time.Second
	s := f.sink(t)
	done := make(chan error, 1)
	go func() { _, err := s.Check(context.Background()); done <- err }()
	for typ := range requests {
		if typ == sshtest.FxpOpen {
			break
		}
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the check of a server that stopped answering passed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the check of a server that stopped answering still waiting 30s on, with a 2s timeout")
	}

	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpWrite {
			return sshtest.StatusReply(body, 4), false // SSH_FX_FAILURE
		}
		return nil, false
	}, nil)
	if _, err := s.Check(context.Background()); err == nil {
		t.Fatal("a probe the server would not write passed")
	}
	if names := f.files(t); len(names) != 0 {
		t.Fatalf("probe left behind: %v", names)
	}
}

// TestSlowUplinkTail: over a slow link the last writes of a file (some
// 2 MiB in flight) are acknowledged after its last byte was read. With
// the server answering every 60 ms, that tail takes about 3.8 s, past a
// 1.5 s watchdog that counted only reads, which closed the connection at
// the end of every large file: the file never arrived. The server's
// answers count as progress, so it does. (The watchdog is 25 answers
// long, so that a test machine busy with other packages does not fire it
// between two of them.)
func TestSlowUplinkTail(t *testing.T) {
	f := newFixture(t)
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if body[0] == sshtest.FxpWrite {
			time.Sleep(60 * time.Millisecond)
		}
		return nil, false
	}, nil)
	f.cfg.Timeout = 1500 * time.Millisecond
	s := f.sink(t)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 5<<19)
	rand.Read(big)
	it := &queue.Item{ID: "01JC", Size: int64(len(big)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(big)), nil }}
	if err := s.Send(ctx, it); err != nil {
		t.Fatalf("send over a slow link: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "01JC.json")); !bytes.Equal(b, big) {
		t.Errorf("01JC.json holds %d bytes, want %d", len(b), len(big))
	}
}

// TestValidate names what an sftp:// exchange needs.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		url, want string
		opts      Options
	}{
		{"sftp://hie.example/in", "names no account", Options{Login: configssh.Login{KeyFile: "k", KnownHosts: "h"}}},
		{"sftp://ferry:secret@hie.example/in", "holds a password", Options{Login: configssh.Login{KeyFile: "k", KnownHosts: "h"}}},
		{"sftp://ferry@hie.example", "names no directory", Options{Login: configssh.Login{KeyFile: "k", KnownHosts: "h"}}},
		{"sftp://ferry@hie.example/in", "sftp.key_file: required", Options{Login: configssh.Login{KeyFile: "", KnownHosts: "h"}}},
		{"sftp://ferry@hie.example/in", "sftp.known_hosts: required", Options{Login: configssh.Login{KeyFile: "k", KnownHosts: ""}}},
		{"sftp://ferry@hie.example:2222/~/in", "", Options{Login: configssh.Login{KeyFile: "k", KnownHosts: "h"}}},
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

// TestHL7v2Files: with sftp.format hl7v2 the file is the HL7 v2 message
// the bundle carries, segments ended by CR, as <ID>.hl7; a later part of
// a message has nothing to write (ErrNothingToSend), and a fax's bundle
// can never be written so (a dead letter).
func TestHL7v2Files(t *testing.T) {
	f := newFixture(t)
	f.cfg.Format = FormatHL7v2
	s := f.sink(t)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	msg := "MSH|^~\\&|LAB|CLINIC|IIS|STATE|20261127||VXU^V04|CTRL-1|P|2.5.1\nPID|1||MRN-1^^^HOSP^MR\n"
	v2 := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary","contentType":"` + mllptls.V2ContentType +
		`","data":"` + base64.StdEncoding.EncodeToString([]byte(msg)) + `"}}]}`
	if err := s.Send(ctx, &queue.Item{ID: "01JV", Body: []byte(v2), Attrs: map[string]string{"format": "hl7v2"}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "01JV.hl7")); string(b) != strings.ReplaceAll(msg, "\n", "\r") {
		t.Errorf("01JV.hl7 holds %q", b)
	}
	if err := s.Send(ctx, &queue.Item{ID: "01JW", Body: []byte(bundle), Attrs: map[string]string{"format": "hl7v2"}}); !errors.Is(err, transport.ErrNothingToSend) {
		t.Errorf("a later part: %v", err)
	}
	if err := s.Send(ctx, &queue.Item{ID: "01JX", Body: []byte(bundle), Attrs: map[string]string{"format": "fax"}}); !queue.IsPermanent(err) {
		t.Errorf("a fax: %v", err)
	}
	if got := strings.Join(f.files(t), " "); got != "01JV.hl7" {
		t.Errorf("drop directory holds %q", got)
	}
}

// TestHostKeyOfAnyListedType: a server with host keys of several types
// (OpenSSH has ECDSA, RSA and Ed25519 ones) is accepted when known_hosts
// lists only one of them (the line `ssh` itself records is the Ed25519
// one): the client must ask for a key of a type known_hosts names,
// rather than for the type it prefers and then call that key changed.
func TestHostKeyOfAnyListedType(t *testing.T) {
	f := newFixture(t)
	ed := f.site.Server.HostKey
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ssh.NewSignerFromKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := sshtest.Start(t, "127.0.0.1:0", ec, f.site.ClientKey.PublicKey(), ed)
	f.cfg.URL = "sftp://ferry@" + srv.Addr() + sshtest.URLPath(f.dir)
	sshtest.WriteKnownHosts(t, f.cfg.KnownHosts, srv.Addr(), ed.PublicKey())
	s := f.sink(t)
	if err := s.Connect(context.Background()); err != nil {
		t.Fatalf("known_hosts lists the server's Ed25519 key: %v", err)
	}
	if err := s.Send(context.Background(), &queue.Item{ID: "01JD", Body: []byte(bundle)}); err != nil {
		t.Fatal(err)
	}
	// So with the host name hashed (HashKnownHosts yes).
	hashed := knownhosts.Line([]string{knownhosts.HashHostname(knownhosts.Normalize(srv.Addr()))}, ed.PublicKey())
	if err := os.WriteFile(f.cfg.KnownHosts, []byte(hashed+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.sink(t).Connect(context.Background()); err != nil {
		t.Fatalf("hashed known_hosts line: %v", err)
	}
	// A key of a listed type that is not the listed key is still refused.
	other, _ := sshtest.NewSigner(t)
	sshtest.WriteKnownHosts(t, f.cfg.KnownHosts, srv.Addr(), other.PublicKey())
	var ce *configssh.ConfigError
	if err := f.sink(t).Connect(context.Background()); !errors.As(err, &ce) || !strings.Contains(ce.ConfigProblem(), "is not the one") {
		t.Errorf("another Ed25519 key listed: %v, want the changed-key problem", err)
	}
}

// TestConnectToStalledServer: a server that completes the SSH handshake
// and then answers nothing (its sftp-server stuck on a hung disk) fails
// Connect within Timeout, as an outage to retry, rather than holding the
// dispatcher's connect, and with it every worker, for ever.
func TestConnectToStalledServer(t *testing.T) {
	f := newFixture(t)
	f.cfg.Timeout = time.Second
	f.site.Server.Stall()
	s := f.sink(t)
	done := make(chan error, 1)
	go func() { done <- s.Connect(context.Background()) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Connect to a stalled server still waiting 30s on, with a 1s timeout")
	}
	var ce *configssh.ConfigError
	if err == nil || errors.As(err, &ce) {
		t.Fatalf("Connect to a stalled server: %v, want an outage to retry", err)
	}
}

// TestCloseWithStalledServer: closing the sink (the gateway stopping)
// while the server answers nothing more ends the session at once rather
// than waiting for the server to close it, which would hold the
// gateway's shutdown, and with it the queue's and the audit's.
func TestCloseWithStalledServer(t *testing.T) {
	f := newFixture(t)
	s := f.sink(t)
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.site.Server.Stall()
	done := make(chan error, 1)
	go func() { done <- s.Close(context.Background()) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waiting for a stalled server 30s on")
	}
}

// TestDoctorCheckRename: an account that may write and remove files but
// not rename them (an upload-only drop box) gets no file delivered, each
// Send's rename refused; `ferry doctor`'s check renames its probe as a
// Send does, so it says so instead of passing, and leaves nothing.
func TestDoctorCheckRename(t *testing.T) {
	f := newFixture(t)
	f.site.Server.Filter(func(body []byte) ([]byte, bool) {
		if sshtest.ExtendedName(body) == "posix-rename@openssh.com" {
			return sshtest.StatusReply(body, 3), false // SSH_FX_PERMISSION_DENIED
		}
		return nil, false
	}, nil)
	_, err := f.sink(t).Check(context.Background())
	var ce *configssh.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(ce.ConfigProblem(), "cannot rename a file in") {
		t.Errorf("check of an account that may not rename: %v, want a configuration problem naming the rename", err)
	}
	if names := f.files(t); len(names) != 0 {
		t.Fatalf("probe left behind: %v", names)
	}
}
