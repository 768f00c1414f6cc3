package fhir

// JSONPatchType is the media type of a JSON Patch document (RFC 6902): in
// a Bundle, a PATCH entry carries it as a Binary (FHIR R4 http.html#patch).
const JSONPatchType = "application/json-patch+json"

// PatchBatch returns the batch Bundle of n JSON Patch PATCHes that goes
// after the transaction b: the changes a message makes to resources
// earlier messages wrote (a result made final, a replaced document
// superseded, an order cancelled). entry(i) gives the i-th PATCH's URL
// and patch document. It is a batch, so a PATCH of a resource the
// exchange does not hold fails on its own entry, not b. It carries b's
// timestamp and security labels, so a disclosure policy that holds b
// holds its changes too, and b's identifier with suffix appended. It
// returns nil when n is 0.
func PatchBatch(b *Bundle, suffix string, n int, entry func(i int) (url string, patch []byte)) *Bundle {
	if n == 0 {
		return nil
	}
	out := &Bundle{ResourceType: "Bundle", Type: "batch", Timestamp: b.Timestamp, Entry: make([]BundleEntry, n)}
	if b.Meta != nil && len(b.Meta.Security) > 0 {
		out.Meta = &Meta{Security: b.Meta.Security}
	}
	if b.Identifier != nil {
		id := *b.Identifier
		id.Value += suffix
		out.Identifier = &id
	}
	for i := range n {
		url, patch := entry(i)
		out.Entry[i] = BundleEntry{
			Resource: &Binary{ResourceType: "Binary", ContentType: JSONPatchType, Data: patch},
			Request:  &BundleRequest{Method: "PATCH", URL: url},
		}
	}
	return out
}
