package diskq_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSealedSpillSwap swaps the sealed body files of two spilled items of
// the same size (what anyone who can write to data_dir, or a restore that
// mixes up two files, can do) and reads the first item again: it must not
// come back with the other patient's bundle unnoticed. The inline body of
// a queue record is bound to its item id (aad); a spilled body is not.
//
// Known defect (review round 10), not fixed: body files are sealed with the
// fixed aad bodyAAD, since their bytes are linked between bodies/ and dead/
// under other names. Remove the Skip once a body file is bound to its item.
func TestSealedSpillSwap(t *testing.T) {
	t.Skip("known: a spilled body is not bound to its item (fixed aad); see the review report")
	dir := t.TempDir()
	ctx := context.Background()
	key := newKey(t)
	q := openQ(t, dir, key)
	a := putBody(t, q, "patient-a", markedBody("aaaaaaaa", 1<<20+100))
	b := putBody(t, q, "patient-b", markedBody("bbbbbbbb", 1<<20+100))
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	closeQueue(t, q)

	files, err := filepath.Glob(filepath.Join(dir, "bodies", "b-*"))
	if err != nil || len(files) != 2 {
		t.Fatalf("body files %v, %v", files, err)
	}
	tmp := filepath.Join(dir, "swap")
	if err := os.Rename(files[0], tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(files[1], files[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, files[1]); err != nil {
		t.Fatal(err)
	}

	q = openQ(t, dir, key)
	defer closeQueue(t, q)
	it, _, err := q.Get(ctx)
	if err != nil {
		t.Logf("Get: %v (swap noticed)", err)
		return
	}
	if it.ID != a.ID {
		t.Fatalf("got %s, want %s", it.ID, a.ID)
	}
	r, err := it.OpenBody()
	if err != nil {
		t.Logf("OpenBody: %v (swap noticed)", err)
		return
	}
	got := new(bytes.Buffer)
	_, err = got.ReadFrom(r)
	r.Close()
	if err == nil && bytes.Contains(got.Bytes(), []byte("bbbbbbbb")) {
		t.Fatalf("item %s (patient-a) came back with item %s's (patient-b) bundle, unnoticed", a.ID, b.ID)
	}
}
