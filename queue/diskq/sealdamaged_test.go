package diskq_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestDamagedDeadLetterListed: a sealed dead letter whose file was damaged
// on disk (a flipped bit, a sector gone bad) made the whole listing fail
// with its error, so `ferry queue list`, purge and retry --all showed no
// dead letter at all, and the gateway's start tracked none listed after it;
// it is listed by its name, its reason saying it is damaged and naming its
// file, beside the others, which are listed in full.
func TestDamagedDeadLetterListed(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := newKey(t)
	q := openQ(t, dir, key)
	var ids []string
	for _, tag := range []string{"first", "second"} {
		ids = append(ids, putBody(t, q, "", markedBody(tag, 100)).ID)
	}
	for range ids {
		_, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ack(ctx, queue.Permanent(errors.New("422 refused")))
	}
	closeQueue(t, q)
	files, err := filepath.Glob(filepath.Join(dir, "dead", "*.json"))
	if err != nil || len(files) != 2 {
		t.Fatalf("dead letter files %v, %v", files, err)
	}
	slices.Sort(files)
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-20] ^= 0x01
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}

	q = openQ(t, dir, key)
	defer closeQueue(t, q)
	list, err := q.DeadLetters()
	if err != nil {
		t.Fatalf("DeadLetters with one damaged: %v", err)
	}
	if len(list) != 2 || list[0].ID != ids[0] || list[1].ID != ids[1] {
		t.Fatalf("DeadLetters = %+v, want both", list)
	}
	if r := list[0].Reason; !strings.Contains(r, "damaged") || !strings.Contains(r, filepath.Base(files[0])) {
		t.Errorf("damaged dead letter's reason %q", r)
	}
	if list[1].Reason != "422 refused" {
		t.Errorf("the other dead letter's reason %q", list[1].Reason)
	}
}
