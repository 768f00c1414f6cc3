// Package sshtest runs an SSH server on loopback whose sessions serve
// SFTP with pkg/sftp's server over the real file system: a real SFTP
// implementation for Go tests (it offers no fsync@openssh.com; OpenSSH's
// sshd, which does, runs in the interop suite). It also writes the key
// and known_hosts files a configssh.Login names.
package sshtest

import (
	"bytes"
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

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-health/ferry/config/configssh"
)

// Server is the SSH server. Allowed is the one client key it accepts; a
// test may change it between logins.
type Server struct {
	ln      net.Listener
	HostKey ssh.Signer
	// more are further host keys the server offers besides HostKey.
	more    []ssh.Signer
	mu      sync.Mutex
	allowed ssh.PublicKey
	stall   bool
	filters *filters      // Filter
	stopped chan struct{} // closed by Stop
	stop    sync.Once
	conns   []net.Conn
	wg      sync.WaitGroup
}

// NewSigner makes an ed25519 key.
func NewSigner(t testing.TB) (ssh.Signer, ed25519.PrivateKey) {
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

// Start listens on addr ("127.0.0.1:0" for any port) with hostKey (and
// the further host keys more, as a server with a key of each type has),
// accepting the client key allowed. The server stops at the test's end.
func Start(t testing.TB, addr string, hostKey ssh.Signer, allowed ssh.PublicKey, more ...ssh.Signer) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, HostKey: hostKey, more: more, allowed: allowed, stopped: make(chan struct{})}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Allow makes k the client key the server accepts.
func (s *Server) Allow(k ssh.PublicKey) {
	s.mu.Lock()
	s.allowed = k
	s.mu.Unlock()
}

// Stall makes the server's SFTP sessions, open and to come, answer
// nothing more (a new one: not even SFTP's start), as an sftp-server
// stuck on a hung disk does, while SSH still works.
func (s *Server) Stall() {
	s.mu.Lock()
	s.stall = true
	s.mu.Unlock()
}

func (s *Server) stalled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stall
}

// stallable is an SFTP session's channel that Stall stops reading from
// (until the server stops).
type stallable struct {
	ssh.Channel
	s *Server
}

func (c stallable) Read(b []byte) (int, error) {
	n, err := c.Channel.Read(b)
	if c.s.stalled() {
		<-c.s.stopped
		return 0, io.EOF
	}
	return n, err
}

func (s *Server) serve() {
	defer s.wg.Done()
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		s.mu.Lock()
		ok := bytes.Equal(k.Marshal(), s.allowed.Marshal())
		s.mu.Unlock()
		if ok {
			return nil, nil
		}
		return nil, errors.New("key not authorized")
	}}
	cfg.AddHostKey(s.HostKey)
	for _, k := range s.more {
		cfg.AddHostKey(k)
	}
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
							if f := s.filtersNow(); f != nil {
								serveFiltered(stallable{ch, s}, f)
							} else if srv, err := sftp.NewServer(stallable{ch, s}); err == nil {
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

// Hangup closes every connection open now and goes on listening, as a
// server does that ends idle sessions (OpenSSH's ClientAliveInterval, a
// commercial SFTP server's idle timeout).
func (s *Server) Hangup() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Stop closes the listener and every connection, and waits.
func (s *Server) Stop() {
	s.stop.Do(func() { close(s.stopped) })
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// URLPath is a local directory as the path of an sftp:// URL to this
// server: /tmp/x stays, C:\Temp\x becomes /C:/Temp/x (pkg/sftp's server
// on Windows maps it back).
func URLPath(dir string) string {
	p := filepath.ToSlash(dir)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// WriteKnownHosts writes a known_hosts file naming key for addr.
func WriteKnownHosts(t testing.TB, file, addr string, key ssh.PublicKey) {
	t.Helper()
	if err := os.WriteFile(file, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Site is a server with a client key and the files that log in to it.
type Site struct {
	Server    *Server
	ClientKey ssh.Signer
	Login     configssh.Login
}

// NewSite starts a server and writes, under dir, ferry's key (0600) and a
// known_hosts that names the server.
func NewSite(t testing.TB, dir string) *Site {
	t.Helper()
	hostKey, _ := NewSigner(t)
	clientKey, clientPriv := NewSigner(t)
	srv := Start(t, "127.0.0.1:0", hostKey, clientKey.PublicKey())
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(dir, "known_hosts")
	WriteKnownHosts(t, known, srv.Addr(), hostKey.PublicKey())
	return &Site{Server: srv, ClientKey: clientKey, Login: configssh.Login{KeyFile: keyFile, KnownHosts: known}}
}
