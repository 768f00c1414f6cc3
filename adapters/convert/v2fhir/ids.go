package v2fhir

// ResourceID is the id the HL7 v2 converter gives a resource keyed by a
// business identifier wherever it assigns ids (ModeID, and every resource
// but the Patient in ModePatientConditional): the UUIDv5 of
// "resourceType|system|value" in ferry's namespace. The CSV converter
// gives its patients the same id, so that a patient who arrives both ways
// is one resource at the exchange.
func ResourceID(resourceType, system, value string) string {
	var urn [urnLen]byte
	uuid5URN(&urn, resourceType, system, value)
	return string(urn[len("urn:uuid:"):])
}
