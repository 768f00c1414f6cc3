package pipeline

import (
	"context"
	"encoding/base64"
	"maps"
	"strings"
	"sync"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/seal"
)

// AttrPatient is the queue attribute that carries a unit's patient
// identifier to the audit trail, in the form SetPatientIdentity's
// function gave it (sealed when data at rest is): the Export event of a
// delivered bundle names the patient by it (DICOM PS3.15 A.5), and the
// bundle's body may be gone or sealed by then.
const AttrPatient = "patient"

// SealedPatientPrefix begins an AttrPatient value sealed with the
// data-at-rest key: the base64url (no padding) of a seal blob follows.
// Without it the value is the identifier's JSON in clear.
const SealedPatientPrefix = "sealed:"

// PatientKeyID returns the id of the key that sealed an AttrPatient value
// v, and false when v is not sealed.
func PatientKeyID(v string) (string, bool) {
	s, ok := strings.CutPrefix(v, SealedPatientPrefix)
	if !ok {
		return "", false
	}
	blob, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", false
	}
	return seal.KeyIDOf(blob)
}

// SetPatientIdentity makes the pipeline store, with every unit it queues
// or holds that names a patient, f(key, id) as the attribute AttrPatient:
// key is the unit's ordering key as stored (after SetPseudonym), id its
// Unit.Patient. The gateway passes a function that seals the identifier
// with the data-at-rest key (bound to key), since queue attributes are
// kept in clear; f returning "" stores nothing. Without it (the default)
// no identifier is stored. Call it before the first Consume.
func (p *Pipeline) SetPatientIdentity(f func(key string, id fhir.Identifier) string) {
	p.patientAttr = f
}

// maxNotedPatients bounds the identifiers Patients keeps for one input: a
// batch file of thousands of patients would make an Import event larger
// than a syslog receiver must take (32 KiB). Each patient's bundle still
// names it in its own Export event.
const maxNotedPatients = 64

// Patients collects the identifiers of the patients an input's units name
// (each once), for the Import audit event. The pipeline fills it when the
// context given to Consume carries it (WithPatients). They are PHI.
type Patients struct {
	mu  sync.Mutex
	ids []fhir.Identifier
}

type patientsKey struct{}

// WithPatients returns ctx carrying a new Patients, which Consume fills
// with the identifiers of the patients of the units it converts (stored,
// held or found duplicate; not those quarantined).
func WithPatients(ctx context.Context) (context.Context, *Patients) {
	ps := &Patients{}
	return context.WithValue(ctx, patientsKey{}, ps), ps
}

// IDs returns the identifiers noted, in the order first met.
func (ps *Patients) IDs() []fhir.Identifier {
	if ps == nil {
		return nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]fhir.Identifier(nil), ps.ids...)
}

func (ps *Patients) note(id fhir.Identifier) {
	if id.Value == "" {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, have := range ps.ids {
		if have.System == id.System && have.Value == id.Value {
			return
		}
	}
	if len(ps.ids) < maxNotedPatients {
		ps.ids = append(ps.ids, fhir.Identifier{System: id.System, Value: id.Value})
	}
}

// notePatient records u's patient in ctx's Patients, if any, and sets its
// AttrPatient when SetPatientIdentity asked for it. Call it once u's Key
// is final.
func (p *Pipeline) notePatient(ctx context.Context, u *Unit) {
	if u.Patient.Value == "" {
		return
	}
	if ps, _ := ctx.Value(patientsKey{}).(*Patients); ps != nil {
		ps.note(u.Patient)
	}
	if p.patientAttr == nil {
		return
	}
	if v := p.patientAttr(u.Key, u.Patient); v != "" {
		// The parts of one message may share one map.
		a := maps.Clone(u.Attrs)
		if a == nil {
			a = map[string]string{}
		}
		a[AttrPatient] = v
		u.Attrs = a
	}
}
