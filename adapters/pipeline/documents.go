package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/ccdafhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// CCDA converts C-CDA documents (one Unit per document), streaming large
// files from Raw.Open.
type CCDA struct {
	Options ccdafhir.Options
}

var _ Converter = CCDA{}

// Convert decodes the document as a token stream and returns its Bundle.
func (c CCDA) Convert(_ context.Context, in adapters.Raw) ([]Unit, error) {
	r, closeFn, err := open(in)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	b, res, err := ccdafhir.Convert(r, c.Options)
	if err != nil {
		return nil, err
	}
	// Exchanges cap the entries of one transaction (Medplum: 50 updates),
	// so a large document goes as several bundles, in order, under the same
	// patient key; each is idempotent on its own.
	parts, err := ccdafhir.Split(b, 0)
	if err != nil {
		return nil, err
	}
	units := make([]Unit, 0, len(parts))
	for i, part := range parts {
		body, err := json.Marshal(part)
		if err != nil {
			return nil, fmt.Errorf("encode bundle: %w", err)
		}
		name := "document"
		if len(parts) > 1 {
			name = fmt.Sprintf("document part %d of %d", i+1, len(parts))
		}
		units = append(units, Unit{Name: name, Bundle: body, Key: res.PatientKey, Dedup: sha256.Sum256(body),
			Attrs: map[string]string{"format": "ccda", "type": res.DocumentKind, "loinc": res.DocumentType}})
	}
	return units, nil
}

// Fax converts a received fax into an IHE MHD (or US Core) document
// bundle.
type Fax struct {
	Conv *faxfhir.Converter
}

var _ Converter = Fax{}

// Convert renders the fax and writes its bundle. The bundle is held in
// memory because queue items are; faxfhir itself streams.
func (f Fax) Convert(ctx context.Context, in adapters.Raw) ([]Unit, error) {
	var buf bytes.Buffer
	res, err := f.Conv.WriteRaw(ctx, &buf, in)
	if err != nil {
		return nil, err
	}
	key := ""
	if res.PatientKey != "" {
		// The key is system|MRN: hash it so queue metadata holds no PHI.
		h := sha256.Sum256([]byte(res.PatientKey))
		key = hex.EncodeToString(h[:16])
	}
	var dedup [32]byte
	if d, err := hex.DecodeString(res.SHA256); err == nil && len(d) == 32 {
		copy(dedup[:], d)
	}
	u := Unit{Name: "fax", Bundle: buf.Bytes(), Key: key, Dedup: dedup,
		Attrs: map[string]string{"format": "fax", "pages": fmt.Sprint(res.Pages), "content": res.Format}}
	return []Unit{u}, nil
}
