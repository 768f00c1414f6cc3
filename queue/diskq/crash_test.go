package diskq_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// The crash test re-runs this test binary as a child process that puts and
// consumes items as fast as it can and reports on stdout, one line per
// event, only after the event is durable:
//
//	R        queue open
//	P <id>   Put returned nil (the item is fsynced)
//	D <id>   Get handed the item out (it may be acked and gone later)
//	A <id>   ack(nil) returned and Sync after it returned
//	E <msg>  something went wrong
//
// The parent SIGKILLs it at a random moment, over and over, then reopens
// the queue and checks every promise the child printed.
const (
	crashDirEnv   = "FERRY_DISKQ_CRASH_DIR"
	crashCycleEnv = "FERRY_DISKQ_CRASH_CYCLE"
)

// crashCycles is how many times TestCrashKill9 kills its child. The second
// half of the cycles runs with a key (Options.Key), so the queue is
// switched to encryption with a backlog in it, and sealed records go
// through the same crashes.
const crashCycles = 24

func crashKey() *seal.Key {
	k, err := seal.NewKey([]byte("ferry crash test key, 32 bytes!!"))
	if err != nil {
		panic(err)
	}
	return k
}

func bodyFor(key string, n int) ([]byte, string) {
	body := fmt.Appendf(nil, `{"resourceType":"Bundle","key":%q,"n":%d,"pad":%q}`, key, n, strings.Repeat("z", 300+n%700))
	sum := sha256.Sum256(body)
	return body, hex.EncodeToString(sum[:8])
}

func checkBody(it *queue.Item) error {
	sum := sha256.Sum256(it.Body)
	if hex.EncodeToString(sum[:8]) != it.Attrs["sum"] {
		return fmt.Errorf("item %s: body does not match its checksum", it.ID)
	}
	return nil
}

// TestCrashChild is the child process of TestCrashKill9; run alone it skips.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashKill9")
	}
	cycle := os.Getenv(crashCycleEnv)
	var outMu sync.Mutex
	emit := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		outMu.Lock()
		os.Stdout.WriteString(line) // one write per line: atomic on a pipe
		outMu.Unlock()
	}
	n, _ := strconv.Atoi(cycle)
	var key *seal.Key
	if n >= crashCycles/2 {
		key = crashKey()
	}
	q, err := diskq.Open(dir, diskq.Options{SegmentBytes: 256 << 10, MaxBytes: 32 << 20, Key: key})
	if err != nil {
		emit("E open: %v", err)
		os.Exit(3)
	}
	if s := q.Stats(); s.Corrupt != 0 {
		emit("E %d corrupt records after a crash", s.Corrupt)
	}
	emit("R")
	ctx := context.Background()
	for p := range 6 {
		go func() {
			key := fmt.Sprintf("c%s-p%d", cycle, p)
			for n := 0; ; {
				body, sum := bodyFor(key, n)
				it := &queue.Item{Key: key, Body: body, Attrs: map[string]string{"n": strconv.Itoa(n), "sum": sum}}
				err := q.Put(ctx, it)
				if errors.Is(err, queue.ErrFull) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					emit("E put: %v", err)
					return
				}
				emit("P %s", it.ID)
				n++
			}
		}()
	}
	// Consumers run in odd cycles only, so even cycles build a backlog
	// that later Opens must recover.
	for range 2 * (n % 2) {
		go func() {
			var acked []string
			for {
				it, ack, err := q.Get(ctx)
				if err != nil {
					emit("E get: %v", err)
					return
				}
				if err := checkBody(it); err != nil {
					emit("E %v", err)
				}
				emit("D %s", it.ID)
				if rand.IntN(5) == 0 {
					// an ordinary failure: must come back
					if err := ack(ctx, errors.New("HTTP 503")); err != nil {
						emit("E nack: %v", err)
						return
					}
					continue
				}
				if err := ack(ctx, nil); err != nil {
					emit("E ack: %v", err)
					return
				}
				acked = append(acked, it.ID)
				if len(acked) == 20 {
					if err := q.Sync(ctx); err != nil {
						emit("E sync: %v", err)
						return
					}
					for _, id := range acked {
						emit("A %s", id)
					}
					acked = acked[:0]
				}
			}
		}()
	}
	time.Sleep(time.Minute) // until killed
	emit("E child was not killed")
}

func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs SIGKILL")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 99))
	t.Logf("seed %d", seed)

	put := map[string]bool{}
	delivered := map[string]int{} // ID → last cycle that got it from Get
	acked := map[string]bool{}
	const cycles = crashCycles
	for cycle := range cycles {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashCycleEnv+"="+strconv.Itoa(cycle))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// flowing closes once the child has put a few items (or, for
		// every fourth cycle, as soon as it runs, so the kill may hit
		// Open and recovery): the random kill time starts there, which
		// keeps the test meaningful on a slow or busy machine.
		flowing := make(chan struct{})
		lines := make(chan []string, 1)
		go func() {
			var got []string
			puts := 0
			if cycle%4 == 3 {
				close(flowing)
				puts = -1
			}
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if puts >= 0 && strings.HasPrefix(sc.Text(), "P ") {
					if puts++; puts == 10 {
						close(flowing)
					}
				}
				got = append(got, sc.Text())
			}
			if puts >= 0 && puts < 10 {
				close(flowing)
			}
			lines <- got
		}()
		select {
		case <-flowing:
		case <-time.After(60 * time.Second):
			t.Fatalf("cycle %d: child put nothing", cycle)
		}
		time.Sleep(time.Duration(rng.IntN(120)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		// Read everything the child wrote before Wait: Wait closes the
		// pipe, and lines still in it would be lost (a busy machine
		// leaves hundreds there), which made delivered items look lost.
		childLines := <-lines
		cmd.Wait()
		var p, a int
		for _, l := range childLines {
			kind, id, _ := strings.Cut(l, " ")
			switch kind {
			case "P":
				if put[id] {
					t.Fatalf("ID %s put twice", id)
				}
				put[id] = true
				p++
			case "D":
				delivered[id] = cycle
			case "A":
				acked[id] = true
				a++
			case "E":
				t.Fatalf("cycle %d: child: %s", cycle, id)
			case "R", "PASS", "":
			default:
				if !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- ") && !strings.HasPrefix(l, "ok") {
					t.Logf("child: %s", l)
				}
			}
		}
		t.Logf("cycle %d: %d puts, %d acks confirmed", cycle, p, a)
	}
	if len(put) < 100 || len(acked) < 20 {
		t.Fatalf("only %d puts and %d acks over %d cycles; the test did not exercise the queue", len(put), len(acked), cycles)
	}

	q, err := diskq.Open(dir, diskq.Options{SegmentBytes: 256 << 10, Key: crashKey()})
	if err != nil {
		t.Fatalf("reopen after crashes: %v", err)
	}
	defer q.Close(context.Background())
	if s := q.Stats(); s.Corrupt != 0 {
		t.Fatalf("%d corrupt records after kill -9 crashes", s.Corrupt)
	}
	pending := map[string]bool{}
	lastN := map[string]int{}
	ctx := context.Background()
	for q.Len() > 0 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkBody(it); err != nil {
			t.Fatal(err)
		}
		if pending[it.ID] {
			t.Fatalf("item %s stored twice", it.ID)
		}
		if acked[it.ID] {
			t.Fatalf("item %s came back after its ack was synced", it.ID)
		}
		n, _ := strconv.Atoi(it.Attrs["n"])
		if last, ok := lastN[it.Key]; ok && n <= last {
			t.Fatalf("key %s: item %d delivered after item %d", it.Key, n, last)
		}
		lastN[it.Key] = n
		pending[it.ID] = true
		if err := ack(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	// An item that is neither pending nor confirmed acked must have been
	// acked by the last child that got it, with the kill landing between
	// the ack's sync and the "A" lines: at most one batch of 20 per
	// consumer per cycle. Anything else is a lost item.
	lost := 0
	unconfirmed := map[int]int{}
	for id := range put {
		if pending[id] || acked[id] {
			continue
		}
		c, ok := delivered[id]
		if !ok {
			lost++
			t.Errorf("item %s: Put returned nil, but it is neither pending nor was it delivered", id)
			continue
		}
		unconfirmed[c]++
	}
	for c, n := range unconfirmed {
		if n > 2*20 {
			lost++
			t.Errorf("cycle %d: %d delivered items neither came back nor had a confirmed ack; at most 40 can be explained by the kill", c, n)
		}
	}
	t.Logf("%d items put, %d delivered before a crash, %d acks confirmed, %d pending at the end", len(put), len(delivered), len(acked), len(pending))
	if lost > 0 {
		t.Fatalf("%d acknowledged items lost", lost)
	}
}
