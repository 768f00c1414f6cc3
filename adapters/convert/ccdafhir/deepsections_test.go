package ccdafhir

import (
	"errors"
	"strings"
	"testing"
)

// TestDeeplyNestedSectionsRefused: sections are walked by recursion, one
// level of the Go stack (and of the element path) per nested
// component/section, and nothing bounded the nesting but the document
// size. A 33 MB document, within the 32 MiB limit, of 790,000 nested
// sections took 1.2 GB and then killed the process ("goroutine stack
// exceeds 1000000000-byte limit", fatal error: stack overflow, which no
// recover catches): the gateway exited, and at each start took the same
// file from processing/ and died again. Real documents nest sections a
// few levels deep; one nested deeper than maxSectionDepth is refused,
// the path of the section named.
func TestDeeplyNestedSectionsRefused(t *testing.T) {
	const n = 20000
	nested := strings.Repeat("<component><section>", n) + strings.Repeat("</section></component>", n)
	_, _, err := ConvertBytes([]byte(reviewDoc("d1", "s1", "", nested)), Options{NoBinary: true})
	var pe *PathError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "nested") {
		t.Fatalf("err = %v, want the nesting refused", err)
	}
	if got := strings.Count(pe.Path, "/section"); got != maxSectionDepth+1 {
		t.Errorf("path %q names a section %d deep, want %d", pe.Path, got, maxSectionDepth+1)
	}
	// A section as deep as allowed is converted.
	ok := strings.Repeat("<component><section>", maxSectionDepth-1) + problemSection + strings.Repeat("</section></component>", maxSectionDepth-1)
	if got, _ := convertReview(t, reviewDoc("d1", "s1", "", ok)); len(got["Condition"]) != 1 {
		t.Errorf("a problem %d sections deep: %d Conditions, want 1", maxSectionDepth, len(got["Condition"]))
	}
}
