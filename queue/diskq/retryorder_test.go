package diskq

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestRetryPatientsDeadLettersInOrder: a patient's A01 and A08 are both
// dead-lettered (the exchange refused them until a setting was fixed);
// the operator retries them, oldest first, as `ferry queue retry --all`
// does. The retried A01 is the older data, not a newer item of the
// patient: neither its wait in the queue nor its delivery may make the
// A08's retry refuse as "older data on top of newer" (and need --force),
// while a genuinely newer item still does.
func TestRetryPatientsDeadLettersInOrder(t *testing.T) {
	for _, delivered := range []bool{false, true} {
		name := "A01 waiting"
		if delivered {
			name = "A01 delivered"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			q := open(t, t.TempDir(), Options{})
			defer closeQ(t, q)
			a01, a08 := put(t, q, "p", 1), put(t, q, "p", 2)
			for range 2 {
				_, a := get(t, q)
				ack(t, a, queue.Permanent(errors.New("422 refused")))
			}
			if err := q.RetrySafe(ctx, a01.ID, false); err != nil {
				t.Fatalf("retry A01: %v", err)
			}
			if delivered {
				it, a := get(t, q)
				if it.ID != a01.ID {
					t.Fatalf("got %s, want the A01", it.ID)
				}
				ack(t, a, nil)
			}
			if err := q.RetrySafe(ctx, a08.ID, false); err != nil {
				t.Fatalf("retry A08 after its older A01: %v", err)
			}
			var got []string
			for q.Len() > 0 {
				it, a := get(t, q)
				got = append(got, it.Attrs["n"])
				ack(t, a, nil)
				if err := q.Sync(ctx); err != nil {
					t.Fatal(err)
				}
			}
			want := "[1 2]"
			if delivered {
				want = "[2]"
			}
			if g := fmt.Sprint(got); g != want {
				t.Fatalf("delivered %s, want %s", g, want)
			}
		})
	}

	// A newer item of the patient still stops the older one's retry.
	ctx := context.Background()
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	a01 := put(t, q, "p", 1)
	_, a := get(t, q)
	ack(t, a, queue.Permanent(errors.New("422 refused")))
	put(t, q, "p", 2)
	var later *LaterDeliveredError
	if err := q.RetrySafe(ctx, a01.ID, false); !errors.As(err, &later) || later.Waiting != 1 {
		t.Fatalf("retry with a newer item waiting: %v", err)
	}
}
