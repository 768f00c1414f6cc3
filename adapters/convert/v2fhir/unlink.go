package v2fhir

// A37 (unlink patient information, HL7 v2.5.1 3.3.37) takes back an A24
// link: two records of one person that stay apart (two campuses, an
// enterprise MPI number). ferry converts neither: it writes merges
// (A40), not links. An A37 is not the undo of a merge, and HL7 v2 has
// none: a merge sent in error is corrected at the EHR by its registrar
// and, at ferry, by a person (`ferry merges undo`), who also knows which
// of the data sent since belongs to whom. Treating an A37 as that undo
// would split a merged record on a message whose standard meaning is
// something else. So it is refused as an unsupported trigger event (AR,
// ERR-3 201, kept in quarantine), with a reason that says so.
func init() {
	refused["ADT^A37"] = "an unlink (trigger event A37) takes back a link made by A24, which ferry does not convert; it does not undo a merge (A40, A47): " +
		"if two patients were merged in error, an operator takes the merge back at the gateway with `ferry merges undo`"
}
