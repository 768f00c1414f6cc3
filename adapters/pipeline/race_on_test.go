//go:build race

package pipeline

// raceEnabled: the race detector's instrumentation allocates beside the
// code it watches, so allocation bounds hold only without it.
const raceEnabled = true
