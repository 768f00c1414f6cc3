package merges

import (
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// TestConcurrentLookupsAndRecords: sixteen converters (MLLP
// connections) look identifiers up while merges are recorded, some of
// them racing into a cycle: lookups see a merge whole or not at all,
// exactly one of two merges that would close a cycle is kept, and every
// chain resolves after a reopen as it did before. Run with -race.
func TestConcurrentLookupsAndRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s, ok, err := r.Survivor(id("R" + strconv.Itoa(i%50)))
				if err != nil {
					t.Errorf("Survivor: %v", err)
					return
				}
				if ok && s.Value[0] != 'S' && s.Value[0] != 'R' {
					t.Errorf("survivor %q", s.Value)
					return
				}
			}
		})
	}
	var rec sync.WaitGroup
	for i := range 50 {
		n := strconv.Itoa(i)
		// R(n) into S(n) races S(n) into R(n): whichever comes second
		// would close a cycle, and is refused.
		var errs [2]error
		rec.Go(func() {
			var pair sync.WaitGroup
			pair.Go(func() { errs[0] = r.Record(Merge{Retired: id("R" + n), Survivor: id("S" + n)}) })
			pair.Go(func() { errs[1] = r.Record(Merge{Retired: id("S" + n), Survivor: id("R" + n)}) })
			pair.Wait()
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Errorf("pair %s: %v, %v: want exactly one refused", n, errs[0], errs[1])
			}
			for _, err := range errs {
				if err != nil && !errors.Is(err, ErrCycle) {
					t.Errorf("pair %s: %v", n, err)
				}
			}
		})
	}
	rec.Wait()
	close(stop)
	wg.Wait()
	want := map[string]string{}
	for i := range 50 {
		n := strconv.Itoa(i)
		s, ok, err := r.Survivor(id("R" + n))
		if err != nil {
			t.Fatalf("R%s: %v", n, err)
		}
		if ok {
			want["R"+n] = s.Value
		}
	}
	r.Close()
	r = mustOpen(t, path, Options{})
	defer r.Close()
	for k, v := range want {
		if got, _ := survivor(t, r, k); got != v {
			t.Errorf("after reopen %s resolves to %s, before %s", k, got, v)
		}
	}
}
