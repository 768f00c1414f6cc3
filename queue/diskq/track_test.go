package diskq

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrackCountsNewerDeliveries: a count file given to Track (a held
// bundle's) counts the items of its key stored after the call and
// delivered, not those stored before it nor other keys', and goes on
// after a restart from the seq Track returned; WaitingFrom counts the
// newer items still queued, which a bundle put now would follow.
func TestTrackCountsNewerDeliveries(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(t.TempDir(), "held.later")
	if err := os.WriteFile(count, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(count)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	q := open(t, dir, Options{})
	put(t, q, "p", 1) // older than the held bundle: being retried, say
	since := q.Track(count, 0, []string{"p"})
	put(t, q, "p", 2)
	put(t, q, "other", 3)
	put(t, q, "p", 4)
	if n := q.WaitingFrom([]string{"p"}, since); n != 2 {
		t.Fatalf("WaitingFrom = %d, want the 2 items of p stored after Track", n)
	}
	for range 3 {
		_, a := get(t, q)
		ack(t, a, nil)
	}
	if n := size(); n != 1 {
		t.Fatalf("counted %d deliveries, want 1 (the older item and the other key's do not count)", n)
	}
	if n := q.WaitingFrom([]string{"p"}, since); n != 1 {
		t.Fatalf("WaitingFrom = %d, want 1", n)
	}
	q.Close(t.Context())

	q = open(t, dir, Options{})
	defer q.Close(t.Context())
	q.Track(count, since, []string{"p"})
	_, a := get(t, q)
	ack(t, a, nil)
	if n := size(); n != 2 {
		t.Fatalf("after a restart counted %d, want 2", n)
	}
	q.Untrack(count)
	put(t, q, "p", 5)
	_, a = get(t, q)
	ack(t, a, nil)
	if n := size(); n != 2 {
		t.Fatalf("after Untrack counted %d, want still 2", n)
	}
}

// TestLogDeliveriesCompacts: LogDeliveries logs each delivery of an
// ordered item with the seq it was stored at and its key, not those of
// unordered items; past maxLogBytes the log keeps each key's last line,
// and the lines of its owner (the quarantine's "from") as they were, so
// it stays bounded however long the quarantine holds an input.
func TestLogDeliveriesCompacts(t *testing.T) {
	old := maxLogBytes
	maxLogBytes = 200
	defer func() { maxLogBytes = old }()
	log := filepath.Join(t.TempDir(), "delivered.log")
	if err := os.WriteFile(log, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	q := open(t, t.TempDir(), Options{})
	defer q.Close(t.Context())
	from := q.LogDeliveries(log)
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "from %d\n", from)
	f.Close()
	var last [2]uint64
	for i := range 60 {
		key := []string{"aaaa", "bbbb"}[i%2]
		put(t, q, key, i)
		last[i%2] = q.NextSeq() - 1
	}
	put(t, q, "", 99)
	for range 61 {
		_, a := get(t, q)
		ack(t, a, nil)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 2*200 {
		t.Errorf("log is %d bytes, past twice the bound", len(b))
	}
	text := string(b)
	for _, want := range []string{fmt.Sprintf("from %d\n", from), fmt.Sprintf("%d aaaa\n", last[0]), fmt.Sprintf("%d bbbb\n", last[1])} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, " \n") {
		t.Errorf("log has the unordered item:\n%s", text)
	}
}
