//go:build race

package audit

// raceEnabled: the race detector slows the sender about tenfold; load
// tests pace themselves by it.
const raceEnabled = true
