package fetch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// SFTP packet types the filters look at (draft-ietf-secsh-filexfer-02).
const (
	fxpInit     = 1
	fxpVersion  = 2
	fxpOpendir  = 11
	fxpStatus   = 101
	fxpExtended = 200
)

// packetFilter sees each SFTP packet (its type byte and what follows)
// a client sends: it returns a reply to send the client instead of
// handing the packet to the server, or nil to hand it on; hold keeps the
// packet, unanswered, for ever (a server that stopped answering).
type packetFilter func(body []byte) (reply []byte, hold bool)

// filtered serves the fixture's files as sshtest does, with the site's
// keys, on a port of its own whose SFTP sessions pass fromClient and
// fromServer (nil: unchanged); it points the fixture's URL and
// known_hosts there. requests receives each packet type a client sends.
func (f *fixture) filtered(t *testing.T, fromClient packetFilter, fromServer func(body []byte) []byte) (requests <-chan byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan byte, 1024)
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	allowed := f.site.ClientKey.PublicKey().Marshal()
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), allowed) {
			return nil, nil
		}
		return nil, errors.New("key not authorized")
	}}
	cfg.AddHostKey(f.site.Server.HostKey)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, chans, reqs, err := ssh.NewServerConn(nc, cfg)
				if err != nil {
					nc.Close()
					return
				}
				go ssh.DiscardRequests(reqs)
				for nch := range chans {
					ch, in, err := nch.Accept()
					if err != nil {
						continue
					}
					go func() {
						for req := range in {
							req.Reply(req.Type == "subsystem", nil)
							if req.Type == "subsystem" {
								serveFiltered(ch, fromClient, fromServer, seen)
							}
						}
					}()
				}
			}()
		}
	}()
	known := filepath.Join(t.TempDir(), "known_hosts")
	sshtest.WriteKnownHosts(t, known, ln.Addr().String(), f.site.Server.HostKey.PublicKey())
	f.cfg.KnownHosts = known
	f.cfg.URL = "sftp://ferry@" + ln.Addr().String() + sshtest.URLPath(f.remote)
	return seen
}

// serveFiltered runs pkg/sftp's server on ch, its packets passing the
// filters both ways.
func serveFiltered(ch ssh.Channel, fromClient packetFilter, fromServer func([]byte) []byte, seen chan<- byte) {
	toSrv, srvIn := io.Pipe()
	srvOut, fromSrv := io.Pipe()
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{toSrv, fromSrv})
	if err != nil {
		ch.Close()
		return
	}
	var wmu sync.Mutex
	send := func(body []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writePacket(ch, body)
	}
	go func() {
		defer srvIn.Close()
		for {
			body, err := readPacket(ch)
			if err != nil {
				return
			}
			select {
			case seen <- body[0]:
			default:
			}
			reply, hold := fromClient(body)
			switch {
			case hold:
			case reply != nil:
				if send(reply) != nil {
					return
				}
			default:
				if writePacket(srvIn, body) != nil {
					return
				}
			}
		}
	}()
	go func() {
		defer ch.Close()
		for {
			body, err := readPacket(srvOut)
			if err != nil {
				return
			}
			if fromServer != nil {
				body = fromServer(body)
			}
			if send(body) != nil {
				return
			}
		}
	}()
	srv.Serve()
	srvOut.Close()
}

func readPacket(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, errors.New("empty SFTP packet")
	}
	return body, nil
}

func writePacket(w io.Writer, body []byte) error {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	_, err := w.Write(append(b, body...))
	return err
}

// extendedName is the request name of an SSH_FXP_EXTENDED packet.
func extendedName(body []byte) string {
	if len(body) < 9 || body[0] != fxpExtended {
		return ""
	}
	n := binary.BigEndian.Uint32(body[5:9])
	if uint32(len(body)-9) < n {
		return ""
	}
	return string(body[9 : 9+n])
}

// statusReply answers the request in body with an SSH_FXP_STATUS code.
func statusReply(body []byte, code uint32) []byte {
	b := []byte{fxpStatus}
	b = append(b, body[1:5]...) // the request id
	b = binary.BigEndian.AppendUint32(b, code)
	b = binary.BigEndian.AppendUint32(b, 0) // message
	b = binary.BigEndian.AppendUint32(b, 0) // language
	return b
}
