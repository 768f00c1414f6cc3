//go:build !linux || race

package mllp

import "net"

// rawConn returns c: raw socket calls are made on Linux only (see
// rawtcp_linux.go), and not under the race detector, whose view of what
// one goroutine's socket write hands to another's read comes from the
// ordinary calls.
func rawConn(c net.Conn) net.Conn { return c }
