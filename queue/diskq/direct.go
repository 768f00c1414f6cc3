package diskq

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Direct writes (Linux, ext4 and XFS): the newest segment also has a
// descriptor opened with O_DIRECT, and the writer appends its batches
// through it, inside the pre-zeroed region only (see prezero). The bytes
// then go from the batch buffer to the disk in the write call itself, and
// the commit's fdatasync has no dirty page cache to write back: only the
// disk's cache flush is left. On the reference machine (KVM, virtio disk,
// ext4) write + fdatasync of a 4-16 KB record took 7-9 % less this way
// (BenchmarkDatasync, buffered against direct), and a lone MLLP
// connection's ACK p50 10-25 µs less (BENCHMARKS.md, MLLP ingest,
// session 5).
//
// O_DIRECT wants the buffer, the offset and the length aligned to the
// disk's block: a batch is written from the start of the block holding
// the end of the log, so the writer keeps that block's bytes (tail) and
// writes them again in front of the new records, and pads the last block
// with zeros, which is what the pre-zeroed file holds there already. The
// committed bytes written again are the same bytes, so a torn write of
// such a block loses nothing that was acknowledged (the way PostgreSQL
// rewrites its partial WAL page).
//
// The fdatasync stays the commit point. ext4 and XFS flush the disk's
// write cache on fdatasync even when no page was dirty, which is what
// makes a direct write durable; file systems where that is not known
// (and those that refuse O_DIRECT: tmpfs, some network ones) keep the
// buffered writes, as do other systems and Options.BufferedWrites.
//
// Readers keep reading through the page cache: Linux drops the cached
// pages of a range written directly, so a read after the write sees it.

// directAlign is the alignment used for direct writes: the largest
// logical block size in common use (4 KiB disks), a multiple of the
// 512-byte one.
const directAlign = 4096

// directBufferKeep is the largest aligned batch buffer the writer keeps
// between batches.
const directBufferKeep = 1 << 20

// errDirect marks a direct write the kernel refused as such (EINVAL: an
// alignment the device does not take); the batch is written buffered
// then, and direct writes stop for the queue.
var errDirect = errors.New("direct write refused")

// directTail is what a segment's direct writer keeps between batches:
// the bytes of the block that holds the end of the log.
type directTail struct {
	off int64 // block-aligned offset of the kept bytes; -1 when none
	n   int   // bytes kept: the log ends at off+n
	b   [directAlign]byte
}

// appendDirect writes p at off (the end of the log) through seg's direct
// descriptor. It reports false, having written nothing, when seg has none
// or when the blocks p touches are not all pre-zeroed; the caller writes
// buffered then. buf is the writer's reusable aligned buffer.
func (s *segment) appendDirect(p []byte, off int64, buf *[]byte) (bool, error) {
	if s.dio == nil || len(p) == 0 {
		return false, nil
	}
	start := off &^ (directAlign - 1)
	end := (off + int64(len(p)) + directAlign - 1) &^ (directAlign - 1)
	if end > s.zeroEnd {
		return false, nil
	}
	t := &s.dio.tail
	n := int(end - start)
	if cap(*buf) < n {
		*buf = alignedBuffer(max(n, directBufferKeep/4))
	}
	b := (*buf)[:n]
	defer func() {
		if cap(*buf) > directBufferKeep {
			*buf = nil // a rare large batch: not kept
		}
	}()
	head := int(off - start)
	if head > 0 {
		if t.off == start && t.n == head {
			copy(b, t.b[:head])
		} else if _, err := s.f.ReadAt(b[:head], start); err != nil {
			// Only after a buffered write (relocation, recovery):
			// the page cache still holds those bytes.
			return true, fmt.Errorf("read back the tail block of %s: %w", filepath.Base(s.path), err)
		}
	}
	copy(b[head:], p)
	clear(b[head+len(p):])
	t.off = -1
	if err := s.dio.pwrite(b, start); err != nil {
		return true, err
	}
	last := (off + int64(len(p))) &^ (directAlign - 1)
	t.n = copy(t.b[:], b[last-start:off+int64(len(p))-start])
	t.off = last
	return true, nil
}
