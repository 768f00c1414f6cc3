package v2fhir

// ResourceID is the id the HL7 v2 converter gives a resource keyed by a
// business identifier wherever it assigns ids (ModeID, and every resource
// but the Patient in ModePatientConditional): the UUIDv5 of
// "resourceType|system|value" in ferry's namespace. For a Patient it is
// fhir.PatientID, the id the C-CDA and CSV converters give the patient
// too, so that a patient who arrives several ways is one resource at the
// exchange (TestPatientIDIsShared holds the two together).
func ResourceID(resourceType, system, value string) string {
	var urn [urnLen]byte
	uuid5URN(&urn, resourceType, system, value)
	return string(urn[len("urn:uuid:"):])
}
