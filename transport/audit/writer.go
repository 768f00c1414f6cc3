package audit

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/pion/dtls/v2"
	"github.com/pion/dtls/v2/pkg/protocol/alert"
	"github.com/pion/logging"

	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configtls"
)

// errClosedByPeer reports a TLS connection the repository ended.
var errClosedByPeer = errors.New("write audit message: connection closed by the repository")

// Transport limits.
const (
	// MaxUDPMessage is the largest syslog message sent in one UDP datagram
	// (the IPv4 UDP payload limit); RFC 5426 §3.2 lets a sender truncate
	// longer ones.
	MaxUDPMessage = 65507
	// maxDTLSRecord is the most data ferry puts in one DTLS record:
	// what fits a datagram of 8192 octets with the record's header (13
	// octets) and AES-GCM's explicit nonce and tag (8 + 16). A record may
	// carry 2^14 octets (RFC 6347 §4.1), but RFC 6012 §5.4.1 asks a
	// receiver to take messages of 2048 octets and only SHOULD up to
	// 8192, and pion/dtls reads a datagram into 8192 octets
	// (inboundBufferSize): one longer than that never arrives, without a
	// word to either side. A longer event is sent as several that fit where it
	// names several patients (encodeAll), else cut and counted.
	maxDTLSRecord = 8192 - 13 - 8 - 16
	// MaxDTLSMessage is the largest syslog message sent in one DTLS
	// record. Each record carries one message as RFC 6012 §5.4 frames it,
	// APPLICATION-DATA = 1*SYSLOG-FRAME, SYSLOG-FRAME = MSG-LEN SP
	// SYSLOG-MSG ("a transport receiver MUST use the message length to
	// delimit a syslog message"), so the message is shorter than the
	// record by its length and the space ("8150 "). Options.DTLSBare
	// sends the message alone instead, for receivers that take every
	// record as one whole message and read no MSG-LEN (rsyslog's imdtls,
	// whose omdtls and systemd-netlogd send them so); it may then be
	// maxDTLSRecord long.
	MaxDTLSMessage = maxDTLSRecord - len("8150 ")
	// DefaultPort is the registered syslog-tls / syslog-dtls port.
	DefaultPort = "6514"
	// DefaultUDPPort is the classic syslog port.
	DefaultUDPPort = "514"
)

// conn is one open connection to the audit repository. WriteMessage sends
// one complete syslog message (framed as the transport requires).
type conn interface {
	WriteMessage(msg []byte) error
	Close() error
}

// endpoint is a parsed audit repository URL.
type endpoint struct {
	scheme string // tls, dtls, udp, https
	addr   string // host:port
	host   string
	base   string // https: the FHIR base, without a trailing slash
	// bare (dtls): each message alone in its record, without the MSG-LEN
	// of RFC 6012 (Options.DTLSBare).
	bare bool
}

// encode renders ev as the repository at ep takes it: a FHIR AuditEvent
// for https (the FHIR Feed option), otherwise DICOM XML in RFC 5424
// syslog.
func (ep endpoint) encode(h Header, ev *Event) ([]byte, error) {
	if ep.scheme == "https" {
		return ev.FHIR()
	}
	x, err := ev.XML()
	if err != nil {
		return nil, err
	}
	return h.Format(ev.Time, x), nil
}

// maxMessage is the longest message the repository's transport carries
// whole (a DTLS record, a UDP datagram); 0 when it takes any length.
func (ep endpoint) maxMessage() int {
	switch ep.scheme {
	case "dtls":
		if ep.bare {
			return maxDTLSRecord
		}
		return MaxDTLSMessage
	case "udp":
		return MaxUDPMessage
	}
	return 0
}

// encodeAll renders ev as encode does, as several messages when one would
// be longer than the transport carries whole (maxMessage) and the event
// names several patients: each then names some of them, with the event's
// other participants and objects (DICOM PS3.15 A.5.3.5: "Multiple
// patients may be described in one event message"; several messages
// describe them as well), so that none is cut short, which would leave
// the repository XML it cannot read. A longer message that cannot be
// split is returned whole, for the connection to cut and count.
func (ep endpoint) encodeAll(h Header, ev *Event) ([][]byte, error) {
	m, err := ep.encode(h, ev)
	if err != nil {
		return nil, err
	}
	if max := ep.maxMessage(); max == 0 || len(m) <= max {
		return [][]byte{m}, nil
	}
	a, b, ok := ev.splitPatients()
	if !ok {
		return [][]byte{m}, nil
	}
	ma, err := ep.encodeAll(h, &a)
	if err != nil {
		return nil, err
	}
	mb, err := ep.encodeAll(h, &b)
	if err != nil {
		return nil, err
	}
	return append(ma, mb...), nil
}

func parseURL(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return endpoint{}, fmt.Errorf("audit url: %w", err)
	}
	if u.User != nil {
		return endpoint{}, errors.New("audit url: must not contain credentials (user:password@)")
	}
	ep := endpoint{scheme: u.Scheme, host: u.Hostname()}
	port := u.Port()
	switch u.Scheme {
	case "tls", "dtls":
		if port == "" {
			port = DefaultPort
		}
	case "udp":
		if port == "" {
			port = DefaultUDPPort
		}
	case "https":
		if port == "" {
			port = "443"
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return endpoint{}, errors.New("audit url: an https FHIR base has no query, fragment or credentials")
		}
		ep.base = strings.TrimSuffix(u.String(), "/")
	default:
		return endpoint{}, fmt.Errorf("audit url: scheme %q is not tls, dtls, udp or https", u.Scheme)
	}
	if ep.host == "" {
		return endpoint{}, errors.New("audit url: has no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return endpoint{}, fmt.Errorf("audit url: port %q is not a number from 1 to 65535", port)
	}
	ep.addr = net.JoinHostPort(ep.host, port)
	return ep, nil
}

// dialer opens connections to one endpoint.
type dialer struct {
	ep      endpoint
	tls     *tls.Config // for tls and dtls
	timeout time.Duration
	// truncated is called when a UDP or DTLS message was cut to fit.
	truncated func(n int)
	client    *http.Client // https: shared by the connections
	// proxy is the proxy section, for https only: syslog over TLS, DTLS
	// and UDP are not HTTP and always connect directly.
	proxy configproxy.Config
	// files are the TLS settings d.tls was loaded from; stale, set after
	// a TLS failure, has the next dial load them again.
	files configtls.ClientConfig
	stale bool
	// maxAge and maxIdle retire a DTLS association (see dtlsConn).
	maxAge, maxIdle time.Duration
	// now is the clock for association ages; tests replace it.
	now func() time.Time
}

func newDialer(ep endpoint, tc configtls.ClientConfig, proxy configproxy.Config, timeout time.Duration, truncated func(int)) (*dialer, error) {
	d := &dialer{ep: ep, timeout: timeout, truncated: truncated, proxy: proxy, files: tc,
		maxAge: DefaultDTLSMaxAge, maxIdle: DefaultDTLSMaxIdle, now: time.Now}
	if err := d.loadTLS(); err != nil {
		return nil, err
	}
	return d, nil
}

// loadTLS reads the TLS files (for tls, dtls and https) into d.tls.
func (d *dialer) loadTLS() error {
	if d.ep.scheme != "tls" && d.ep.scheme != "dtls" && d.ep.scheme != "https" {
		return nil
	}
	cfg, err := d.files.LoadTLSConfig()
	if err != nil {
		return fmt.Errorf("audit tls: %w", err)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = d.ep.host
	}
	d.tls = cfg
	return nil
}

// failed notes a failure of a connection or of a dial. After a TLS
// certificate or handshake failure the next dial reads the TLS files
// again: the CA pool is read only when they are loaded, and an operator
// who fixes audit.tls.ca_file (the repository changed its CA) must not
// also have to restart ferry for the spooled events to go, as the
// exchange's sinks do (fhirhttp, mllptls). A DTLS handshake's errors are
// pion's, which configtls.Diagnose may not recognise: any of them counts.
func (d *dialer) failed(err error) {
	if err == nil {
		return
	}
	var hs *dtlsHandshakeError
	if configtls.Diagnose(err) != nil || errors.As(err, &hs) {
		d.stale = true
	}
}

// dtlsHandshakeError is a failed DTLS handshake with the repository.
type dtlsHandshakeError struct {
	addr string
	err  error
}

func (e *dtlsHandshakeError) Error() string {
	return "dtls handshake with audit repository " + e.addr + ": " + e.err.Error()
}

func (e *dtlsHandshakeError) Unwrap() error { return e.err }

func (d *dialer) dial(ctx context.Context) (conn, error) {
	if d.stale {
		if err := d.loadTLS(); err != nil {
			return nil, err
		}
		d.stale = false
		if d.client != nil {
			// Its transport holds the old CA pool.
			d.client.CloseIdleConnections()
			d.client = nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	switch d.ep.scheme {
	case "https":
		// HTTP has no session to open: the first POST connects, and its
		// failure sends the events to the spool like a failed dial.
		if d.client == nil {
			tr := &http.Transport{
				TLSClientConfig: d.tls, MaxIdleConnsPerHost: 1, IdleConnTimeout: 90 * time.Second,
				TLSHandshakeTimeout: d.timeout,
			}
			d.proxy.Apply(tr)
			d.client = &http.Client{Timeout: d.timeout, Transport: tr,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		}
		return &fhirConn{client: d.client, url: d.ep.base + "/AuditEvent"}, nil
	case "tls":
		td := tls.Dialer{Config: d.tls, NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}}
		began := time.Now()
		c, err := td.DialContext(ctx, "tcp", d.ep.addr)
		if err != nil {
			return nil, fmt.Errorf("dial audit repository %s: %w", d.ep.addr, err)
		}
		if err := awaitAcceptance(c, time.Since(began), d.timeout); err != nil {
			c.Close()
			return nil, fmt.Errorf("dial audit repository %s: %w", d.ep.addr, err)
		}
		return newTLSConn(c, d.timeout), nil
	case "dtls":
		var nd net.Dialer
		uc, err := nd.DialContext(ctx, "udp", d.ep.addr)
		if err != nil {
			return nil, fmt.Errorf("dial audit repository %s: %w", d.ep.addr, err)
		}
		cfg := d.dtlsConfig()
		notified := &closeNotifyWatch{}
		cfg.LoggerFactory = notified
		c, err := dtls.ClientWithContext(ctx, uc, cfg)
		if err != nil {
			uc.Close()
			return nil, &dtlsHandshakeError{addr: d.ep.addr, err: err}
		}
		return newDTLSConn(&datagramConn{c: c, max: d.ep.maxMessage(), counted: !d.ep.bare, timeout: d.timeout, truncated: d.truncated},
			d.now, d.maxAge, d.maxIdle, notified), nil
	default: // udp
		var nd net.Dialer
		c, err := nd.DialContext(ctx, "udp", d.ep.addr)
		if err != nil {
			return nil, fmt.Errorf("dial audit repository %s: %w", d.ep.addr, err)
		}
		return &udpConn{&datagramConn{c: c, max: MaxUDPMessage, timeout: d.timeout, truncated: d.truncated}}, nil
	}
}

// udpConfirmWait is how long a write to a udp:// repository waits for the
// network to say that what was written was not taken (confirm). An ICMP
// port or host unreachable comes back within one round trip.
const udpConfirmWait = 100 * time.Millisecond

// confirmer is a connection whose writes succeed locally whatever becomes
// of them (UDP, RFC 5426): a "dial" sends nothing, and a datagram to a
// repository that is down leaves as well as one to a repository that is
// up. Only the ICMP error it brings back, which the kernel reports at the
// next write or read on the connected socket, tells them apart. confirm
// waits up to wait for that report on what was written since the last
// confirm; an error means some of it was not taken, and all of it is to
// be sent again (the trail is at-least-once).
type confirmer interface {
	confirm(wait time.Duration) error
}

// udpConn is a connected UDP socket to the repository (RFC 5426).
type udpConn struct{ *datagramConn }

func (u *udpConn) confirm(wait time.Duration) error {
	if err := u.c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return fmt.Errorf("write audit message: %w", err)
	}
	defer u.c.SetReadDeadline(time.Time{})
	var b [512]byte
	for {
		_, err := u.c.Read(b[:])
		var ne net.Error
		switch {
		case err == nil:
			// A repository sends nothing over syslog; ignore what it does.
		case errors.As(err, &ne) && ne.Timeout():
			return nil
		default:
			return fmt.Errorf("write audit message: the repository did not take it: %w", err)
		}
	}
}

// dtlsConfig carries configtls's settings over to pion/dtls: the same CA
// pool, client certificate (re-read when renewed) and verified server
// name, ECDHE with AES-GCM only, extended master secret required.
func (d *dialer) dtlsConfig() *dtls.Config {
	tc := d.tls
	cfg := &dtls.Config{
		RootCAs:    tc.RootCAs,
		ServerName: tc.ServerName,
		CipherSuites: []dtls.CipherSuiteID{
			dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		},
		ExtendedMasterSecret: dtls.RequireExtendedMasterSecret,
	}
	if tc.GetClientCertificate != nil {
		get := tc.GetClientCertificate
		cfg.GetClientCertificate = func(*dtls.CertificateRequestInfo) (*tls.Certificate, error) {
			return get(&tls.CertificateRequestInfo{})
		}
	}
	if net.ParseIP(tc.ServerName) != nil {
		// pion sends no IP address as SNI (RFC 6066 §3) and, having
		// dropped it, verifies the chain against no name at all: a
		// repository named by its address is checked here, after the
		// chain, as crypto/tls checks it for tls:// (RFC 5425 §5.2).
		addr := tc.ServerName
		cfg.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
			if len(chains) == 0 || len(chains[0]) == 0 {
				return fmt.Errorf("the certificate of %s was not verified", addr)
			}
			return chains[0][0].VerifyHostname(addr)
		}
	}
	return cfg
}

// awaitAcceptance reads briefly after the handshake. In TLS 1.3 the
// client's handshake ends before the server has checked the client
// certificate (RFC 8446 §4.4.2), so a repository that refuses ours says so
// with an alert one round trip later; the first message written before
// that alert would be lost. Two handshake durations (at least 50 ms) is
// ample for the alert, or the session tickets, to arrive. A read that
// simply times out means the repository accepted us.
func awaitAcceptance(c net.Conn, handshake, limit time.Duration) error {
	wait := min(max(2*handshake, 50*time.Millisecond), limit)
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("repository refused the connection: %w", err)
	}
	return c.SetReadDeadline(time.Time{})
}

// tlsConn frames messages with RFC 5425 octet counting: "MSG-LEN SP MSG".
// A repository never sends anything back, so a reader goroutine that sees
// the connection end (close_notify, EOF, reset) marks it dead: the next
// message then goes to the spool instead of into a socket buffer that a
// closed peer will never read. It is renewable: the Sink lets it go as
// soon as it ends. A repository (or a load balancer in front of it) that
// ends an idle connection cleanly has not gone away, so that is an
// expiry, the next event dialling at once, and only a reset is a failure.
type tlsConn struct {
	c       net.Conn
	timeout time.Duration
	buf     []byte
	dead    chan struct{}
	why     error // set before dead is closed: nil for a clean end
}

func newTLSConn(c net.Conn, timeout time.Duration) *tlsConn {
	t := &tlsConn{c: c, timeout: timeout, dead: make(chan struct{})}
	go func() {
		_, err := io.Copy(io.Discard, c)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) {
			t.why = fmt.Errorf("%w: %w", errClosedByPeer, err)
		}
		close(t.dead)
	}()
	return t
}

func (t *tlsConn) lost() <-chan struct{} { return t.dead }

func (t *tlsConn) lostErr() error {
	select {
	case <-t.dead:
		return t.why
	default:
		return nil
	}
}

func (t *tlsConn) expired(time.Time) bool {
	select {
	case <-t.dead:
		return true
	default:
		return false
	}
}

func (t *tlsConn) WriteMessage(msg []byte) error {
	select {
	case <-t.dead:
		return errClosedByPeer
	default:
	}
	t.buf = strconv.AppendInt(t.buf[:0], int64(len(msg)), 10)
	t.buf = append(t.buf, ' ')
	t.buf = append(t.buf, msg...)
	if err := t.c.SetWriteDeadline(time.Now().Add(t.timeout)); err != nil {
		return fmt.Errorf("write audit message: %w", err)
	}
	if _, err := t.c.Write(t.buf); err != nil {
		return fmt.Errorf("write audit message: %w", err)
	}
	return nil
}

func (t *tlsConn) Close() error { return t.c.Close() }

// datagramConn sends one message per datagram (RFC 5426 UDP) or per
// DTLS record (RFC 6012, as a SYSLOG-FRAME when counted; see
// MaxDTLSMessage), cutting messages longer than max, before the UTF-8
// sequence the limit falls in.
type datagramConn struct {
	c         net.Conn
	max       int
	counted   bool // MSG-LEN SP before the message (RFC 6012 §5.4)
	timeout   time.Duration
	truncated func(int)
	buf       []byte
}

func (d *datagramConn) WriteMessage(msg []byte) error {
	if len(msg) > d.max {
		if d.truncated != nil {
			d.truncated(len(msg))
		}
		// Not inside a letter: ferry's MSG is BOM and UTF-8 (RFC 5424
		// §6.4, MSG-UTF8 = BOM UTF-8-STRING), and must stay so cut.
		cut := d.max
		for i := 1; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(msg[cut]); i++ {
			cut--
		}
		msg = msg[:cut]
	}
	if d.counted {
		d.buf = strconv.AppendInt(d.buf[:0], int64(len(msg)), 10)
		d.buf = append(d.buf, ' ')
		msg = append(d.buf, msg...)
		d.buf = msg
	}
	if err := d.c.SetWriteDeadline(time.Now().Add(d.timeout)); err != nil {
		return fmt.Errorf("write audit message: %w", err)
	}
	if _, err := d.c.Write(msg); err != nil {
		return fmt.Errorf("write audit message: %w", err)
	}
	return nil
}

func (d *datagramConn) Close() error { return d.c.Close() }

// errAssociationLost is a DTLS association the repository ended (an alert)
// or the network reported unreachable (an ICMP error) while ferry was not
// writing.
var errAssociationLost = errors.New("write audit message: the dtls association was lost")

// renewable is a connection that can tell, before a write, that it should
// not be written to: the Sink replaces it first, so that the message goes
// to a fresh connection or to the spool, never into a dead one.
type renewable interface {
	// lost is closed once the peer or the network ended the connection;
	// lostErr then says why, or nil for an end that is no failure (a
	// repository that closed an idle connection), which expired reports.
	lost() <-chan struct{}
	lostErr() error
	// expired reports a connection that has reached its maximum age or
	// idle time at now: it is closed and dialled again, not an error.
	expired(now time.Time) bool
}

// closeNotifyWatch notes a close_notify alert from the repository on one
// DTLS association. pion ends Read with io.EOF alike after a close_notify
// and after a fatal alert, and says which only in its trace log ("<-
// Alert Warning: CloseNotify"), so the association's logger is this: it
// logs nothing (pion would print to stdout) and watches for that line.
type closeNotifyWatch struct{ seen atomic.Bool }

// closeNotify is how pion's trace log names a close_notify received, in
// either level.
var closeNotify = [...]string{
	(&alert.Alert{Level: alert.Warning, Description: alert.CloseNotify}).String(),
	(&alert.Alert{Level: alert.Fatal, Description: alert.CloseNotify}).String(),
}

func (w *closeNotifyWatch) NewLogger(string) logging.LeveledLogger { return w }

func (w *closeNotifyWatch) Tracef(_ string, args ...any) {
	for _, a := range args {
		if s, ok := a.(string); ok && (s == closeNotify[0] || s == closeNotify[1]) {
			w.seen.Store(true)
		}
	}
}

func (*closeNotifyWatch) Trace(string)          {}
func (*closeNotifyWatch) Debug(string)          {}
func (*closeNotifyWatch) Debugf(string, ...any) {}
func (*closeNotifyWatch) Info(string)           {}
func (*closeNotifyWatch) Infof(string, ...any)  {}
func (*closeNotifyWatch) Warn(string)           {}
func (*closeNotifyWatch) Warnf(string, ...any)  {}
func (*closeNotifyWatch) Error(string)          {}
func (*closeNotifyWatch) Errorf(string, ...any) {}

// dtlsConn is a DTLS association that is retired after a maximum age and
// a maximum idle time. Syslog over DTLS is one-way and a DTLS record for
// an association the peer no longer knows is silently discarded (RFC 6347
// §4.1.2.7 and §4.2.8 give the peer nothing to answer with): when the
// repository restarts without sending close_notify (a crash, a reboot, a
// failover to a standby at the same address), every write into the old
// association still succeeds locally and the event is gone. Retiring the
// association bounds that loss to what is written in one maximum age, and
// the idle limit makes the first event after a quiet spell, the likeliest
// moment for the repository or a NAT binding on the way to have changed,
// open a fresh association. A reader goroutine also watches the
// association: a fatal alert or close_notify from the repository, or an
// ICMP error the kernel reports on the connected socket (the repository
// down), marks it lost before the next write. A close_notify is the
// repository ending the association, not going away (RFC 6012 §5.5: a
// transport receiver "MAY close the connection" it got nothing on for
// long, after "an exchange of close_notify alerts"): like a tls://
// connection closed cleanly it is an expiry, and the next event opens a
// new association at once.
type dtlsConn struct {
	*datagramConn
	now             func() time.Time
	opened          time.Time
	maxAge, maxIdle time.Duration
	lastWrite       atomic.Int64 // unix nanoseconds, by now
	gone            chan struct{}
	why             error
}

func newDTLSConn(dc *datagramConn, now func() time.Time, maxAge, maxIdle time.Duration, w *closeNotifyWatch) *dtlsConn {
	t := now()
	c := &dtlsConn{datagramConn: dc, now: now, opened: t, maxAge: maxAge, maxIdle: maxIdle, gone: make(chan struct{})}
	c.lastWrite.Store(t.UnixNano())
	go func() {
		buf := make([]byte, 1<<14)
		for {
			// pion passes non-fatal alerts and socket errors (ECONNREFUSED
			// from an ICMP port unreachable) to Read and ends it with EOF
			// after a fatal alert, close_notify or Close.
			if _, err := dc.c.Read(buf); err != nil {
				if errors.Is(err, io.EOF) && w != nil && w.seen.Load() {
					// Ended cleanly: why stays nil.
					close(c.gone)
					return
				}
				if errors.Is(err, io.EOF) {
					err = errClosedByPeer
				}
				c.why = fmt.Errorf("%w: %w", errAssociationLost, err)
				close(c.gone)
				return
			}
			// A repository sends nothing over syslog; ignore what it does.
		}
	}()
	return c
}

func (c *dtlsConn) WriteMessage(msg []byte) error {
	select {
	case <-c.gone:
		return c.why
	default:
	}
	if err := c.datagramConn.WriteMessage(msg); err != nil {
		return err
	}
	c.lastWrite.Store(c.now().UnixNano())
	return nil
}

func (c *dtlsConn) lost() <-chan struct{} { return c.gone }

func (c *dtlsConn) lostErr() error {
	select {
	case <-c.gone:
		return c.why
	default:
		return nil
	}
}

func (c *dtlsConn) expired(now time.Time) bool {
	select {
	case <-c.gone:
		return true
	default:
	}
	return now.Sub(c.opened) >= c.maxAge || now.Sub(time.Unix(0, c.lastWrite.Load())) >= c.maxIdle
}

// fhirConn POSTs each message, a FHIR AuditEvent, to [base]/AuditEvent.
type fhirConn struct {
	client *http.Client
	url    string
}

// refusedError is a repository's refusal of one message as invalid: the
// connection is fine, and the message is not sent again.
type refusedError struct{ Status string }

func (e *refusedError) Error() string {
	return "the audit repository refused an audit event as invalid (" + e.Status + ")"
}

// WriteMessage POSTs msg. A 2xx is sent when it is a FHIR server's answer
// to the create (created): a TLS-inspecting proxy, a captive portal or a
// web front end answers 200 too, with a page, and taking that for sent
// loses the event. A repository that judges the event itself invalid
// (409, 412, 413, 422, or 400 with an OperationOutcome: nginx answers a
// client certificate it did not get with a bare 400 page) will not take
// it later either: that is a *refusedError, and the Sink counts the
// message as dropped and goes on instead of keeping it to block the
// spool. Anything else (the network, 401/403 for a certificate not yet
// registered, 404 for a wrong base, 429, 5xx, a page) is an error, and
// the message stays spooled for the next attempt.
func (f *fhirConn) WriteMessage(msg []byte) error {
	req, err := http.NewRequest(http.MethodPost, f.url, bytes.NewReader(msg))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("post audit event: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300 && created(resp.Header.Get("Location"), body):
		return nil
	case c >= 200 && c < 300:
		what := "a page"
		if mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) != "" && len(mt) <= 80 {
			what = "a " + strings.TrimSpace(mt) + " page"
		}
		return fmt.Errorf("post audit event: the repository answered %s with %s, neither a Location naming the AuditEvent nor a FHIR resource; a proxy, captive portal or web front end may stand in the way, or audit.url is not the FHIR base", resp.Status, what)
	case c == 409 || c == 412 || c == 413 || c == 422, c == 400 && resourceType(body) == "OperationOutcome":
		return &refusedError{Status: resp.Status}
	default:
		return fmt.Errorf("post audit event: the repository answered %s", resp.Status)
	}
}

// created reports whether a 2xx answer to the POST of an AuditEvent is a
// FHIR server's: a Location naming an AuditEvent (FHIR R4
// http.html#create: the server "SHALL also return a Location header"),
// or, from a server that leaves it out, no body or a FHIR resource (the
// AuditEvent stored, an OperationOutcome).
func created(loc string, body []byte) bool {
	if u, err := url.Parse(loc); loc != "" && err == nil {
		seg := strings.Split(strings.Trim(u.Path, "/"), "/")
		for i := range len(seg) - 1 {
			if seg[i] == "AuditEvent" && seg[i+1] != "" {
				return true
			}
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	rt := resourceType(body)
	return rt == "AuditEvent" || rt == "OperationOutcome"
}

// resourceType is the resourceType of a JSON body, "" when it is none.
func resourceType(body []byte) string {
	var r struct {
		ResourceType string `json:"resourceType"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	return r.ResourceType
}

func (f *fhirConn) Close() error { f.client.CloseIdleConnections(); return nil }
