// Package mllp implements the Minimal Lower Layer Protocol (MLLP release 1)
// that carries HL7 v2 messages over TCP, and a listener Source that answers
// each message with an HL7 ACK (when the sender asks for one; see below)
// only after the gateway has stored it durably.
//
// A frame is 0x0B, the message bytes, then 0x1C 0x0D (HL7 V3 Transport
// Specification, MLLP R2 §1.2.2.1). The message may only hold bytes above
// 0x1F and CR, which is what lets the reader resynchronise on junk.
//
// # Acknowledgements
//
// A message with MSH-15 and MSH-16 both empty gets an original-mode ACK
// (AA/AE/AR), always; an acknowledgement a sender sends (MSH-9 ACK) is
// no message to store, and gets none. A message that values either asks for enhanced mode:
// ferry answers with the accept acknowledgement CA/CE/CR ("committed to safe
// storage", sent only after the fsync, like AA) when MSH-15 calls for it by
// HL7 table 0155: AL always, NE never, ER only when the message was not
// accepted (CE/CR), SU only when it was (CA). An empty MSH-15 beside a
// valued MSH-16 counts as AL, and so does a value ferry does not recognise
// (an unwanted ACK is discarded; a missing one stalls a sender). When no
// acknowledgement is due, nothing is written for that message and the next
// frame is read; the message itself is stored (or quarantined), counted
// and logged exactly as if its ACK had been sent.
//
// By default ferry sends no application acknowledgements (MSH-16). It is a
// store-and-forward gateway: the application is the regional exchange,
// reached later and independently of the MLLP connection. A sender that
// requires an application acknowledgement (MSH-15 NE with MSH-16 AL, say)
// gets none and must be configured not to wait for it; such messages are
// counted in Stats.AppAcksRequested. Where a sender cannot be so
// configured, Config.AppAck makes the listener stand in for the
// application: the acknowledgement MSH-16 calls for (AA/AE/AR, its own
// MSH-15/16 NE) follows the accept acknowledgement, with the same
// durability rule (hl7v2.BuildAppAck).
//
// The MLLP release 2 commit acknowledgement (Config.CommitACK) is a
// transport-level acknowledgement and independent of all this: it is sent
// for every message when enabled, whatever MSH-15 says.
//
// # Timeouts
//
// Between frames a connection may stay idle for Config.IdleTimeout. Inside a
// frame Config.ReadTimeout is an inactivity limit: the sender is dropped
// when no byte arrives for that long, but a large frame that keeps arriving
// is read to its end, up to Config.FrameTimeout in all (default 10 minutes,
// enough for a 16 MiB frame at 256 kbit/s), which cuts a sender that
// trickles bytes just often enough to stay within ReadTimeout.
//
// # Access
//
// Config.Allow restricts the addresses a listener accepts connections from;
// Config.MaxConns and Config.MaxConnsPerIP bound the connections open at
// once, in all and per address. All three are checked once per connection,
// at accept, before anything is read from it.
//
// # Memory
//
// A frame that fits in a connection's 64 KiB read buffer is read without
// another allocation. A larger one grows a buffer of its own, up to
// Config.MaxFrameBytes, charged to the listener's Budget
// (Config.MaxBufferedBytes) until its ACK has been written; a frame that
// would take the budget past its limit is skipped to its end, answered AR
// and its connection closed. Memory for frames is therefore bounded by the
// connections' read buffers plus the budget, however many senders send
// large messages at once.
package mllp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// Framing bytes of MLLP.
const (
	StartBlock     = 0x0B // <SB>, vertical tab
	EndBlock       = 0x1C // <EB>, file separator
	CarriageReturn = 0x0D

	// CommitACK and CommitNAK are the one-byte payloads of MLLP release 2
	// transport acknowledgements (<SB>0x06<EB><CR> and <SB>0x15<EB><CR>).
	CommitACK = 0x06
	CommitNAK = 0x15
)

// DefaultMaxFrameBytes bounds a frame when no limit is configured. Real
// messages with embedded PDFs reach a few MiB; 16 MiB leaves headroom while
// keeping a misbehaving peer from exhausting memory.
const DefaultMaxFrameBytes = 16 << 20

// ErrFrameTooLarge is matched (errors.Is) by the error ReadFrame returns for
// a frame longer than the reader's limit.
var ErrFrameTooLarge = errors.New("mllp frame too large")

// FrameTooLargeError reports an oversized frame. The reader has already
// skipped the rest of the frame (up to its end block), so the stream is in
// sync again; Head keeps the first bytes so that a best-effort ACK can still
// name the message's MSH-10.
type FrameTooLargeError struct {
	Limit int    // the configured maximum in bytes
	Size  int64  // bytes the frame held (counted while skipping)
	Head  []byte // the first bytes of the frame (up to headBytes)
}

func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("mllp frame of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}

// Is makes errors.Is(err, ErrFrameTooLarge) true.
func (e *FrameTooLargeError) Is(target error) bool { return target == ErrFrameTooLarge }

// FrameBusyError reports a frame refused because the listener's memory
// for large frames (Config.MaxBufferedBytes) was held by other
// connections. Like an oversized frame, the rest of it has been skipped and
// Head keeps its first bytes for the AR.
type FrameBusyError struct {
	Budget int64  // the listener's MaxBufferedBytes
	Size   int64  // bytes the frame held (counted while skipping)
	Head   []byte // the first bytes of the frame (up to headBytes)
}

func (e *FrameBusyError) Error() string {
	return fmt.Sprintf("mllp frame of %d bytes refused: the listener's %d bytes for large frames are in use", e.Size, e.Budget)
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *FrameBusyError) Is(target error) bool { return target == ErrBusy }

// ErrBusy is matched (errors.Is) by the error ReadFrame returns for a frame
// that did not fit in the listener's memory budget.
var ErrBusy = errors.New("mllp listener busy")

// Budget bounds the memory that the Readers sharing it may hold in frame
// buffers, beyond their bufio buffer: a frame that fits in that buffer is
// read without one, so only large messages (embedded PDFs) draw on it. One
// connection's frame is bounded by the frame limit, but 256 connections each
// sending a 16 MiB message would hold 4 GiB; the budget keeps the sum under
// a limit the machine can afford. A Reader holds its charge from the frame's
// growth beyond the bufio buffer until it waits for the next frame (or
// Release): for a listener, through the message's conversion and ACK.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Limit is the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used is how many bytes frame buffers hold now.
func (b *Budget) Used() int64 { return b.used.Load() }

// take charges n bytes if they fit.
func (b *Budget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *Budget) give(n int64) { b.used.Add(-n) }

// headBytes is how much of an oversized frame is kept for the ACK; an MSH
// segment is far shorter than this.
const headBytes = 4096

// Reader reads MLLP frames. It is tolerant in what it accepts, because
// senders in the field are: bytes between frames (stray CR/LF from senders
// that end frames with CR LF, or garbage) are skipped; a start block inside a
// frame starts the frame afresh (the partial one was never acknowledged, so
// the sender will resend it); the CR after the end block is optional.
type Reader struct {
	br      *bufio.Reader
	max     int
	buf     []byte
	junk    int64
	restart int64
	budget  *Budget // nil: unbounded
	charged int64   // bytes of buf's capacity charged to budget
}

// NewReader returns a Reader over r. maxFrameBytes <= 0 means
// DefaultMaxFrameBytes. If r is a *bufio.Reader it is used as is; its buffer
// size decides which frames are returned without a copy.
func NewReader(r io.Reader, maxFrameBytes int) *Reader {
	if maxFrameBytes <= 0 {
		maxFrameBytes = DefaultMaxFrameBytes
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &Reader{br: br, max: maxFrameBytes}
}

// SetBudget makes the Reader charge its frame buffer to b (see Budget);
// nil removes the bound. Call it before the first frame.
func (r *Reader) SetBudget(b *Budget) { r.budget = b }

// Release drops the frame buffer and returns its charge to the budget. The
// last frame returned is invalid afterwards. A listener calls it when the
// connection ends.
func (r *Reader) Release() {
	r.buf = nil
	if r.charged > 0 {
		r.budget.give(r.charged)
		r.charged = 0
	}
}

// Skipped reports how many junk bytes (other than CR, LF, space and tab)
// were discarded between frames, and how many frames were abandoned because
// a new start block appeared inside them. Both are zero for a clean peer.
func (r *Reader) Skipped() (junk, restarted int64) { return r.junk, r.restart }

// WaitFrame discards inter-frame bytes until a start block is the next byte,
// without consuming it. A listener calls it under its idle deadline and then
// reads the frame under a shorter read deadline. It returns io.EOF when the
// stream ends between frames.
func (r *Reader) WaitFrame() error {
	if cap(r.buf) > retainBytes || r.charged > 0 {
		// A large frame's buffer is not kept for the next frame: a
		// connection that waits would otherwise hold it while idle,
		// and under a budget, hold what other connections may need.
		r.Release()
	}
	for {
		b, err := r.br.ReadByte()
		if err != nil {
			return err
		}
		if b == StartBlock {
			return r.br.UnreadByte()
		}
		r.countJunk(b)
	}
}

func (r *Reader) countJunk(b byte) {
	switch b {
	case '\r', '\n', ' ', '\t', EndBlock:
	default:
		r.junk++
	}
}

// ReadFrame returns the payload of the next frame, without the framing
// bytes. The slice is only valid until the next call. At the end of the
// stream between frames it returns io.EOF; inside a frame,
// io.ErrUnexpectedEOF. An oversized frame gives a *FrameTooLargeError after
// the rest of it has been skipped.
func (r *Reader) ReadFrame() ([]byte, error) {
	for {
		b, err := r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if b == StartBlock {
			break
		}
		r.countJunk(b)
	}
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice(EndBlock)
		if i := bytes.LastIndexByte(chunk, StartBlock); i >= 0 {
			r.restart++
			r.buf = r.buf[:0]
			chunk = chunk[i+1:]
		}
		switch err {
		case nil:
			data := chunk[:len(chunk)-1]
			r.skipCR()
			if len(r.buf) == 0 {
				// Fast path: the whole frame sits in the bufio buffer.
				if len(data) > r.max {
					return nil, r.tooLarge(data, int64(len(data)), false)
				}
				return data, nil
			}
			if len(r.buf)+len(data) > r.max {
				return nil, r.tooLarge(data, int64(len(r.buf)+len(data)), false)
			}
			if !r.add(data) {
				return nil, r.busy(data, int64(len(r.buf)+len(data)), false)
			}
			return r.buf, nil
		case bufio.ErrBufferFull:
			if len(r.buf)+len(chunk) > r.max {
				return nil, r.tooLarge(chunk, int64(len(r.buf)+len(chunk)), true)
			}
			if !r.add(chunk) {
				return nil, r.busy(chunk, int64(len(r.buf)+len(chunk)), true)
			}
		case io.EOF:
			return nil, fmt.Errorf("read mllp frame: %w", io.ErrUnexpectedEOF)
		default:
			return nil, fmt.Errorf("read mllp frame: %w", err)
		}
	}
}

// Own returns frame, the last one ReadFrame returned, as a slice the caller
// may keep. A frame in the frame buffer is handed over as it is, and the
// Reader lets go of the buffer, whose charge stays until the next
// WaitFrame or Release: a copy would double the memory of a large frame
// beyond what the budget counts. A frame in the bufio buffer is copied.
func (r *Reader) Own(frame []byte) []byte {
	if len(frame) > 0 && len(r.buf) > 0 && &frame[0] == &r.buf[0] {
		r.buf = nil
		return frame
	}
	return bytes.Clone(frame)
}

// retainBytes is the largest frame buffer a Reader keeps between frames.
const retainBytes = 1 << 20

// add appends b to the frame buffer. It grows the buffer by doubling, as
// append does, but never beyond the frame limit (the callers have checked
// that the frame fits): append alone would reserve up to twice the limit
// for a frame just under it, 32 MiB per connection at the default 16 MiB.
// Growth is charged to the budget first; add reports false, appending
// nothing, when the budget cannot cover it.
func (r *Reader) add(b []byte) bool {
	need := len(r.buf) + len(b)
	if need > cap(r.buf) {
		n := min(max(2*cap(r.buf), need, 64<<10), max(r.max, need))
		if r.budget != nil {
			grow := int64(n) - r.charged
			if !r.budget.take(grow) {
				return false
			}
			r.charged += grow
		}
		nb := make([]byte, len(r.buf), n)
		copy(nb, r.buf)
		r.buf = nb
	}
	r.buf = append(r.buf, b...)
	return true
}

// skipCR consumes the CR that should follow an end block, if it is already
// buffered. It never blocks: a sender that wrote only <EB> must still get
// its ACK, and a late CR is skipped as inter-frame junk anyway.
func (r *Reader) skipCR() {
	if r.br.Buffered() > 0 {
		if b, _ := r.br.Peek(1); len(b) == 1 && b[0] == CarriageReturn {
			_, _ = r.br.Discard(1)
		}
	}
}

// tooLarge builds the error for an oversized frame, skipping the rest of
// it (see skipRest).
func (r *Reader) tooLarge(last []byte, size int64, more bool) error {
	e := &FrameTooLargeError{Limit: r.max, Head: r.head(last)}
	r.buf = r.buf[:0]
	return r.skipRest(e, &e.Size, size, more, "oversized")
}

// busy builds the error for a frame the budget could not hold, skipping
// the rest of it (see skipRest). The buffer goes back to the budget at
// once: the connection is about to be closed, and others may need it.
func (r *Reader) busy(last []byte, size int64, more bool) error {
	e := &FrameBusyError{Budget: r.budget.Limit(), Head: r.head(last)}
	r.Release()
	return r.skipRest(e, &e.Size, size, more, "refused")
}

// head copies the first headBytes of the frame being read: the buffer,
// then last.
func (r *Reader) head(last []byte) []byte {
	head := make([]byte, 0, headBytes)
	head = append(head, r.buf[:min(len(r.buf), headBytes)]...)
	if n := headBytes - len(head); n > 0 {
		head = append(head, last[:min(len(last), n)]...)
	}
	return head
}

// skipRest counts the frame's bytes into *total (size so far) and, when more
// is to come (the end block has not been seen), discards input up to the
// end block so that the stream stays in sync. It returns e, or e wrapped
// with the read error that cut the frame short.
func (r *Reader) skipRest(e error, total *int64, size int64, more bool, what string) error {
	*total = size
	for more {
		chunk, err := r.br.ReadSlice(EndBlock)
		*total += int64(len(chunk))
		switch err {
		case nil:
			*total--
			r.skipCR()
			more = false
		case bufio.ErrBufferFull:
		case io.EOF:
			return fmt.Errorf("skip %s mllp frame: %w (%w)", what, io.ErrUnexpectedEOF, e)
		default:
			return fmt.Errorf("skip %s mllp frame: %w (%w)", what, err, e)
		}
	}
	return e
}

// WriteFrame writes data as one MLLP frame with a single Write call, so that
// a frame is never interleaved with another writer's bytes on a shared
// connection and usually leaves in one TCP segment.
func WriteFrame(w io.Writer, data []byte) error {
	buf := make([]byte, 0, len(data)+3)
	buf = append(buf, StartBlock)
	buf = append(buf, data...)
	buf = append(buf, EndBlock, CarriageReturn)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write mllp frame: %w", err)
	}
	return nil
}

// AppendFrame appends data framed as MLLP to dst and returns the result; it
// lets hot paths reuse one buffer.
func AppendFrame(dst, data []byte) []byte {
	dst = append(dst, StartBlock)
	dst = append(dst, data...)
	return append(dst, EndBlock, CarriageReturn)
}

// IsCommitACK reports whether a frame payload is an MLLP release 2 commit
// acknowledgement; IsCommitNAK whether it is a negative one.
func IsCommitACK(frame []byte) bool { return len(frame) == 1 && frame[0] == CommitACK }

// IsCommitNAK reports whether a frame payload is an MLLP release 2 negative
// commit acknowledgement.
func IsCommitNAK(frame []byte) bool { return len(frame) == 1 && frame[0] == CommitNAK }
