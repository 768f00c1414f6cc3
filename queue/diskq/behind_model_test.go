package diskq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// modelItem is one item as TestBehindModel stored it.
type modelItem struct {
	id             string
	strong, behind []string // the keys it is ordered under, and waits behind
	settled, dead  bool
	lease          queue.AckFunc
}

// TestBehindModel runs random puts (keyed, after, behind, any mix),
// deliveries, releases (delayed ones too), dead letters, retries, purges
// and restarts, and checks every item handed out against what was stored
// before it: no earlier item of a key it is ordered under or waits
// behind is still unsettled. Whenever nothing is leased or delayed and
// every settlement is synced, an item is ready if any is left (none is
// stuck); and the drained queue keeps no key.
func TestBehindModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { behindModel(t, seed) })
	}
}

func behindModel(t *testing.T, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 7))
	dir := t.TempDir()
	q := open(t, dir, Options{})
	defer func() { closeQ(t, q) }()
	keys := []string{"A", "B", "D", "E"}
	var items []*modelItem
	latest := func(id string) *modelItem {
		for i := len(items) - 1; i >= 0; i-- {
			if items[i].id == id {
				return items[i]
			}
		}
		return nil
	}
	leased := func() []*modelItem {
		var out []*modelItem
		for _, m := range items {
			if m.lease != nil {
				out = append(out, m)
			}
		}
		return out
	}
	for step := range 400 {
		switch op := rng.IntN(10); {
		case op < 4: // put
			it := &queue.Item{Body: []byte(phi)}
			if rng.IntN(3) > 0 {
				it.Key = keys[rng.IntN(len(keys))]
			}
			m := &modelItem{}
			if it.Key != "" {
				m.strong = append(m.strong, it.Key)
			}
			for _, k := range keys {
				switch rng.IntN(8) {
				case 0:
					if k != it.Key {
						it.After = append(it.After, k)
						m.strong = append(m.strong, k)
					}
				case 1, 2:
					it.After = append(it.After, queue.Behind(k))
					m.behind = append(m.behind, k)
				}
			}
			if err := q.Put(ctx, it); err != nil {
				t.Fatal(err)
			}
			m.id = it.ID
			items = append(items, m)
		case op < 6: // get
			if readyLen(q) == 0 {
				continue
			}
			it, a := get(t, q)
			m := latest(it.ID)
			if m == nil || m.settled || m.lease != nil {
				t.Fatalf("step %d: Get %s, not a waiting item", step, it.ID)
			}
			for _, o := range items {
				if o == m {
					break
				}
				if o.settled {
					continue
				}
				for _, k := range o.strong {
					if slices.Contains(m.strong, k) || slices.Contains(m.behind, k) {
						t.Fatalf("step %d: Get %s (strong %q, behind %q) before %s (strong %q) of key %s is settled",
							step, it.ID, m.strong, m.behind, o.id, o.strong, k)
					}
				}
			}
			m.lease = a
		case op < 8: // settle or release a lease
			l := leased()
			if len(l) == 0 {
				continue
			}
			m := l[rng.IntN(len(l))]
			var err error
			switch rng.IntN(5) {
			case 0:
				err = errors.New("HTTP 503")
			case 4:
				// Delayed past the end of the test: only a purge,
				// endDelays or (unless durable) a restart ends it.
				err = queue.NotBefore(errors.New("HTTP 429"), time.Now().Add(time.Hour))
				if rng.IntN(2) == 0 {
					err = queue.NotBeforeDurable(errors.New("timeout"), time.Now().Add(time.Hour))
				}
			case 1:
				err = queue.Permanent(errors.New("HTTP 422"))
				m.settled, m.dead = true, true
			default:
				m.settled = true
			}
			ack(t, m.lease, err)
			m.lease = nil
		case op == 8: // purge or retry
			if len(items) == 0 {
				continue
			}
			o := items[rng.IntN(len(items))]
			switch {
			case o.dead && latest(o.id) == o:
				if err := q.Retry(ctx, o.id); err != nil {
					t.Fatal(err)
				}
				o.dead = false
				items = append(items, &modelItem{id: o.id, strong: o.strong, behind: o.behind})
			case !o.settled && o.lease == nil:
				if err := q.Purge(ctx, o.id); err != nil {
					t.Fatal(err)
				}
				o.settled = true
			}
		default: // sync, now and then a restart
			if rng.IntN(4) == 0 {
				closeQ(t, q)
				q = open(t, dir, Options{})
				for _, m := range items {
					m.lease = nil
				}
			} else if err := q.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if len(leased()) == 0 && q.Delayed() == 0 && q.Len() > 0 && readyLen(q) == 0 {
				t.Fatalf("step %d: %d items left, none leased, none ready", step, q.Len())
			}
		}
	}
	// Drain, after a restart and the end of the delays.
	for _, m := range leased() {
		ack(t, m.lease, nil)
		m.settled, m.lease = true, nil
	}
	closeQ(t, q)
	q = open(t, dir, Options{})
	endDelays(q)
	for q.Len() > 0 {
		if err := q.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if readyLen(q) == 0 {
			t.Fatalf("draining: %d items left, none ready", q.Len())
		}
		it, a := get(t, q)
		ack(t, a, nil)
		latest(it.ID).settled = true
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	n := len(q.keys)
	q.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d keys left in an empty queue", n)
	}
}
