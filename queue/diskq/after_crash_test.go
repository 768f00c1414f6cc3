package diskq_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

const afterCrashDirEnv = "FERRY_DISKQ_AFTER_CRASH_DIR"

// afterItem is the n-th item the after-crash child puts: keys "a" and
// "b" take turns, and every fifth item is a merge, key "b" after "a".
func afterItem(cycle, n int) *queue.Item {
	it := &queue.Item{Key: "a", Body: fmt.Appendf(nil, `{"n":%d}`, n),
		Attrs: map[string]string{"n": fmt.Sprintf("%d%06d", cycle, n)}}
	switch {
	case n%5 == 4:
		it.Key, it.After = "b", []string{"a"}
	case n%2 == 1:
		it.Key = "b"
	}
	return it
}

// TestAfterCrashChild is the child process of TestAfterCrashKill9; run
// alone it skips. It puts items of two keys and merges ordered under
// both, prints "P <id>" once a Put returned, and in three cycles of four delivers
// some of them with two consumers.
func TestAfterCrashChild(t *testing.T) {
	dir := os.Getenv(afterCrashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestAfterCrashKill9")
	}
	cycle, _ := strconv.Atoi(os.Getenv(crashCycleEnv))
	q, err := diskq.Open(dir, diskq.Options{SegmentBytes: 64 << 10})
	if err != nil {
		fmt.Printf("E open: %v\n", err)
		os.Exit(3)
	}
	ctx := context.Background()
	for range 2 * min(cycle%4, 1) {
		go func() {
			for {
				_, ack, err := q.Get(ctx)
				if err != nil {
					return
				}
				var aerr error
				if rand.IntN(4) == 0 {
					aerr = errors.New("HTTP 503")
				}
				ack(ctx, aerr)
			}
		}()
	}
	for n := 0; ; n++ {
		it := afterItem(cycle, n)
		if err := q.Put(ctx, it); err != nil {
			fmt.Printf("E put: %v\n", err)
			os.Exit(3)
		}
		fmt.Printf("P %s\n", it.ID)
	}
}

// TestAfterCrashKill9: after kill -9 at random moments, the reopened
// queue still hands out every item only after the earlier items of each
// of its keys (a merge after both "a" and "b"), and keeps its After keys.
func TestAfterCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs SIGKILL")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d", seed)
	put := 0
	for cycle := range 9 { // the last one, like every fourth, only puts
		cmd := exec.Command(os.Args[0], "-test.run=^TestAfterCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), afterCrashDirEnv+"="+dir, crashCycleEnv+"="+strconv.Itoa(cycle))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		flowing := make(chan struct{})
		lines := make(chan []string, 1)
		go func() {
			var got []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if got = append(got, sc.Text()); len(got) == 20 {
					close(flowing)
				}
			}
			if len(got) < 20 {
				close(flowing)
			}
			lines <- got
		}()
		select {
		case <-flowing:
		case <-time.After(60 * time.Second):
			t.Fatalf("cycle %d: child put nothing", cycle)
		}
		time.Sleep(time.Duration(rng.IntN(80)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for _, l := range <-lines {
			if strings.HasPrefix(l, "E ") {
				t.Fatalf("cycle %d: child: %s", cycle, l)
			}
			if strings.HasPrefix(l, "P ") {
				put++
			}
		}
		cmd.Wait()
	}
	if put < 100 {
		t.Fatalf("only %d puts; the test did not exercise the queue", put)
	}

	q, err := diskq.Open(dir, diskq.Options{SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatalf("reopen after crashes: %v", err)
	}
	defer q.Close(context.Background())
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	last := map[string]string{} // key → the last n delivered under it
	merges := 0
	for q.Len() > 0 {
		// Lease everything ready at once (a cancelled Get returns what
		// is ready and does not wait): no two leases may share a key,
		// Key or After, and each comes after what its keys delivered.
		leased := map[string]string{}
		var acks []queue.AckFunc
		for {
			it, ack, err := q.Get(done)
			if errors.Is(err, context.Canceled) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			acks = append(acks, ack)
			n := it.Attrs["n"]
			if it.Key == "b" && mustAtoi(t, n[len(n)-6:])%5 == 4 {
				merges++
				if !slices.Equal(it.After, []string{"a"}) {
					t.Fatalf("merge %s came back with After %q", n, it.After)
				}
			}
			for _, k := range append([]string{it.Key}, it.After...) {
				if o, ok := leased[k]; ok {
					t.Fatalf("key %s: items %s and %s handed out together", k, o, n)
				}
				leased[k] = n
				// n is the cycle, then a six-digit count: put order as
				// a string while cycles stay below 10.
				if l, ok := last[k]; ok && n <= l {
					t.Fatalf("key %s: item %s delivered after item %s", k, n, l)
				}
				last[k] = n
			}
		}
		if len(acks) == 0 {
			t.Fatalf("%d items left, none ready", q.Len())
		}
		for _, ack := range acks {
			if err := ack(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		// The next items of their keys are ready once the ACK records
		// are synced.
		if err := q.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if merges == 0 {
		t.Fatal("no merge item left to check after the crashes")
	}
	t.Logf("%d puts, %d merges checked after the crashes", put, merges)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
