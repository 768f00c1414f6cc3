package audit

import (
	"bufio"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordSpan returns the offset and body length of the i-th record of the
// spool segment file path.
func recordSpan(t *testing.T, path string, i int) (off int64, n int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for k := 0; ; k++ {
		m, err := readRecord(r)
		if err != nil {
			t.Fatalf("segment has %d records, want more than %d: %v", k, i, err)
		}
		if k == i {
			return off, len(m)
		}
		off += recHeader + int64(len(m))
	}
}

// overwrite writes b at off in the file path.
func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// damageRecord flips a byte inside the body of the i-th record of the
// spool segment file path.
func damageRecord(t *testing.T, path string, i int) {
	t.Helper()
	off, n := recordSpan(t, path, i)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := off + recHeader + int64(n)/2
	overwrite(t, path, at, []byte{data[at] ^ 0xff})
}

// TestSpoolDamagedRecordAtOpen: a record that fails its checksum in the
// middle of a segment (a bad sector, not a record torn by a crash: records
// follow it) must not cut off the records after it at the next start,
// uncounted; it is skipped, and counted, and the rest are read.
func TestSpoolDamagedRecordAtOpen(t *testing.T) {
	checkSkipsOne(t, func(path string) { damageRecord(t, path, 2) })
}

// checkSkipsOne writes six records to a spool, damages its segment, and
// checks that a reopened spool counts all six, returns the two before
// the damage, loses record 2 only (SkipDamaged) and then returns 3 to 5.
func checkSkipsOne(t *testing.T, damage func(path string)) {
	t.Helper()
	dir := t.TempDir()
	s, err := openSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	for i := range 6 {
		all = append(all, rec(i))
	}
	if _, err := s.Append(all); err != nil {
		t.Fatal(err)
	}
	s.Close()
	damage(filepath.Join(dir, segName(1)))

	s, err = openSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != 6 {
		t.Fatalf("reopened spool counts %d records, want 6 (one damaged, to be dropped and counted)", s.Len())
	}
	msgs, err := s.Peek(10)
	if len(msgs) != 2 || err == nil {
		t.Fatalf("Peek = %d records, %v; want the two before the damage and an error", len(msgs), err)
	}
	if err := s.Consume(msgs); err != nil {
		t.Fatal(err)
	}
	if lost, err := s.SkipDamaged(); lost != 1 || err != nil {
		t.Fatalf("SkipDamaged = %d, %v; want 1 record lost", lost, err)
	}
	want := []string{string(rec(3)), string(rec(4)), string(rec(5))}
	if got := peekAll(t, s); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after the damaged record: %q, want records 3-5", got)
	}
}

// TestSinkSkipsDamagedSpoolRecord: a spool record that fails its checksum
// while the gateway runs is the local disk's fault: the sender must not
// drop the connection, call the repository unreachable and stop sending
// (every later event queued behind it for good). It drops that record,
// counts it, sends the rest in order, and tells the repository of the
// loss.
func TestSinkSkipsDamagedSpoolRecord(t *testing.T) {
	p := demoPKI(t)
	addr := reserveAddr(t)
	dir := filepath.Join(t.TempDir(), "spool")
	s := newSink(t, "tls://"+addr, clientTLS(p), dir, nil)
	start(t, s)
	for i := range 3 {
		s.Record(exportN(i))
	}
	waitStats(t, s, "three spooled", func(st Stats) bool { return st.Spooled == 3 })
	damageRecord(t, filepath.Join(dir, segName(1)), 1)
	r, _ := startTLSRepo(t, p, addr)
	msgs := r.waitN(t, 3)
	wantOrder(t, bundleOrder(t, msgs[:1]), 0, 1)
	if got := bundleOrder(t, msgs[1:2]); len(got) != 1 || got[0] != "bundle-00002" {
		t.Fatalf("second message delivered %v, want bundle-00002", got)
	}
	if a := parseAudit(t, msgs[2].msg); a.Event.Type[0].Code != "110133" {
		t.Fatalf("third message %+v, want Audit Recording Stopped", a.Event)
	}
	st := waitStats(t, s, "spool drained", func(st Stats) bool { return st.Pending == 0 })
	if st.Dropped != 1 || !st.Connected {
		t.Fatalf("stats %+v: want 1 dropped and the repository connected", st)
	}
	s.Record(exportN(3))
	msgs = r.waitN(t, 4)
	if got := bundleOrder(t, msgs[3:]); len(got) != 1 || got[0] != "bundle-00003" {
		t.Fatalf("a later event: %v", got)
	}
	shutdown(t, s)
}

// garbleLength overwrites the length field of the i-th record of the
// spool segment file path with n.
func garbleLength(t *testing.T, path string, i int, n uint32) {
	t.Helper()
	off, _ := recordSpan(t, path, i)
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	overwrite(t, path, off, b[:])
}

// TestSpoolDamagedLength: a bad sector in a record's length field hides
// where the next record begins. The records after it must still be found
// (the next place a whole record with a matching checksum starts), at
// the next start and while the gateway runs, and only the one record
// counted lost; before, the rest of the segment went with it.
func TestSpoolDamagedLength(t *testing.T) {
	for _, c := range []struct {
		name string
		n    uint32
	}{
		{"longer than the segment", 0xfffffff0},
		{"inside the segment", 30},
		{"zero", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkSkipsOne(t, func(path string) { garbleLength(t, path, 2, c.n) })
		})
	}
}

// FuzzSpoolDamage damages a spool segment anywhere (each pair of input
// bytes: an offset and a value written there) and reads it back as the
// sender does, skipping what is damaged: reading must end, and every
// record it returns must be one of those written, in order.
func FuzzSpoolDamage(f *testing.F) {
	f.Add([]byte{30, 0xff})
	f.Add([]byte{0, 0, 1, 0, 2, 0, 3, 9})
	f.Add([]byte{200, 7, 201, 7, 202, 7})
	f.Fuzz(func(t *testing.T, damage []byte) {
		dir := t.TempDir()
		s, err := openSpool(dir, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var all [][]byte
		for i := range 8 {
			all = append(all, rec(i))
		}
		if _, err := s.Append(all); err != nil {
			t.Fatal(err)
		}
		s.Close()
		path := filepath.Join(dir, segName(1))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(damage); i += 2 {
			at := int(damage[i]) * len(data) / 256
			data[at] = damage[i+1]
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err = openSpool(dir, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		next := 0 // records before this index cannot come again
		for steps := 0; s.Len() > 0; steps++ {
			if steps > 100 {
				t.Fatalf("reading does not end: %d records left", s.Len())
			}
			msgs, err := s.Peek(10)
			for _, m := range msgs {
				k := -1
				for i := next; i < len(all); i++ {
					if string(all[i]) == string(m) {
						k = i
						break
					}
				}
				if k < 0 {
					t.Fatalf("record %q was not written, or not in this order", m)
				}
				next = k + 1
			}
			if cerr := s.Consume(msgs); cerr != nil {
				t.Fatal(cerr)
			}
			if err != nil {
				if _, serr := s.SkipDamaged(); serr != nil {
					t.Fatal(serr)
				}
			}
		}
	})
}
