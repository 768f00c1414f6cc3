//go:build unix

package hl7v2

import (
	"runtime/debug"
	"syscall"
	"testing"
)

// TestIndexEOLReadsOnlyItsLine: finding the end of a line must not read
// the input beyond it. SplitBatch and CheckOneMessage look for each
// line's end with indexEOL, which searched the whole rest of the input
// for a CR before looking for an LF, so a batch file (or MLLP frame)
// with LF line ends was read to its end once per line: quadratic time, a
// 2.8 MB LF file took seconds to split and a 16 MiB frame minutes, while
// its sender waited for the ACK. The input here ends its first line
// early and is followed by pages that cannot be read; a search that
// reaches them faults.
func TestIndexEOLReadsOnlyItsLine(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	for i := range page {
		mem[i] = 'x'
	}
	for _, line := range []string{"PID|1||1||DOE^JANE\n", "PID|1||1||DOE^JANE\r\n", "PID|1||1||DOE^JANE\r"} {
		copy(mem, line)
		want := len(line) - 1
		if line[len(line)-2] == '\r' {
			want--
		}
		func() {
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%q: indexEOL read beyond the line's end, into the rest of the input: %v", line, r)
				}
			}()
			if got := indexEOL(mem); got != want {
				t.Errorf("%q: indexEOL = %d, want %d", line, got, want)
			}
		}()
	}
}
