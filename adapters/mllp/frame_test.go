package mllp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func frames(t *testing.T, r *Reader) []string {
	t.Helper()
	var out []string
	for {
		f, err := r.ReadFrame()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("ReadFrame: %v", err)
		}
		out = append(out, string(f))
	}
}

func TestReaderFrames(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
		junk int64
	}{
		{"single", "\x0bMSH|a\r\x1c\r", []string{"MSH|a\r"}, 0},
		{"two", "\x0bA\x1c\r\x0bB\x1c\r", []string{"A", "B"}, 0},
		{"crlf between", "\x0bA\x1c\r\n\r\n\x0bB\x1c\r\n", []string{"A", "B"}, 0},
		{"no trailing cr", "\x0bA\x1c\x0bB\x1c", []string{"A", "B"}, 0},
		{"garbage before", "hello\x0bA\x1c\r", []string{"A"}, 5},
		{"restart inside frame", "\x0bpartial\x0bA\x1c\r", []string{"A"}, 0},
		{"empty frame", "\x0b\x1c\r", []string{""}, 0},
		{"commit ack", "\x0b\x06\x1c\r", []string{"\x06"}, 0},
		{"only junk", "\r\n  ", nil, 0},
		{"empty", "", nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, small := range []bool{false, true} {
				var src io.Reader = strings.NewReader(c.in)
				if small {
					src = iotest.OneByteReader(src)
				}
				r := NewReader(src, 0)
				got := frames(t, r)
				if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
					t.Fatalf("frames = %q, want %q", got, c.want)
				}
				if junk, _ := r.Skipped(); junk != c.junk {
					t.Errorf("junk = %d, want %d", junk, c.junk)
				}
			}
		})
	}
}

func TestReaderLargeFrameAcrossBuffer(t *testing.T) {
	big := bytes.Repeat([]byte("OBX|1|ED|PDF^Base64||QUJD\r"), 20000) // ~520 KB, bigger than the buffer
	var in bytes.Buffer
	_ = WriteFrame(&in, big)
	_ = WriteFrame(&in, []byte("small"))
	r := NewReader(bufio.NewReaderSize(&in, 4096), 0)
	f, err := r.ReadFrame()
	if err != nil || !bytes.Equal(f, big) {
		t.Fatalf("big frame: err=%v len=%d want %d", err, len(f), len(big))
	}
	f, err = r.ReadFrame()
	if err != nil || string(f) != "small" {
		t.Fatalf("next frame = %q, %v", f, err)
	}
}

func TestReaderTooLarge(t *testing.T) {
	for _, size := range []int{100, 10000} { // within and beyond one bufio buffer
		var in bytes.Buffer
		hdr := "MSH|^~\\&|A|B|C|D|||ADT^A01|CTRL1|P|2.5\r"
		_ = WriteFrame(&in, append([]byte(hdr), bytes.Repeat([]byte{'x'}, size)...))
		_ = WriteFrame(&in, []byte("after"))
		r := NewReader(bufio.NewReaderSize(&in, 1024), 64)
		_, err := r.ReadFrame()
		var tl *FrameTooLargeError
		if !errors.As(err, &tl) || !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("size %d: err = %v, want FrameTooLargeError", size, err)
		}
		if tl.Limit != 64 || tl.Size != int64(size+len(hdr)) {
			t.Errorf("size %d: limit=%d size=%d", size, tl.Limit, tl.Size)
		}
		if !bytes.HasPrefix(tl.Head, []byte("MSH|^~\\&|A|B|C|D|||ADT^A01|CTRL1")) {
			t.Errorf("head = %q", tl.Head)
		}
		f, err := r.ReadFrame()
		if err != nil || string(f) != "after" {
			t.Fatalf("size %d: frame after oversized = %q, %v (stream must stay in sync)", size, f, err)
		}
	}
}

func TestReaderTruncated(t *testing.T) {
	r := NewReader(strings.NewReader("\x0bMSH|partial"), 0)
	if _, err := r.ReadFrame(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
}

func TestWaitFrame(t *testing.T) {
	r := NewReader(strings.NewReader("\r\n\x0bA\x1c\r\r\n"), 0)
	if err := r.WaitFrame(); err != nil {
		t.Fatal(err)
	}
	if f, err := r.ReadFrame(); err != nil || string(f) != "A" {
		t.Fatalf("frame = %q, %v", f, err)
	}
	if err := r.WaitFrame(); err != io.EOF {
		t.Fatalf("WaitFrame at end = %v, want io.EOF", err)
	}
}

func TestAppendFrameAndCommit(t *testing.T) {
	got := AppendFrame(nil, []byte("x"))
	if string(got) != "\x0bx\x1c\r" {
		t.Fatalf("AppendFrame = %q", got)
	}
	if !IsCommitACK([]byte{CommitACK}) || IsCommitACK([]byte("A")) || !IsCommitNAK([]byte{CommitNAK}) {
		t.Fatal("commit ack detection")
	}
}

// FuzzReader checks that the reader never panics, never returns a frame
// holding framing bytes or exceeding the limit, and that whatever WriteFrame
// wrote (of legal payloads) reads back unchanged.
func FuzzReader(f *testing.F) {
	f.Add([]byte("\x0bMSH|^~\\&|A\r\x1c\r"), []byte("PID|1"))
	f.Add([]byte("\x0b\x0b\x1c\x1c\r\r\n"), []byte(""))
	f.Add([]byte("junk\x0babc"), []byte("x\ry"))
	f.Fuzz(func(t *testing.T, raw, payload []byte) {
		r := NewReader(bufio.NewReaderSize(bytes.NewReader(raw), 16), 32)
		for i := 0; i < len(raw)+1; i++ {
			fr, err := r.ReadFrame()
			if err != nil {
				break
			}
			if len(fr) > 32 || bytes.IndexByte(fr, StartBlock) >= 0 || bytes.IndexByte(fr, EndBlock) >= 0 {
				t.Fatalf("bad frame %q", fr)
			}
		}
		clean := bytes.Map(func(r rune) rune {
			if r == StartBlock || r == EndBlock {
				return -1
			}
			return r
		}, payload)
		clean = bytes.ToValidUTF8(clean, nil)
		var buf bytes.Buffer
		_ = WriteFrame(&buf, clean)
		_ = WriteFrame(&buf, clean)
		r = NewReader(bufio.NewReaderSize(&buf, 16), 0)
		for range 2 {
			fr, err := r.ReadFrame()
			if err != nil || !bytes.Equal(fr, clean) {
				t.Fatalf("round trip: %q, %v; want %q", fr, err, clean)
			}
		}
	})
}

func BenchmarkReader(b *testing.B) {
	msg := []byte(strings.Repeat("PID|1||123^^^HOSP^MR||DOE^JANE||19800101|F\r", 20))
	var one bytes.Buffer
	_ = WriteFrame(&one, msg)
	stream := bytes.Repeat(one.Bytes(), 1000)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(stream), 0)
		for {
			if _, err := r.ReadFrame(); err != nil {
				break
			}
		}
	}
}
