package folder

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestManyRankedFilesLinearPass: a FHIR Bulk Data export of a whole
// practice splits a type over many files (Observation.1.ndjson,
// Observation.2.ndjson, ...). For every ready ranked file a pass looked
// through every file of the folder (and processing/) for one of a lower
// rank, asking each its rank and whether it was an input: a pass's work
// grew with the square of the files, 3,000 of them took 8 s of CPU
// before the first was taken. A pass now counts the waiting files of
// each rank once. The rank function's calls measure the work.
func TestManyRankedFilesLinearPass(t *testing.T) {
	const n = 400
	dir := t.TempDir()
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("2-obs%04d", i)), []byte(fmt.Sprint(i)))
	}
	writeFile(t, filepath.Join(dir, "1-pat"), []byte("patient"))
	var calls atomic.Int64
	rank := func(name string) int { calls.Add(1); return digitRank(name) }
	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec, WithRank(rank))
	waitFor(t, "every file consumed", func() bool { return e.Stats().Done == n+1 })
	if got := rec.all()[0].raw.Name; got != "1-pat" {
		t.Errorf("took %s first, want 1-pat", got)
	}
	passes, c := e.passes.Load()+1, calls.Load()
	if c > 10*(n+1)*passes {
		t.Errorf("%d rank calls in %d passes over %d files: more than ten a file a pass", c, passes, n+1)
	}
}
