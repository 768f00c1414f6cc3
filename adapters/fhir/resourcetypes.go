package fhir

import "strings"

// r4ResourceTypes are the resource types of FHIR R4 (4.0.1), the names a
// resourceType may hold (hl7.org/fhir/R4/resourcelist.html); the
// abstract Resource and DomainResource are none. It is the one list ferry
// keeps: StoredResourceType and ResourceTypeFold read it.
var r4ResourceTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range []string{
		"Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment",
		"AppointmentResponse", "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct",
		"BodyStructure", "Bundle", "CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry",
		"ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression",
		"CodeSystem", "Communication", "CommunicationRequest", "CompartmentDefinition", "Composition",
		"ConceptMap", "Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
		"CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric",
		"DeviceRequest", "DeviceUseStatement", "DiagnosticReport", "DocumentManifest",
		"DocumentReference", "EffectEvidenceSynthesis", "Encounter", "Endpoint", "EnrollmentRequest",
		"EnrollmentResponse", "EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable",
		"ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag", "Goal",
		"GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy",
		"Immunization", "ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide",
		"InsurancePlan", "Invoice", "Library", "Linkage", "List", "Location", "Measure",
		"MeasureReport", "Media", "Medication", "MedicationAdministration", "MedicationDispense",
		"MedicationKnowledge", "MedicationRequest", "MedicationStatement", "MedicinalProduct",
		"MedicinalProductAuthorization", "MedicinalProductContraindication",
		"MedicinalProductIndication", "MedicinalProductIngredient", "MedicinalProductInteraction",
		"MedicinalProductManufactured", "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
		"MedicinalProductUndesirableEffect", "MessageDefinition", "MessageHeader",
		"MolecularSequence", "NamingSystem", "NutritionOrder", "Observation", "ObservationDefinition",
		"OperationDefinition", "OperationOutcome", "Organization", "OrganizationAffiliation",
		"Parameters", "Patient", "PaymentNotice", "PaymentReconciliation", "Person", "PlanDefinition",
		"Practitioner", "PractitionerRole", "Procedure", "Provenance", "Questionnaire",
		"QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchDefinition",
		"ResearchElementDefinition", "ResearchStudy", "ResearchSubject", "RiskAssessment",
		"RiskEvidenceSynthesis", "Schedule", "SearchParameter", "ServiceRequest", "Slot", "Specimen",
		"SpecimenDefinition", "StructureDefinition", "StructureMap", "Subscription", "Substance",
		"SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
		"SubstanceReferenceInformation", "SubstanceSourceMaterial", "SubstanceSpecification",
		"SupplyDelivery", "SupplyRequest", "Task", "TerminologyCapabilities", "TestReport",
		"TestScript", "ValueSet", "VerificationResult", "VisionPrescription",
	} {
		m[t] = true
	}
	return m
}()

// notStored are the R4 resource types a FHIR server does not keep as
// resources of their own: an OperationOutcome is a server's answer (in a
// Bulk Data export, the error file's lines) and Parameters an operation's
// input or output; neither has a REST endpoint to PUT or POST to, so the
// exchange refuses them and the item would only be dead-lettered.
var notStored = map[string]bool{"OperationOutcome": true, "Parameters": true}

// StoredResourceType reports whether t is an R4 resource type a FHIR
// server stores: one a resource sent on its own (PUT t/id, POST t) may
// have. Bundle is one (a document Bundle is stored), although ferry sends
// a transaction or batch Bundle as the request itself.
func StoredResourceType(t string) bool { return r4ResourceTypes[t] && !notStored[t] }

// DirectoryTypes are the R4 types of a directory rather than a chart: the
// organizations, places, people and products a patient's resources
// refer to and that refer to no patient. They come first in a Bulk Data
// export (Organization before the rest: a Location or PractitionerRole
// names its Organization; a PractitionerRole its Practitioner and
// Location), and the pass-through queues them ahead of what refers to
// them (pipeline.DirectoryKey).
var DirectoryTypes = [][]string{
	{"Organization"},
	{"Location", "Practitioner", "Endpoint", "Medication", "Substance"},
	{"PractitionerRole", "HealthcareService", "OrganizationAffiliation"},
}

// DirectoryType reports whether t is one of DirectoryTypes.
func DirectoryType(t string) bool { return directoryType[t] }

var directoryType = func() map[string]bool {
	m := map[string]bool{}
	for _, layer := range DirectoryTypes {
		for _, t := range layer {
			m[t] = true
		}
	}
	return m
}()

// ResourceTypeFold returns the R4 resource type s names, letter case
// ignored ("observation" and "OBSERVATION" are Observation), and whether
// there is one. A Bulk Data export's file names carry the type in no
// fixed case (the IG's own example is patient_file_1.ndjson).
func ResourceTypeFold(s string) (string, bool) {
	if r4ResourceTypes[s] {
		return s, true
	}
	t, ok := foldedTypes[strings.ToLower(s)]
	return t, ok
}

var foldedTypes = func() map[string]string {
	m := make(map[string]string, len(r4ResourceTypes))
	for t := range r4ResourceTypes {
		m[strings.ToLower(t)] = t
	}
	return m
}()
