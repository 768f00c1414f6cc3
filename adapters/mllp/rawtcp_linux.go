//go:build linux && !race

package mllp

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawTCP is an accepted TCP connection whose reads and writes are raw
// system calls on its non-blocking socket, waiting for readiness through
// Go's network poller as net.Conn does.
//
// Calls on a non-blocking socket never block, which is what Go keeps raw
// calls for. An ordinary call first tells the scheduler, and when every P
// was idle just before (a lone MLLP connection between two messages), it
// also wakes the runtime's monitor thread, which then polls every 20 µs
// until the process is idle again: with the queue's disk calls raw too
// (queue/diskq/hold.go), a lone connection's read and ACK write were what
// still woke it, at every message, and the monitor's sleeps took 9-17 %
// of the gateway's CPU (perf record of a held gateway, BENCHMARKS.md,
// session 28). Made raw, nothing in a message's path wakes it.
type rawTCP struct {
	*net.TCPConn
	rc syscall.RawConn
}

// rawConn wraps c when it is a TCP connection; otherwise it returns c.
func rawConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &rawTCP{TCPConn: tc, rc: rc}
}

func (c *rawTCP) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

func (c *rawTCP) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			}
			n, errno = int(r), e
			return true
		}
	})
	if err != nil {
		return 0, c.opErr("read", err)
	}
	if errno != 0 {
		return 0, c.opErr("read", os.NewSyscallError("read", errno))
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (c *rawTCP) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		var errno syscall.Errno
		err := c.rc.Write(func(fd uintptr) bool {
			for {
				r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
				switch e {
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					return false
				case 0:
					n += int(r)
				}
				errno = e
				return true
			}
		})
		if err != nil {
			return n, c.opErr("write", err)
		}
		if errno != 0 {
			return n, c.opErr("write", os.NewSyscallError("write", errno))
		}
	}
	return n, nil
}
