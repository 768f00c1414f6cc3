package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/ccdafhir"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/ehrdrop"
	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport/audit"
)

// converters is the explicit list of input formats the gateway converts,
// keyed by adapters.Raw.Format (OTel's components.go, without init()).
func converters(cfg *config.Config) map[string]pipeline.Converter {
	// A configuration that passed validation names a known mode; an empty
	// one (a Config built in code) means the library's ModeID.
	mode, _ := v2fhir.ParseMode(cfg.HL7v2.Writes)
	// The gateway and backfill create the site id (EnsureSiteID) before
	// they get here; `ferry convert` only reads it, and without one keeps
	// the converter's fixed urn:ferry base. A damaged site id file stops
	// the gateway there, so it is ignored here.
	base, _ := cfg.IdentifierBase()
	v2 := pipeline.HL7{Conv: &v2fhir.Converter{
		Systems:            cfg.Identifiers.Systems,
		Base:               base,
		Location:           cfg.HL7v2.Location(),
		Mode:               mode,
		PatientFromADTOnly: cfg.HL7v2.PatientFromADTOnly,
		ZSegmentExtension:  cfg.HL7v2.ZSegmentExtension,
		MaxEntries:         cfg.HL7v2.MaxEntries,
	}, MaxBytes: cfg.Sources.MaxWholeFileBytes}
	// Each MLLP listener accepts its own processing ids (MSH-11). The
	// check is the converter's, keyed by source, so that a refused
	// message is quarantined like any other and a replay applies the
	// configuration of the day.
	for _, m := range cfg.Sources.MLLP {
		if v2.ProcessingIDs == nil {
			v2.ProcessingIDs = make(map[string]hl7v2.ProcessingIDs, len(cfg.Sources.MLLP))
		}
		v2.ProcessingIDs["mllp/"+m.Name] = m.AcceptedProcessingIDs()
	}
	m := map[string]pipeline.Converter{
		"hl7v2":       v2,
		"hl7v2-batch": v2,
		"ccda":        pipeline.CCDA{Options: ccdafhir.Options{Mode: ccdaMode(mode), Base: base}, MaxEntries: cfg.HL7v2.MaxEntries},
		"fhir-json":   pipeline.FHIRJSON{Base: base, MaxBytes: cfg.Sources.MaxWholeFileBytes},
		"fhir-ndjson": pipeline.FHIRJSON{Base: base, MaxBytes: cfg.Sources.MaxWholeFileBytes},
		"csv":         csvConverter(cfg, base, mode),
	}
	// The fax converter needs its settings (source OID, author). Without a
	// fax section (the embedded default, `ferry convert`), the source OID is
	// derived from the host name under the UUID arc 2.25, which is stable
	// for this machine and unique enough to tell sources apart.
	//
	// An XDM package's PDF or TIFF is filed as a fax is, by the same
	// bundle builder under the same settings: the profile, patient link
	// and Binary method are the exchange's and this gateway's, whatever
	// brought the document. Its patient comes from
	// its own metadata, mapped through identifiers.systems like an HL7
	// v2 assigning authority.
	//
	// MHD wants a different sourceId for each source system: a folder
	// may name its own (sources.folders[].source_id) in place of
	// fax.source_id, and an XDM package's own sourceId comes before both
	// (xdmfhir).
	fcfg := cfg.Fax
	if fcfg.SourceID == "" {
		fcfg.SourceID = hostOID()
	}
	if fc, err := faxfhir.New(fcfg); err == nil {
		// Validate refuses a source_id that is not an OID; a
		// configuration built in code with one keeps fax.source_id for
		// every folder.
		if own, err := fc.WithFolderSourceIDs(cfg.FolderSourceIDs()); err == nil {
			fc = own
		}
		m["fax"] = pipeline.Fax{Conv: fc}
		m[xdmfhir.Format] = pipeline.XDMDocument{Conv: &xdmfhir.Converter{Docs: fc, Systems: cfg.Identifiers.Systems}}
	}
	return m
}

// ccdaMode is the C-CDA converter's write mode for the HL7 v2 one: with
// patient-conditional both find the patient by identifier, so one that
// arrives by either path lands on the exchange's one record; otherwise
// C-CDA keeps PUT Type/<id> (its conditional mode cannot be split, and
// documents are large).
func ccdaMode(m v2fhir.Mode) ccdafhir.Mode {
	if m == v2fhir.ModePatientConditional {
		return ccdafhir.ModePatientConditional
	}
	return ccdafhir.ModePutID
}

// csvConverter reads the CSV files of the EHR drops with each folder's
// csv mappings, writing as the HL7 v2 path writes (hl7v2.writes and
// max_entries), so a patient from a CSV and one from an ADT feed land on
// one record; with hl7v2.patient_from_adt_only the ADT feed keeps the
// demographics and a Patient row only creates a patient the exchange
// lacks. Row errors quote cells only with log.phi.
func csvConverter(cfg *config.Config, base string, mode v2fhir.Mode) pipeline.CSV {
	folders := map[string][]csvfhir.Mapping{}
	for _, f := range cfg.Sources.Folders {
		if f.Kind == "ehr" && len(f.CSV) > 0 {
			folders[f.Name] = f.CSV
		}
	}
	cm := csvfhir.ModePatientConditional
	switch mode {
	case v2fhir.ModeID:
		cm = csvfhir.ModeIDs
	case v2fhir.ModeConditional:
		cm = csvfhir.ModeConditional
	}
	return pipeline.CSV{Folders: folders, Options: csvfhir.Options{Base: base, Mode: cm, MaxEntries: cfg.HL7v2.MaxEntries,
		PatientCreateOnly: cfg.HL7v2.PatientFromADTOnly, LogPHI: cfg.Log.PHI}}
}

// hostOID returns 2.25.<the UUIDv5 of the host name, as a decimal>.
func hostOID() string {
	host, _ := os.Hostname()
	u := uuid.NewSHA1(uuid.NameSpaceDNS, []byte("ferry."+host))
	return "2.25." + new(big.Int).SetBytes(u[:]).String()
}

// newFolderSource builds the source for one watched folder by its kind.
func newFolderSource(set adapters.Settings, f config.Folder, next adapters.Consumer, opts ...folder.Option) (adapters.Source, error) {
	switch f.Kind {
	case "ehr":
		s, err := ehrdrop.New(set, f.Config.Config, next, opts...)
		if err != nil {
			return nil, err
		}
		s.SetCSV(f.CSV)
		return s, nil
	case "fax", "hylafax":
		return fax.New(set, f.Config, next, opts...)
	}
	return nil, fmt.Errorf("unknown folder kind %q", f.Kind)
}

// ingestPipeline builds the pipeline from converted input to queue the way
// the gateway and backfill both need it: quarantine and held stores sealed
// with key (nil: encryption off), patient keys pseudonymised under it, and
// exchange.hold applied with onHeld told of each bundle kept back. A
// release of a held bundle or a replay of a quarantined input cut short
// after it was queued is finished first, and onFinished (when not nil) is
// given its audit event, which the command did not record or may not
// have. It returns the held store too, for callers that count what it
// keeps.
func ingestPipeline(cfg *config.Config, q pipeline.Putter, seen pipeline.Deduper, key *seal.Key, convs map[string]pipeline.Converter, log *slog.Logger, onHeld func(adapters.Raw, *pipeline.Unit, string), onFinished func(audit.OperatorAction)) (*pipeline.Pipeline, *pipeline.Held, error) {
	quar, err := pipeline.OpenQuarantine(cfg.Path("quarantine"))
	if err != nil {
		return nil, nil, err
	}
	// Every caller holds the queue's lock, so no other process writes
	// to these stores now: what a crash left half-written can go.
	if err := quar.RemoveTemps(); err != nil {
		return nil, nil, err
	}
	quar.SetKey(key)
	if c, ok := q.(pipeline.DeliveryLogger); ok {
		// The queue logs the patients delivered while the quarantine
		// holds inputs, which `ferry quarantine replay` weighs once it
		// knows an input's patient.
		if err := quar.LogDeliveries(c); err != nil {
			return nil, nil, err
		}
	}
	pipe := pipeline.New(q, seen, quar, convs, log)
	if key != nil {
		// Sealed data at rest: the patient key beside it is keyed too.
		pipe.SetPseudonym(key.Pseudonym)
		if len(key.PreviousIDs()) > 0 {
			// After a rotation, dead letters queued before it name
			// their document versions by the previous keys'.
			pipe.SetPreviousPseudonyms(key.PreviousPseudonyms)
		}
	}
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		return nil, nil, err
	}
	if err := held.RemoveTemps(); err != nil {
		return nil, nil, err
	}
	held.SetKey(key)
	held.SetSpillOpener(spillOpener(key))
	// Read before they are finished, which removes them: the release's
	// audit event names the entry's patient and label.
	releasing := releasesBegun(held)
	replayed, released, _, err := finishCutShort(q, seen, quar, held, log)
	if onFinished != nil {
		// Recorded even when finishing the rest failed: what was
		// finished is sent on.
		for _, r := range replayed {
			for _, x := range finishedReplay(r) {
				onFinished(x)
			}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	for id, qid := range released {
		if log != nil {
			log.Warn("a release of a held bundle was cut short after it was queued; finished (the bundle is no longer held)", "held", id, "queue_id", qid)
		}
		if onFinished != nil {
			onFinished(finishedRelease(id, qid, releasing[id]))
		}
	}
	if c, ok := q.(pipeline.LaterCounter); ok {
		// The queue counts the newer items of each held bundle's patient
		// delivered while it is held, which `ferry held release` weighs.
		held.SetLaterCounter(c)
		if err := held.Track(c); err != nil {
			return nil, nil, err
		}
	}
	pipe.SetPolicy(pipeline.Policy{Hold: cfg.Exchange.Hold, Open: spillOpener(key)}, held, onHeld)
	if cfg.Audit.NamesIdentifiers() {
		// The Export event of each delivery names the patient by its
		// identifier, which only the conversion knows: kept with the
		// item, sealed when data at rest is.
		pipe.SetPatientIdentity(patientAttr(key))
	}
	return pipe, held, nil
}

// finishCutShort finishes what a `ferry quarantine replay` or a `ferry
// held release` cut short (the command killed, the power lost) left in
// the quarantine and the held store. Every process that takes the
// queue's lock to write to them (the gateway, a replay, a release) calls
// it first, before the queue stores or delivers anything: a release run
// before the gateway's next start, and not finishing a replay first,
// released a bundle the replay had held without telling the duplicate
// filter its key, and the entry's next replay held it again, for a
// second release. It returns the replays and the releases it finished
// (held entry to queue item ID), for the caller to record and report,
// and the held entries of replays it removed (logged with log, when not
// nil, as the replays finished are).
func finishCutShort(q pipeline.Putter, seen pipeline.Deduper, quar *pipeline.Quarantine, held *pipeline.Held, log *slog.Logger) (replayed []pipeline.ReplayFinished, released map[string]string, removed []string, err error) {
	qh, canHold := q.(interface{ Holds(id string) bool })
	if adder, ok := seen.(interface{ Add(key [32]byte) error }); ok && canHold {
		// A replay cut short after it queued an input left its entry
		// listed, and the duplicate filter perhaps without its keys:
		// finished, so that it is not queued and sent again.
		replayed, err = quar.FinishReplays(qh.Holds, adder)
		for _, r := range replayed {
			if log == nil {
				continue
			}
			if r.Listed {
				log.Warn("a replay of a quarantined input was cut short after it was queued; finished (`ferry quarantine replay` of the entry queues what it had not, if anything)", "quarantined", r.ID, "queue_id", r.Queued[0])
			} else {
				log.Warn("a replay of a quarantined input was cut short after it was queued and its entry removed; finished", "quarantined", r.ID, "queue_id", r.Queued[0])
			}
		}
		if err != nil {
			return replayed, nil, nil, err
		}
	}
	if canHold {
		// A release cut short after it queued a bundle left it held
		// too: finished before the queue delivers anything, so that it
		// is not released and sent again.
		if released, err = held.FinishReleases(qh.Holds); err != nil {
			return replayed, released, nil, err
		}
	}
	if sa, ok := seen.(interface {
		Seen(key [32]byte) bool
		Add(key [32]byte) error
	}); ok {
		// A replay cut short after it held a unit of an input left the
		// entry listed, and the duplicate filter perhaps without the
		// unit's key: told again, so that the entry's next replay does
		// not hold the unit twice. A unit whose key a part not queued
		// shares cannot be told: its entry goes, for that replay to hold
		// it once.
		if _, removed, err = held.FinishReplays(quar.Has, sa); err != nil {
			return replayed, released, removed, err
		}
		for _, id := range removed {
			if log != nil {
				log.Warn("a replay of a quarantined input was cut short after it held a part and before it queued the rest; that part's held entry is removed, and `ferry quarantine replay` of the entry holds it again", "held", id)
			}
		}
	}
	return replayed, released, removed, nil
}

// releaseBegun is a release of a held entry begun (Held.BeginRelease)
// and not finished: the entry as it was (nil when it cannot be read) and
// who ran the release, as recordBy wrote it.
type releaseBegun struct {
	e  *pipeline.HeldEntry
	by string
}

// releasesBegun returns the held entries whose release was begun
// (Held.BeginRelease) and not finished, read before finishCutShort
// removes those it finishes. An entry that cannot be read is kept
// without it: its event then names it without its patient.
func releasesBegun(held *pipeline.Held) map[string]releaseBegun {
	ids, _ := held.List()
	m := map[string]releaseBegun{}
	for _, id := range ids {
		qid, by, err := held.Releasing(id)
		if err != nil || qid == "" {
			continue
		}
		r := releaseBegun{by: by}
		if e, err := held.Get(id); err == nil {
			r.e = e
		}
		m[filepath.Base(id)] = r
	}
	return m
}

// finishedRelease is the audit event of a release cut short after it
// queued held entry id as queue item qid, finished now; r is the entry as
// it was (nil when it could not be read) and who ran the release (the
// zero Operator in the event when its record does not say). Nothing on
// disk tells whether the release had recorded its event before it was cut
// short (it does so between the Put and the entry's removal), so the
// event says it may repeat one: a release of restricted data missing from
// the trail is worse than one recorded twice.
func finishedRelease(id, qid string, r releaseBegun) audit.OperatorAction {
	x := audit.OperatorAction{Kind: audit.OpHeldRelease, Operator: recordedBy(r.by), Object: id, ObjectType: audit.IDHeldBundle, QueueID: qid}
	held := "released from hold"
	if e := r.e; e != nil {
		x.Patient, x.ControlID, x.Label = e.Key, e.Attrs["control_id"], e.Label
		held += " (" + e.Label + ")"
	}
	x.OutcomeDesc = held + " by a person; queued for the exchange (a release cut short after queueing it, finished now; it may have recorded this event before it was cut short)"
	return x
}

// finishedReplay is the audit events of a replay of a quarantined input
// cut short after it queued (a part of) it, finished now: the input is
// sent on, as the replay's own events would have said. They name the
// person who ran the replay when its record does (the zero Operator
// otherwise), and one patient each, with that patient's first queue
// item, as a replay's events do (replayEvents). Nothing on disk tells
// whether the replay recorded them before it was cut short (it does so
// after the entry's removal, before the record's), so each says it may
// repeat one.
func finishedReplay(r pipeline.ReplayFinished) []audit.OperatorAction {
	x := audit.OperatorAction{Kind: audit.OpQuarantineReplay, Operator: recordedBy(r.By), Object: r.ID, ObjectType: audit.IDQuarantined}
	x.OutcomeDesc = "converted and queued for the exchange (a replay cut short after queueing it, finished now; it may have recorded this event before it was cut short)"
	if r.Listed {
		x.OutcomeDesc += "; its quarantine entry is still listed, and a replay of it queues what was not queued, if anything"
	}
	items := make([]queuedItem, len(r.Queued))
	for i, qid := range r.Queued {
		items[i] = queuedItem{id: qid, key: r.Patients[i]}
	}
	return replayEvents(x, items)
}

// replayEvents is x, the event of a replay of a quarantined input, once
// for each patient of items (the bundles the replay queued or held, in
// order), naming that patient and its first item: DICOM's Patient Record
// message (PS3.15 A.5.3.9) names one patient, and an input of several
// (an export's CSV file, quarantined whole) sends each one's data on. x
// as it is when no item names a patient.
func replayEvents(x audit.OperatorAction, items []queuedItem) []audit.OperatorAction {
	var xs []audit.OperatorAction
	seen := map[string]bool{}
	for _, it := range items {
		if it.key == "" || seen[it.key] {
			continue
		}
		seen[it.key] = true
		y := x
		y.Patient, y.ControlID, y.QueueID = it.key, it.controlID, it.id
		xs = append(xs, y)
	}
	if len(xs) == 0 {
		if len(items) > 0 {
			x.QueueID = items[0].id
		}
		xs = append(xs, x)
	}
	return xs
}

// recordBy is op as the record of a replay or a release begun keeps it
// (Quarantine.SetReplayedBy, Held.BeginRelease), for the process that
// finishes one cut short to name the person: an account and a host
// name, no PHI.
func recordBy(op audit.Operator) string {
	b, _ := json.Marshal(op)
	return string(b)
}

// recordedBy reads what recordBy wrote; the zero Operator when nothing
// was recorded (a record an older version wrote) or it cannot be read.
func recordedBy(s string) audit.Operator {
	var op audit.Operator
	if s == "" || json.Unmarshal([]byte(s), &op) != nil {
		return audit.Operator{}
	}
	return op
}

// openMerges opens data_dir/merges.log, the patient identifiers that
// merges (ADT^A40, A47) retired, sealed with key when data at rest is,
// and gives it to the converters of convs (HL7 v2, C-CDA, fax and XDM
// documents, CSV), which tie a later input naming a retired identifier
// to the survivor, and to pipe, which records each merge before its
// message is acknowledged. The caller closes it after the pipeline.
func openMerges(cfg *config.Config, key *seal.Key, convs map[string]pipeline.Converter, pipe *pipeline.Pipeline, log *slog.Logger) (*merges.Registry, error) {
	reg, err := merges.Open(cfg.Path(merges.FileName), merges.Options{Key: key, Logger: log})
	if err != nil {
		return nil, err
	}
	for f, c := range convs {
		switch c := c.(type) {
		case pipeline.HL7:
			if c.Conv != nil {
				c.Conv.Merges = reg
			}
		case pipeline.CCDA:
			c.Options.Merges = reg
			convs[f] = c
		case pipeline.CSV:
			c.Options.Merges = reg
			convs[f] = c
		case pipeline.Fax:
			// The XDM documents' converter files them through this one.
			if c.Conv != nil {
				c.Conv.Merges = reg
			}
		case pipeline.XDMDocument:
			if c.Conv != nil && c.Conv.Docs != nil {
				c.Conv.Docs.Merges = reg
			}
		}
	}
	pipe.SetMerges(reg)
	return reg, nil
}
