package sshtest

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"

	"github.com/pkg/sftp"
)

// SFTP packet types the filters of tests look at
// (draft-ietf-secsh-filexfer-02).
const (
	FxpInit     = 1
	FxpVersion  = 2
	FxpOpen     = 3
	FxpRead     = 5
	FxpWrite    = 6
	FxpFsetstat = 10
	FxpOpendir  = 11
	FxpReaddir  = 12
	FxpStatus   = 101
	FxpData     = 103
	FxpExtended = 200
)

// PacketFilter sees each SFTP packet (its type byte and what follows) a
// client sends: it returns a reply to send the client instead of handing
// the packet to the server, or nil to hand it on; hold keeps the packet,
// unanswered, for ever (a server that stopped answering).
type PacketFilter func(body []byte) (reply []byte, hold bool)

type filters struct {
	fromClient PacketFilter
	fromServer func(body []byte) []byte
	// delay, when set, returns for a packet a client sends a channel
	// to wait on before handing it to the server (nil: at once).
	delay func(body []byte) <-chan struct{}
	seen  chan byte
}

// Filter makes the SFTP sessions that start from now on pass each packet
// a client sends through fromClient, and each the server sends through
// fromServer (nil: unchanged), as a server with a quirk (no
// posix-rename) or one that stops answering at a given request does.
// requests receives the type of each packet a client sends.
func (s *Server) Filter(fromClient PacketFilter, fromServer func(body []byte) []byte) (requests <-chan byte) {
	f := &filters{fromClient: fromClient, fromServer: fromServer, seen: make(chan byte, 1024)}
	s.mu.Lock()
	s.filters = f
	s.mu.Unlock()
	return f.seen
}

// Delay makes the SFTP sessions that start from now on hand each packet
// a client sends to the server only once the channel delay returns for
// it is closed (nil: at once), the packets after it going on meanwhile:
// a request the server is slow to answer (a long listing) while others
// on the session are answered. requests receives the type of each packet
// a client sends.
func (s *Server) Delay(delay func(body []byte) <-chan struct{}) (requests <-chan byte) {
	f := &filters{fromClient: func([]byte) ([]byte, bool) { return nil, false }, delay: delay, seen: make(chan byte, 1024)}
	s.mu.Lock()
	s.filters = f
	s.mu.Unlock()
	return f.seen
}

func (s *Server) filtersNow() *filters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.filters
}

// serveFiltered runs pkg/sftp's server on ch, its packets passing the
// filters both ways.
func serveFiltered(ch io.ReadWriteCloser, f *filters) {
	toSrv, srvIn := io.Pipe()
	srvOut, fromSrv := io.Pipe()
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{toSrv, fromSrv})
	if err != nil {
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
			case f.seen <- body[0]:
			default:
			}
			reply, hold := f.fromClient(body)
			switch {
			case hold:
			case reply != nil:
				if send(reply) != nil {
					return
				}
			default:
				if f.delay != nil {
					if wait := f.delay(body); wait != nil {
						// io.Pipe's writes are taken one at a time.
						go func() {
							<-wait
							writePacket(srvIn, body)
						}()
						continue
					}
				}
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
			if f.fromServer != nil {
				body = f.fromServer(body)
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

// ExtendedName is the request name of an SSH_FXP_EXTENDED packet.
func ExtendedName(body []byte) string {
	if len(body) < 9 || body[0] != FxpExtended {
		return ""
	}
	n := binary.BigEndian.Uint32(body[5:9])
	if uint32(len(body)-9) < n {
		return ""
	}
	return string(body[9 : 9+n])
}

// StatusReply answers the request in body with an SSH_FXP_STATUS code.
func StatusReply(body []byte, code uint32) []byte {
	b := []byte{FxpStatus}
	b = append(b, body[1:5]...) // the request id
	b = binary.BigEndian.AppendUint32(b, code)
	b = binary.BigEndian.AppendUint32(b, 0) // message
	b = binary.BigEndian.AppendUint32(b, 0) // language
	return b
}
