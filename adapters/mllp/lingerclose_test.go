//go:build linux

package mllp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestRefusalReachesPipeliningSender: a sender that writes its next frames
// before reading the answers (pipelining, or a sender that reads its ACKs
// when it has written everything) must still get every ACK and the AR of
// a refused frame after which the listener closes the connection. Closed
// with the next frame unread, the socket sends RST instead of FIN and
// throws away what it had not yet sent: the ACKs and the AR still queued
// for a sender slower to read (here, a small receive buffer), which then
// sees "connection reset" instead of why its message was refused (and
// resends the messages already stored). A Windows sender also discards
// what it had received but not yet read when the RST comes.
func TestRefusalReachesPipeliningSender(t *testing.T) {
	s := start(t, Config{MaxFrameBytes: 4 << 10, ReadTimeout: 5 * time.Second}, &recorder{})
	const accepted = 40 // ~8 KB of ACKs: more than the sender's receive buffer
	var stream []byte
	for i := range accepted {
		stream = AppendFrame(stream, msg("OK"+strconv.Itoa(i)))
	}
	// Over max_frame_bytes: AR, then the listener closes; the next frame
	// is still partly unread in the listener's socket when it does.
	stream = AppendFrame(stream, append(msg("BIG1"), bytes.Repeat([]byte("OBX|1|TX|||x\r"), 1000)...))
	stream = AppendFrame(stream, append(msg("NEXT"), bytes.Repeat([]byte("OBX|1|TX|||y\r"), 20000)...))

	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
		return errors.Join(err, serr)
	}}
	nc, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	go func() { _, _ = nc.Write(stream) }() // fails once the listener closes
	// The sender reads only once the listener is done with the connection.
	waitStats(t, s, func(st Stats) bool { return st.Oversized == 1 && st.Open == 0 })
	time.Sleep(50 * time.Millisecond)

	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := NewReader(nc, 1<<20)
	var aa int
	var last []byte
	for {
		f, err := r.ReadFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Errorf("read after %d ACKs: %v", aa, err)
			}
			break
		}
		if bytes.Contains(f, []byte("MSA|AA|")) {
			aa++
		}
		last = append(last[:0], f...)
	}
	if aa != accepted || !bytes.Contains(last, []byte("MSA|AR|BIG1")) {
		t.Errorf("sender read %d of %d AAs, last answer %q; want all and then AR for BIG1", aa, accepted, last)
	}
}

// TestRefusalOverTLSEndsCleanly: over TLS the AR of a refused frame is
// followed by close_notify, so the pipelining sender reads the AR and then
// a clean end of stream, not a reset.
func TestRefusalOverTLSEndsCleanly(t *testing.T) {
	srv, cli := testTLS(t)
	s := start(t, Config{TLS: srv, MaxFrameBytes: 4 << 10, ReadTimeout: 5 * time.Second}, &recorder{})
	var stream []byte
	stream = AppendFrame(stream, append(msg("BIG1"), bytes.Repeat([]byte("OBX|1|TX|||x\r"), 1000)...))
	stream = AppendFrame(stream, append(msg("NEXT"), bytes.Repeat([]byte("OBX|1|TX|||y\r"), 20000)...))
	c := dialAs(t, s, cli)
	defer c.Close()
	go func() { _, _ = c.Write(stream) }()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if code, id := msa(c.ack(t)); code != "AR" || id != "BIG1" {
		t.Fatalf("answer %s %s, want AR BIG1", code, id)
	}
	if _, err := c.r.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Errorf("after the AR: %v, want the end of the stream", err)
	}
}
