package ehrdrop

import (
	"bytes"
	"strings"
	"testing"
)

// TestCSVWholeExportRevertedReachesTheExchange: an EHR writes its lab
// export under one name every night. The second night changes a result
// (corrected), the third changes it back: the file is then byte for
// byte the first night's. The folder took it for a re-drop of the
// first night's file and archived it unsent, and the exchange kept the
// second night's value for good. A file whose content was taken before
// is a duplicate only while it is the last taken under its name; the
// third night's is queued, and the same file dropped again after it
// still queues nothing.
func TestCSVWholeExportRevertedReachesTheExchange(t *testing.T) {
	dir := t.TempDir()
	ms := csvMappings(t)
	pipe, q := newCSVPipeline(t, ms)
	s := startCSVSource(t, dir, ms, pipe)
	corrected := strings.Replace(labsCSV, "Glucose,105,", "Glucose,150,", 1)
	night := func(i int, content string) {
		t.Helper()
		copyIn(t, dir, "labs.csv", []byte(content))
		name := "labs.csv"
		if i > 1 {
			name = "labs~" + string(rune('0'+i)) + ".csv"
		}
		settled(t, s, name, false)
	}
	night(1, labsCSV)
	n := len(q.all())
	night(2, corrected)
	if got := len(q.all()); got != 2*n {
		t.Fatalf("queue holds %d bundles after the corrected export, want %d", got, 2*n)
	}
	night(3, labsCSV)
	items := q.all()
	if len(items) != 3*n {
		t.Fatalf("queue holds %d bundles after the export that undid the correction, want %d: the exchange keeps the corrected value", len(items), 3*n)
	}
	for i := range n {
		if !bytes.Equal(items[i].Body, items[2*n+i].Body) {
			t.Errorf("bundle %d of the third night differs from the first night's", i)
		}
	}
	// The third night's file dropped again is a re-drop.
	night(4, labsCSV)
	if got := len(q.all()); got != 3*n {
		t.Errorf("queue holds %d bundles after the same file came again, want %d", got, 3*n)
	}
}
