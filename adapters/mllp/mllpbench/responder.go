package mllpbench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/queue/durable"
)

// Responder is the smallest MLLP receiver that still answers correctly: it
// reads each frame, answers AA with MSA-2 echoing MSH-10 and the sender and
// receiver swapped, and does nothing else: no parsing beyond MSH, no
// conversion, no queue. Run against it, the load tool measures this
// machine's floor, the cost of the MLLP round trip itself, so that a
// receiver's figures can be read against what the machine allows.
//
// With SyncDir set, each message is first written to a preallocated,
// pre-zeroed log file in that directory and flushed with fdatasync, one
// flush per message and nothing shared between messages: the floor for any
// receiver that acknowledges only what is on disk. Connections take turns
// on the one file.
type Responder struct {
	// SyncDir, when set, holds the log file written and flushed before
	// each ACK.
	SyncDir string
	// LogBytes is the log file's size (default 64 MiB); writes wrap around.
	LogBytes int64

	answered atomic.Int64

	mu  sync.Mutex // serialises log writes
	log *os.File
	off int64
}

// Answered returns how many messages have been acknowledged.
func (r *Responder) Answered() int64 { return r.answered.Load() }

// Serve accepts connections on ln until ctx ends, then closes ln and the
// log file. It returns nil when stopped by ctx.
func (r *Responder) Serve(ctx context.Context, ln net.Listener) error {
	if r.SyncDir != "" {
		if err := r.openLog(); err != nil {
			ln.Close()
			return err
		}
		defer r.log.Close()
	}
	var wg sync.WaitGroup
	conns := make(map[net.Conn]struct{})
	var connsMu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		connsMu.Lock()
		for c := range conns {
			c.Close()
		}
		connsMu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("responder: accept: %w", err)
		}
		connsMu.Lock()
		conns[c] = struct{}{}
		connsMu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serveConn(c)
			connsMu.Lock()
			delete(conns, c)
			connsMu.Unlock()
			c.Close()
		}()
	}
}

func (r *Responder) serveConn(c net.Conn) {
	rd := mllp.NewReader(bufio.NewReaderSize(c, 64<<10), mllp.DefaultMaxFrameBytes)
	var ack []byte
	for {
		msg, err := rd.ReadFrame()
		if err != nil {
			return
		}
		if r.log != nil {
			if err := r.append(msg); err != nil {
				// Without the write there is no promise to make: close
				// the connection instead of acknowledging.
				fmt.Fprintf(os.Stderr, "responder: %v\n", err)
				return
			}
		}
		ack = mllp.AppendFrame(ack[:0], appendAck(nil, msg))
		// Counted before the write, so that a sender that has read its
		// ACK always finds it counted.
		r.answered.Add(1)
		if _, err := c.Write(ack); err != nil {
			r.answered.Add(-1)
			return
		}
	}
}

// openLog creates the log file and writes it full of zeros once, flushed,
// so that later writes overwrite allocated blocks and a flush carries only
// the data (no block allocation, no size change).
func (r *Responder) openLog() error {
	if r.LogBytes <= 0 {
		r.LogBytes = 64 << 20
	}
	f, err := os.CreateTemp(r.SyncDir, "responder-*.log")
	if err != nil {
		return fmt.Errorf("responder: %w", err)
	}
	// The file is scratch space: unlinked at once, gone when closed.
	os.Remove(f.Name())
	zero := make([]byte, 1<<20)
	for off := int64(0); off < r.LogBytes; off += int64(len(zero)) {
		if _, err := f.WriteAt(zero, off); err != nil {
			f.Close()
			return fmt.Errorf("responder: pre-zero %s: %w", filepath.Base(f.Name()), err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("responder: %w", err)
	}
	r.log = f
	return nil
}

// append writes msg at the log's next offset and flushes it.
func (r *Responder) append(msg []byte) error {
	if int64(len(msg)) > r.LogBytes {
		return fmt.Errorf("message of %d bytes is larger than the %d-byte log", len(msg), r.LogBytes)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off+int64(len(msg)) > r.LogBytes {
		r.off = 0
	}
	if _, err := r.log.WriteAt(msg, r.off); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	r.off += int64(len(msg))
	if err := durable.Datasync(r.log); err != nil {
		return fmt.Errorf("flush log: %w", err)
	}
	return nil
}

// appendAck appends an original-mode AA for msg: MSH with the encoding
// characters, sending and receiving application/facility swapped and the
// version of the message, then MSA|AA|<MSH-10>. A frame that is not an
// HL7 v2 message gets AR.
func appendAck(dst, msg []byte) []byte {
	seg := msg
	if i := bytes.IndexAny(seg, "\r\n"); i >= 0 {
		seg = seg[:i]
	}
	if len(seg) < 8 || !bytes.HasPrefix(seg, []byte("MSH")) {
		return append(dst, "MSH|^~\\&|||||||ACK||P|2.5\rMSA|AR|\r"...)
	}
	fs := seg[3]
	var f [13][]byte // f[n] is MSH-n, up to MSH-12
	n := 1
	for rest := seg[4:]; n < len(f)-1 && len(rest) > 0; {
		n++
		i := bytes.IndexByte(rest, fs)
		if i < 0 {
			f[n] = rest
			break
		}
		f[n], rest = rest[:i], rest[i+1:]
	}
	field := func(b []byte) { dst = append(append(dst, fs), b...) }
	dst = append(dst, "MSH"...)
	field(f[2])
	field(f[5]) // sending application: the message's receiver
	field(f[6])
	field(f[3])
	field(f[4])
	field(time.Now().UTC().AppendFormat(nil, "20060102150405"))
	field(nil)
	field([]byte("ACK"))
	field(f[10])
	field([]byte("P"))
	field(f[12]) // the message's version
	dst = append(dst, '\r')
	dst = append(dst, "MSA"...)
	dst = append(dst, fs)
	dst = append(dst, "AA"...)
	dst = append(dst, fs)
	dst = append(dst, f[10]...)
	return append(dst, '\r')
}
