package fhirhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentTokenFailureOneFetch: deliveries that wait for a token
// while another asks for it share that request's outcome, a failure
// included: a token endpoint that is down gets one request, not one per
// waiting delivery, each after the last has failed.
func TestConcurrentTokenFailureOneFetch(t *testing.T) {
	release := make(chan struct{})
	s, fetches := bearerExchange(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusServiceUnavailable)
	}, answerOK(200))
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.Send(context.Background(), item(fmt.Sprint("01C", i))) })
	}
	// Every delivery is waiting for the token the first one asks for.
	waitFor(t, func() bool { return fetches.Load() == 1 && inTokenCache() == n })
	close(release)
	wg.Wait()
	for i, err := range errs {
		if verdictOf(err) != retry {
			t.Errorf("send %d: %v, want retry", i, err)
		}
	}
	if f := fetches.Load(); f != 1 {
		t.Errorf("%d token requests for %d deliveries waiting on one that failed, want 1", f, n)
	}
}

// inTokenCache counts the goroutines inside tokenCache.Token.
func inTokenCache() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "(*tokenCache).Token(")
}

// TestTokenWaitersOwnContext: a sender waiting for another's token fetch
// gives up when its own context ends, and one whose fetcher gave up (its
// context ended) fetches a token itself rather than taking that failure.
func TestTokenWaitersOwnContext(t *testing.T) {
	var calls atomic.Int64
	fetcherCtx, cancelFetcher := context.WithCancel(context.Background())
	c := &tokenCache{fetch: func(ctx context.Context) (string, time.Duration, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done() // a token endpoint that does not answer
			return "", 0, fmt.Errorf("token request: %w", ctx.Err())
		}
		return "tok-2", time.Minute, nil
	}}
	first := make(chan error, 1)
	go func() {
		_, err := c.Token(fetcherCtx)
		first <- err
	}()
	waitFor(t, func() bool { return calls.Load() == 1 })

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Token(gone); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter with an ended context: %v, want context.Canceled", err)
	}

	second := make(chan string, 1)
	go func() {
		tok, err := c.Token(context.Background())
		if err != nil {
			t.Error(err)
		}
		second <- tok
	}()
	waitFor(t, func() bool { return inTokenCache() == 2 })
	cancelFetcher()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("fetcher: %v, want its context's end", err)
	}
	if tok := <-second; tok != "tok-2" {
		t.Errorf("waiter got %q, want the token it fetched itself", tok)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}
