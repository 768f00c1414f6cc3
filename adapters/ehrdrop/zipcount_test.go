package ehrdrop

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// centralOnly is an archive of n central directory records (one-letter
// names, no data) and its end record, whose count, as a writer of more
// than 65,535 entries without ZIP64 leaves it, is n modulo 65,536.
func centralOnly(n int) []byte {
	var b bytes.Buffer
	h := make([]byte, 46)
	binary.LittleEndian.PutUint32(h, 0x02014b50)
	binary.LittleEndian.PutUint16(h[28:], 1)
	for range n {
		b.Write(h)
		b.WriteByte('a')
	}
	end := make([]byte, 22)
	binary.LittleEndian.PutUint32(end, 0x06054b50)
	binary.LittleEndian.PutUint16(end[8:], uint16(n))
	binary.LittleEndian.PutUint16(end[10:], uint16(n))
	binary.LittleEndian.PutUint32(end[12:], uint32(b.Len()))
	return append(b.Bytes(), end...)
}

// An archive whose central directory lists a million entries is refused
// by the entry limit before archive/zip holds each of them in memory
// (some 260 bytes apiece: 257 MiB for this 47 MB file, gigabytes for a
// larger one, which on a small clinic server ended the gateway, and the
// archive, tried again at the restart, ended it again).
func TestZipEntryLimitBeforeDirectoryRead(t *testing.T) {
	data := centralOnly(1_000_000)
	for _, tc := range []struct {
		name string
		raw  func(t *testing.T) adapters.Raw
	}{
		{"in memory", func(t *testing.T) adapters.Raw { return adapters.Raw{Name: "many.zip", Body: data} }},
		{"on disk", func(t *testing.T) adapters.Raw {
			p := filepath.Join(t.TempDir(), "many.zip")
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			return adapters.Raw{Name: "many.zip", Size: int64(len(data)), Open: func() (io.ReadCloser, error) { return os.Open(p) }}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &collector{}
			src := &Source{next: c, zip: defaultZipLimits, maxBody: 64 << 20}
			in := tc.raw(t)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err := src.consumeZip(context.Background(), in)
			runtime.ReadMemStats(&after)
			if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "entries; at most 10000 are read from one archive: unpack it into the folder") {
				t.Fatalf("consumeZip = %v", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("refusing an archive of a million entries allocated %d MiB", alloc>>20)
			}
			if len(c.all()) != 0 {
				t.Fatal("an entry was consumed")
			}
		})
	}
}

// centralCount counts as archive/zip reads: past a 16-bit count that
// wrapped, through a ZIP64 end record (archive/zip's writer makes one
// for 65,535 entries or more), and from where a directory after data
// that is not the archive's lies.
func TestZipEntryLimitCountsAsArchiveZip(t *testing.T) {
	zip64 := func(n int) []byte {
		var b bytes.Buffer
		w := zip.NewWriter(&b)
		for i := range n {
			if _, err := w.CreateHeader(&zip.FileHeader{Name: strconv.Itoa(i), Method: zip.Store}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	big := zip64(70_000)
	// An end record whose directory offset lies past the file: archive/zip
	// reads from where the directory's size places it.
	farOff := centralOnly(20)
	binary.LittleEndian.PutUint32(farOff[len(farOff)-22+16:], 0x7fffffff)
	for _, tc := range []struct {
		name  string
		data  []byte
		limit int
		want  int
	}{
		{"at the limit", centralOnly(3), 3, 3},
		{"past it", centralOnly(4), 3, 4},
		{"wrapped count", centralOnly(65_537), 65_537, 65_537},
		{"wrapped count past it", centralOnly(65_537), 65_536, 65_537},
		{"zip64", big, 70_000, 70_000},
		{"zip64 past it", big, 10_000, 10_001},
		{"offset past the end", farOff, 10, 11},
		{"after other data", append([]byte("#!/bin/sh self-extracting stub\n"), centralOnly(5)...), 10, 5},
	} {
		n, ok := centralCount(bytes.NewReader(tc.data), int64(len(tc.data)), tc.limit)
		if !ok || n != tc.want {
			t.Errorf("%s: centralCount = %d, %v; want %d", tc.name, n, ok, tc.want)
		}
		zr, err := zip.NewReader(bytes.NewReader(tc.data), int64(len(tc.data)))
		if err != nil || tc.want <= tc.limit && len(zr.File) != n {
			t.Errorf("%s: archive/zip reads %d entries (%v), centralCount %d", tc.name, len(zr.File), err, n)
		}
	}
}
