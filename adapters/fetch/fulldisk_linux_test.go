package fetch

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue/queuetest"
)

// TestFullDiskWarnedOnce: a folder whose disk is full fails every file's
// download for the one reason while the EHR keeps exporting; the poll's
// error named its first files and counted the rest ("and 4 more files"),
// so each new export made it another failure and each poll logged a WARN
// (288 a day at the default poll) for one failure that lasted. It is
// logged once, and again when the disk has room and a poll works.
func TestFullDiskWarnedOnce(t *testing.T) {
	f := newFixture(t)
	mnt, fill, free := queuetest.SmallDisk(t, 1<<20)
	f.local = filepath.Join(mnt, "inbox")
	if err := os.Mkdir(f.local, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	fe, err := New(adapters.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, f.cfg, f.local, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("MSH|^~\\&|EHR\r", 400)
	for i := range 2 {
		f.put(t, fmt.Sprintf("adt-%02d.hl7", i), body)
	}
	fill()
	poll(t, fe)
	for i := 2; i < 8; i++ {
		f.put(t, fmt.Sprintf("adt-%02d.hl7", i), body)
		if err := fe.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "no space left") {
			t.Fatalf("poll on a full disk: %v", err)
		}
	}
	if warns := strings.Count(logs.String(), "level=WARN"); warns != 1 {
		t.Errorf("%d warnings for one full disk, want 1:\n%s", warns, logs.String())
	}
	free()
	poll(t, fe)
	if got := len(list(t, f.local)); got != 8 {
		t.Errorf("the folder holds %d files once the disk has room, want 8", got)
	}
	if !strings.Contains(logs.String(), "fetch works again") {
		t.Errorf("no recovery logged:\n%s", logs.String())
	}
}
