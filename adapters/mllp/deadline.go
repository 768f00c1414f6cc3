package mllp

import (
	"net"
	"time"
)

// watchConn is an accepted TCP connection whose read deadline can be an
// inactivity deadline: while a frame is being read, the connection fails
// only when no byte has arrived for the timeout, however long the whole
// frame takes. A 5 MB ORU with an embedded PDF needs 40 s over a 1 Mbit/s
// clinic VPN; a deadline on the whole frame would cut it on every attempt,
// the sender would never get its ACK and its in-order feed would stall.
// fhirhttp's watchdog bounds uploads to the exchange the same way, by
// progress rather than total time.
//
// It costs nothing per read beyond reading the clock: the kernel deadline
// is set once when the frame starts and moved only when it expires. On
// expiry, if bytes arrived meanwhile, the deadline becomes the last byte's
// time plus the timeout and the read is retried; otherwise the timeout is
// returned. A peer that falls silent is therefore dropped read_timeout after
// its last byte, no sooner and (up to scheduling) no later, at the price of
// one deadline reset per read_timeout of a slow frame instead of one per
// read.
//
// It sits below TLS, so the TLS layer never sees a timeout that was only
// extended, and progress counts ciphertext bytes as they arrive rather than
// whole records. Reads, and the deadline methods below, are called from the
// connection's own goroutine only.
type watchConn struct {
	net.Conn
	window time.Duration // inactivity timeout; 0: a plain deadline
	last   time.Time     // when the window was last started or a byte arrived
}

// inactivity makes reads fail once no byte has arrived for d, starting now.
func (c *watchConn) inactivity(d time.Duration) error {
	c.window = d
	c.last = time.Now()
	return c.Conn.SetReadDeadline(c.last.Add(d))
}

// until makes reads fail at t, however many bytes arrive before it: the
// idle deadline between frames, which a trickle of junk must not extend.
func (c *watchConn) until(t time.Time) error {
	c.window = 0
	return c.Conn.SetReadDeadline(t)
}

// Read reads from the connection, moving an inactivity deadline forward
// when it expires after progress (see watchConn).
func (c *watchConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if c.window == 0 {
			return n, err
		}
		if n > 0 {
			c.last = time.Now()
		}
		if err == nil || !isTimeout(err) {
			return n, err
		}
		next := c.last.Add(c.window)
		if time.Until(next) <= 0 {
			return n, err // silent for the whole window
		}
		if serr := c.Conn.SetReadDeadline(next); serr != nil {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// SetReadDeadline sets a plain deadline (as net.Conn documents), ending
// any inactivity window; crypto/tls calls it for the handshake.
func (c *watchConn) SetReadDeadline(t time.Time) error {
	c.window = 0
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets plain read and write deadlines, ending any inactivity
// window.
func (c *watchConn) SetDeadline(t time.Time) error {
	c.window = 0
	return c.Conn.SetDeadline(t)
}
