package fhir

// WalkRefs returns the references walkRefs finds in v, in the order the
// encoder writes them (for the differential test, which converts with
// packages that import this one).
func WalkRefs(v any) ([]string, error) {
	var s refSink
	err := walkRefs(v, &s)
	return s.found, err
}
