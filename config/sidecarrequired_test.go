package config

import (
	"errors"
	"strings"
	"testing"
)

// TestFaxSidecarRequiredDefaultSidecars: a fax inbox takes .json and .xml
// sidecars without a sidecars list (README, "Other keys"), so
// sidecar_required: true alone is complete there, as the running inbox
// reads it; config check refused it, saying sidecars listed none. A
// HylaFAX inbox has no default sidecars, so there it still needs a list.
func TestFaxSidecarRequiredDefaultSidecars(t *testing.T) {
	const base = "data_dir: /tmp/x\nfax: {source_id: 1.3.6.1.4.1.21367.2026.1}\nsources:\n  folders:\n"
	if _, err := Parse("ferry.yaml", []byte(base+"    - {name: fax, kind: fax, path: /srv/fax, sidecar_required: true}\n")); err != nil {
		t.Errorf("fax inbox with sidecar_required and the default sidecars: %v", err)
	}
	_, err := Parse("ferry.yaml", []byte(base+"    - {name: hf, kind: hylafax, path: /var/spool/hylafax/recvq, sidecar_required: true}\n"))
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Path != "sources.folders[0].sidecar_required" ||
		!strings.Contains(ce.Problems[0].Msg, "needs sidecars") {
		t.Errorf("hylafax inbox with sidecar_required and no sidecars: %v, want the sidecar_required problem", err)
	}
	for _, kind := range []string{"fax", "ehr"} {
		_, err := Parse("ferry.yaml", []byte(base+"    - {name: f, kind: "+kind+", path: /srv/f, sidecars: [], sidecar_required: true}\n"))
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Path != "sources.folders[0].sidecar_required" {
			t.Errorf("%s folder with sidecar_required and sidecars: []: %v, want the sidecar_required problem", kind, err)
		}
	}
}
