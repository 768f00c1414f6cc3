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
//
// Progress alone would let a sender that trickles one byte just within the
// timeout keep its connection forever, so the window also has an absolute
// limit (frame_timeout): the deadline never moves past it.
type watchConn struct {
	net.Conn
	window time.Duration // inactivity timeout; 0: a plain deadline
	last   time.Time     // when the window was last started or a byte arrived
	limit  time.Time     // the deadline never moves past this; zero: no limit
}

// inactivity makes reads fail once no byte has arrived for d, starting now,
// and in any case once total has passed (total <= 0: no such limit).
func (c *watchConn) inactivity(d, total time.Duration) error {
	c.window = d
	c.last = time.Now()
	c.limit = time.Time{}
	if total > 0 {
		c.limit = c.last.Add(total)
	}
	return c.Conn.SetReadDeadline(c.next())
}

// next is the deadline the window allows: the last byte's time plus the
// timeout, but not past the limit.
func (c *watchConn) next() time.Time {
	n := c.last.Add(c.window)
	if !c.limit.IsZero() && n.After(c.limit) {
		return c.limit
	}
	return n
}

// pastLimit reports whether the window's absolute limit has passed: a
// timeout then means the frame took too long, not that the peer fell
// silent.
func (c *watchConn) pastLimit() bool {
	return !c.limit.IsZero() && !time.Now().Before(c.limit)
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
		next := c.next()
		if time.Until(next) <= 0 {
			return n, err // silent for the whole window, or past the limit
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
