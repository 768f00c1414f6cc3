//go:build race

package fhir

// raceEnabled: under the race detector sync.Pool drops what it is given
// at random, so allocation counts hold only without it.
const raceEnabled = true
