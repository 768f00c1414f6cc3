package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v2"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// received is what a test repository got: one syslog message and whether
// the sender presented a client certificate.
type received struct {
	msg        []byte
	clientCert bool
	// record is the data of the DTLS record that carried msg (dtls only).
	record []byte
}

// repo is a real audit repository for tests: it collects messages.
type repo struct {
	mu   sync.Mutex
	msgs []received
	errs []error
	got  chan struct{} // signalled on every message
}

func newRepo() *repo { return &repo{got: make(chan struct{}, 1)} }

func (r *repo) add(m []byte, cert bool) { r.addReceived(received{msg: m, clientCert: cert}) }

func (r *repo) addReceived(m received) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select { // wake a waiter; one pending wake-up is enough
	case r.got <- struct{}{}:
	default:
	}
}

func (r *repo) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *repo) snapshot() ([]received, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.msgs...), append([]error(nil), r.errs...)
}

// waitN waits until the repository holds n messages (or fails the test
// after a generous deadline meant only to stop a hung test).
func (r *repo) waitN(t testing.TB, n int) []received {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		have, errs := len(r.msgs), len(r.errs)
		r.mu.Unlock()
		if errs > 0 || have >= n {
			msgs, errs := r.snapshot()
			if len(errs) > 0 {
				t.Fatalf("repository errors: %v", errs)
			}
			return msgs
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("repository has %d messages, want %d", have, n)
		}
	}
}

// startTLSRepo listens on addr ("127.0.0.1:0" or a fixed one) with TLS
// requiring a client certificate from p's CA, and parses RFC 5425
// octet-counted frames.
func startTLSRepo(t testing.TB, p pki.Paths, addr string) (*repo, string) {
	t.Helper()
	tc, err := configtls.ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: p.CA}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	r := newRepo()
	var wg sync.WaitGroup
	conns := map[net.Conn]bool{}
	var mu sync.Mutex
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tcn := c.(*tls.Conn)
				if err := tcn.Handshake(); err != nil {
					return // tests provoke failed handshakes
				}
				cert := len(tcn.ConnectionState().PeerCertificates) > 0
				br := bufio.NewReader(c)
				for {
					m, err := readFrame(br)
					if err != nil {
						if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
							r.fail(err)
						}
						return
					}
					r.add(m, cert)
				}
			}()
		}
	}()
	return r, l.Addr().String()
}

// readFrame reads one RFC 5425 frame: MSG-LEN SP SYSLOG-MSG.
func readFrame(br *bufio.Reader) ([]byte, error) {
	lenText, err := br.ReadString(' ')
	if err != nil {
		if lenText == "" {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("frame length: %w", err)
	}
	n, err := strconv.Atoi(lenText[:len(lenText)-1])
	if err != nil || n <= 0 || lenText[0] == '0' {
		return nil, fmt.Errorf("bad MSG-LEN %q", lenText)
	}
	m := make([]byte, n)
	if _, err := io.ReadFull(br, m); err != nil {
		return nil, fmt.Errorf("frame body: %w", err)
	}
	return m, nil
}

// dtlsFrames reads the data of one DTLS record as RFC 6012 defines it,
// APPLICATION-DATA = 1*SYSLOG-FRAME, SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG.
func dtlsFrames(rec []byte) ([][]byte, error) {
	br := bufio.NewReader(bytes.NewReader(rec))
	var msgs [][]byte
	for {
		m, err := readFrame(br)
		if errors.Is(err, io.EOF) && len(msgs) > 0 {
			return msgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("dtls record %.20q is not RFC 6012 SYSLOG-FRAMEs: %w", rec, err)
		}
		msgs = append(msgs, m)
	}
}

// addRecord adds the messages of one DTLS record: its SYSLOG-FRAMEs
// (RFC 6012), or the record itself when bare (rsyslog's imdtls).
func (r *repo) addRecord(rec []byte, cert, bare bool) {
	if bare {
		r.addReceived(received{msg: rec, clientCert: cert, record: rec})
		return
	}
	msgs, err := dtlsFrames(rec)
	if err != nil {
		r.fail(err)
		return
	}
	for _, m := range msgs {
		r.addReceived(received{msg: m, clientCert: cert, record: rec})
	}
}

// startDTLSRepo is a pion/dtls server requiring a client certificate,
// reading RFC 6012 SYSLOG-FRAMEs from each record.
func startDTLSRepo(t *testing.T, p pki.Paths) (*repo, string) {
	t.Helper()
	return startDTLSRepoFraming(t, p, false)
}

// listenDTLSRepo listens on a loopback UDP port for DTLS associations
// from clients with a certificate of p's CA, as the test repositories do.
func listenDTLSRepo(t *testing.T, p pki.Paths) net.Listener {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	l, err := dtls.Listen("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &dtls.Config{
		Certificates:         []tls.Certificate{pair},
		ClientAuth:           dtls.RequireAndVerifyClientCert,
		ClientCAs:            pool,
		ExtendedMasterSecret: dtls.RequireExtendedMasterSecret,
		// pion's Accept makes each handshake in turn: one that a client
		// abandoned (it did not trust the repository) must not hold up
		// the next for its default 30 seconds.
		ConnectContextMaker: func() (context.Context, func()) {
			return context.WithTimeout(context.Background(), 2*time.Second)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// startDTLSRepoFraming is startDTLSRepo, taking each record as one bare
// message when bare, as rsyslog's imdtls does.
func startDTLSRepoFraming(t *testing.T, p pki.Paths, bare bool) (*repo, string) {
	t.Helper()
	l := listenDTLSRepo(t, p)
	r := newRepo()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	var closed atomic.Bool
	t.Cleanup(func() {
		closed.Store(true)
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				if closed.Load() {
					return
				}
				continue // a failed handshake
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				cert := len(c.(*dtls.Conn).ConnectionState().PeerCertificates) > 0
				buf := make([]byte, 1<<16)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					r.addRecord(append([]byte(nil), buf[:n]...), cert, bare)
				}
			}()
		}
	}()
	return r, l.Addr().String()
}

// startUDPRepo receives RFC 5426 datagrams.
func startUDPRepo(t *testing.T) (*repo, string) {
	t.Helper()
	return startUDPRepoAt(t, "127.0.0.1:0")
}

// startUDPRepoAt is startUDPRepo on addr ("127.0.0.1:0" or a fixed one).
func startUDPRepoAt(t *testing.T, addr string) (*repo, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := newRepo()
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1<<17)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			r.add(append([]byte(nil), buf[:n]...), false)
		}
	}()
	return r, pc.LocalAddr().String()
}

// auditXML mirrors the parts of the DICOM audit message the tests check.
type auditXML struct {
	XMLName xml.Name `xml:"AuditMessage"`
	Event   struct {
		Action   string `xml:"EventActionCode,attr"`
		DateTime string `xml:"EventDateTime,attr"`
		Outcome  string `xml:"EventOutcomeIndicator,attr"`
		ID       Code   `xml:"EventID"`
		Type     []Code `xml:"EventTypeCode"`
	} `xml:"EventIdentification"`
	Participants []struct {
		UserID    string `xml:"UserID,attr"`
		Requestor string `xml:"UserIsRequestor,attr"`
		NAPID     string `xml:"NetworkAccessPointID,attr"`
		NAPType   string `xml:"NetworkAccessPointTypeCode,attr"`
		Role      Code   `xml:"RoleIDCode"`
	} `xml:"ActiveParticipant"`
	Source struct {
		ID   string `xml:"AuditSourceID,attr"`
		Type Code   `xml:"AuditSourceTypeCode"`
	} `xml:"AuditSourceIdentification"`
	Objects []struct {
		ID       string `xml:"ParticipantObjectID,attr"`
		TypeCode string `xml:"ParticipantObjectTypeCode,attr"`
		Role     string `xml:"ParticipantObjectTypeCodeRole,attr"`
		IDType   Code   `xml:"ParticipantObjectIDTypeCode"`
		Details  []struct {
			Type  string `xml:"type,attr"`
			Value string `xml:"value,attr"`
		} `xml:"ParticipantObjectDetail"`
	} `xml:"ParticipantObjectIdentification"`
}

// parseAudit checks the RFC 5424 envelope ITI-20 requires and decodes the
// XML.
func parseAudit(t *testing.T, raw []byte) auditXML {
	t.Helper()
	m, err := Parse(raw)
	if err != nil {
		t.Fatalf("not RFC 5424: %v\n%q", err, raw)
	}
	if m.PRI != 85 || m.Version != 1 || m.AppName != "ferry" || m.MsgID != "IHE+RFC-3881" || m.SD != "-" || !m.BOM {
		t.Fatalf("header = %+v", m)
	}
	if m.Hostname == "" || m.Hostname == "-" || m.Time.IsZero() {
		t.Fatalf("hostname/time missing: %+v", m)
	}
	var a auditXML
	if err := xml.Unmarshal(m.Msg, &a); err != nil {
		t.Fatalf("MSG is not XML: %v\n%s", err, m.Msg)
	}
	return a
}
