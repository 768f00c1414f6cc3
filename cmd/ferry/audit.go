package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/audit"
)

// newAuditSink builds the ATNA audit sink from cfg.Audit, spooling under
// <data_dir>/audit/spool; it returns nil, nil when no audit repository is
// configured. It does not connect (Start does, without blocking).
func (g *gateway) newAuditSink() (*audit.Sink, error) {
	a := g.cfg.Audit
	if !a.Enabled() {
		return nil, nil
	}
	return audit.New(audit.Options{
		URL:           a.URL,
		TLS:           a.TLS,
		Proxy:         g.cfg.Proxy,
		SourceID:      a.SourceID,
		Site:          a.Site,
		SpoolDir:      g.cfg.Path("audit", "spool"),
		HandoffDir:    g.cfg.Path("audit", "handoff"),
		MaxSpoolBytes: a.MaxSpoolBytes,
		DTLSBare:      a.DTLSBare(),
		Key:           g.key,
		Logger:        g.log.With("component", "audit"),
	})
}

// auditTrail turns gateway events into ATNA audit events. Its methods are
// safe on a nil *auditTrail (audit off), so call sites need no checks.
// Every method only encodes and hands over to the sink's bounded channel:
// none blocks the data path.
type auditTrail struct {
	sink *audit.Sink // nil in a CLI process (rec is its opsAudit)
	rec  recorder
	// operator is the person behind a CLI process's events (backfill);
	// nil in the gateway.
	operator     *audit.Operator
	gateway      string // AuditSourceID, also the gateway's UserID
	host         string
	exchangeURL  string
	exchangeHost string
	faxIsMHD     bool
	v2Exchange   bool // the exchange takes HL7 v2 over MLLP (exports name the message type)
	fileExchange bool // bundles go as files, over SFTP or to the outbox (no HTTP request to name)
	logPHI       bool
	// identifiers: events name patients by identifier (audit.patient_identity
	// identifier), not by ferry's key.
	identifiers bool
	// key opens the identifiers the pipeline sealed into queue items
	// (patientAttr); nil when data at rest is not sealed.
	key *seal.Key
	// media names the media of each watched folder and fax mailbox, by
	// the name their inputs carry (folder.MetaFolder), for the Source
	// Media of their Import events.
	media map[string]sourceMedia
	// from, when set, is the media every input of this process comes
	// from (the folder `ferry backfill` reads), in place of media.
	from *sourceMedia
}

// sourceMedia is what an Import names as its Source Media (DICOM PS3.15
// A.5.3.5): the media's identifier and its type (CID 405).
type sourceMedia struct {
	id  string
	typ audit.Code
}

// inputMedia maps each watched folder's name to its "file:" URI (the
// folder, not a file in it: file names carry patients' names) and each
// fax mailbox's to its IMAP URL (RFC 5092, without the user name).
func inputMedia(cfg *config.Config) map[string]sourceMedia {
	m := map[string]sourceMedia{}
	for _, f := range cfg.Sources.Folders {
		m[f.Name] = sourceMedia{id: "file:" + f.Path, typ: audit.MediaURI}
	}
	for _, mb := range cfg.Sources.Mailboxes {
		box := mb.Mailbox
		if box == "" {
			box = "INBOX"
		}
		m[mb.Name] = sourceMedia{id: "imap://" + mb.Address + "/" + url.PathEscape(box), typ: audit.MediaEmail}
	}
	return m
}

// newAuditTrail returns the gateway's audit trail, or nil when audit is
// off.
func (g *gateway) newAuditTrail() (*auditTrail, error) {
	s, err := g.newAuditSink()
	if err != nil || s == nil {
		return nil, err
	}
	host, _ := os.Hostname()
	t := &auditTrail{
		sink:         s,
		rec:          s,
		gateway:      g.cfg.Audit.SourceID,
		host:         host,
		exchangeURL:  g.cfg.Exchange.URL,
		faxIsMHD:     g.cfg.Fax.Profile != faxfhir.ProfileUSCore,
		v2Exchange:   g.cfg.Exchange.TakesV2(),
		fileExchange: g.cfg.Exchange.FileDrop() || g.cfg.Exchange.URL == "",
		logPHI:       g.cfg.Log.PHI,
		identifiers:  g.cfg.Audit.NamesIdentifiers(),
		key:          g.key,
		media:        inputMedia(g.cfg),
	}
	if u, err := url.Parse(t.exchangeURL); err == nil {
		t.exchangeHost = u.Hostname()
	}
	if t.exchangeURL == "" {
		t.exchangeURL = "file:" + g.cfg.Path("outbox")
		t.exchangeHost = host
	}
	return t, nil
}

// recorder takes an audit event without blocking the caller for long:
// the gateway's *audit.Sink, or a CLI process's *opsAudit.
type recorder interface{ Record(audit.Event) }

// Start starts the sink; an unreachable repository does not fail it.
func (t *auditTrail) Start(ctx context.Context) error {
	if t == nil || t.sink == nil {
		return nil
	}
	return t.sink.Start(ctx)
}

// Shutdown sends or spools what is queued and closes the sink.
func (t *auditTrail) Shutdown(ctx context.Context) error {
	if t == nil || t.sink == nil {
		return nil
	}
	return t.sink.Shutdown(ctx)
}

// Stats reports the sink's counters (zero when audit is off).
func (t *auditTrail) Stats() audit.Stats {
	if t == nil || t.sink == nil {
		return audit.Stats{}
	}
	return t.sink.Stats()
}

// activity records the gateway starting (start true) or stopping as DICOM
// Application Activity, the account it runs as the launcher. Call it
// after Start (the sink then sends or spools it) and before Shutdown (the
// sink sends or spools what is queued as it stops); at is the event's
// time. failed is why the gateway did not start, for the start and the
// stop of such a run: their outcome is then a serious failure, saying so,
// not the success of a run that took input.
func (t *auditTrail) activity(start bool, failed error, at time.Time) {
	if t == nil {
		return
	}
	op := ops.LocalOperator()
	ev := audit.ApplicationActivity(start, t.gateway, t.host, strconv.Itoa(os.Getpid()), &op, at)
	if failed != nil {
		// A start error names a setting, a port or a file, never PHI
		// (it is logged as "ferry did not start").
		ev.Outcome, ev.OutcomeDesc = audit.OutcomeSeriousFail, "the gateway did not start: "+failed.Error()
	}
	t.rec.Record(ev)
}

// markRunning reports a previous run that ended without stopping (its
// marker is still there: a crash, kill -9, a power cut) to the repository
// as Audit Recording Stopped, since the events it had recorded but not
// yet sent or spooled are lost, then writes this run's marker. Call it
// after activity(true).
func (t *auditTrail) markRunning(dir string) error {
	if t == nil {
		return nil
	}
	path := filepath.Join(dir, ops.RunMarker)
	if b, err := os.ReadFile(path); err == nil {
		pid, started := "unknown", time.Time{}
		for _, f := range strings.Fields(string(b)) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "pid":
				pid = v
			case "started":
				started, _ = time.Parse(time.RFC3339Nano, v)
			}
		}
		t.rec.Record(audit.UncleanStop(t.gateway, t.host, started, pid, time.Now()))
	}
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return durable.WriteFile(path, fmt.Appendf(nil, "pid=%d started=%s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339Nano)), 0o600)
}

// clearRunning removes the run marker after a clean stop; dir is
// <data_dir>/audit. A gateway without audit removes a marker an earlier
// run with audit left, so that turning audit on later reports no stale
// gap.
func clearRunning(dir string) error {
	if err := os.Remove(filepath.Join(dir, ops.RunMarker)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// delivered records DCM 110106 Export for a bundle the exchange accepted;
// use it as transport.DispatcherOptions.OnDelivered. The patient is named
// by its identifier, which the pipeline kept with the item (AttrPatient,
// sealed when data at rest is: see patientAttr), so the repository can
// account for the disclosure on its own; with audit.patient_identity key,
// or for an item queued without it (before this release), by the item's
// Key, ferry's hash of the identifier.
func (t *auditTrail) delivered(it *queue.Item) {
	t.export(it, audit.OutcomeSuccess, "")
}

// rejected records Export with a serious-failure outcome for a bundle the
// exchange refused permanently; use it as DispatcherOptions.OnRejected.
func (t *auditTrail) rejected(it *queue.Item, err error) {
	desc := transport.Summary(err)
	if t != nil && t.logPHI {
		desc = err.Error()
	}
	t.export(it, audit.OutcomeSeriousFail, desc)
}

// mhdFormat reports whether bundles of an input format are the fax
// converter's, an IHE MHD ITI-65 Provide Document Bundle unless the fax
// section's profile is us-core: faxes and the documents of XDM packages
// filed as DocumentReferences.
func mhdFormat(format string) bool { return format == "fax" || format == xdmfhir.Format }

func (t *auditTrail) export(it *queue.Item, outcome audit.Outcome, desc string) {
	if t == nil {
		return
	}
	x := audit.Export{
		Gateway: t.gateway, GatewayAddr: t.host,
		ExchangeURL: t.exchangeURL, ExchangeAddr: t.exchangeHost,
		MHD:     mhdFormat(it.Attrs["format"]) && t.faxIsMHD,
		Patient: it.Key, IDType: audit.IDPatientKey,
		PatientID:     t.itemPatient(it),
		ControlID:     it.Attrs["control_id"],
		SubmissionSet: it.Attrs[pipeline.AttrSubmissionSet],
		Document:      it.Attrs[pipeline.AttrDocument],
		BundleID:      it.ID,
		Outcome:       outcome, OutcomeDesc: desc,
		Time: time.Now(),
	}
	if t.v2Exchange {
		x.V2MessageType = it.Attrs["type"]
	}
	x.File = t.fileExchange
	t.rec.Record(audit.ExportEvent(x))
}

// received records DCM 110107 Import for one input a source handed to the
// pipeline, with the outcome of Consume (nil: stored; permanent: rejected
// into the quarantine; other: refused for now, the sender retries). For
// HL7 v2 the sending application, message type and control id come from
// MSH. patients are the identifiers of the input's patients the pipeline
// noted (pipeline.WithPatients); they are named unless audit.patient_identity
// is key.
func (t *auditTrail) received(in adapters.Raw, err error, patients ...fhir.Identifier) {
	if t == nil {
		return
	}
	x := audit.Import{
		Sender: in.Source, SenderAddr: remoteHost(in.Meta["remote"]),
		Gateway: t.gateway, GatewayAddr: t.host,
		Format: in.Format, Input: inputID(in),
		Operator: t.operator,
		Time:     in.Received,
	}
	if m, ok := t.media[in.Meta[folder.MetaFolder]]; t.from != nil {
		x.Media, x.MediaType = t.from.id, t.from.typ
	} else if ok && in.Meta[folder.MetaFolder] != "" {
		x.Media, x.MediaType = m.id, m.typ
	}
	if t.identifiers {
		for _, id := range patients {
			x.PatientIDs = append(x.PatientIDs, audit.PatientID{System: id.System, Value: id.Value})
		}
	}
	if in.Format == "hl7v2" {
		if app, typ, ctl := mshFacts(in.Body); app != "" {
			x.Sender, x.MessageType, x.ControlID = app, typ, ctl
		} else {
			x.MessageType, x.ControlID = typ, ctl
		}
	}
	switch {
	case err == nil:
	case queue.IsPermanent(err):
		x.Outcome, x.OutcomeDesc = audit.OutcomeSeriousFail, "rejected; input quarantined"
	default:
		x.Outcome, x.OutcomeDesc = audit.OutcomeMinorFailure, "not stored; sender will retry"
	}
	t.rec.Record(audit.ImportEvent(x))
}

// finishedCutShort records x, the event of a release of a held bundle
// or a replay of a quarantined input cut short and finished by this
// process as it opened the queue (finishedRelease and finishedReplay in
// components.go). x names the person who ran the release or the replay
// when its record did; the event says who finished it. When the record
// did not (one an older version wrote), the gateway's event says the
// person is not known, and a command's names the person running it, as
// the command's own finishing of a release does.
func (t *auditTrail) finishedCutShort(x audit.OperatorAction) {
	if t == nil {
		return
	}
	switch {
	case x.Operator.UserID != "" && t.operator != nil:
		x.OutcomeDesc += "; finished by a later command, run by " + t.operator.UserID
	case x.Operator.UserID != "":
		x.OutcomeDesc += "; finished at the gateway's start"
	case t.operator != nil:
		x.Operator = *t.operator
		x.OutcomeDesc += "; finished by this command"
	default:
		x.Operator = audit.Operator{UserID: "unknown", Address: t.host}
		x.OutcomeDesc += "; finished at the gateway's start, the person who ran it not known to the gateway"
	}
	x.Gateway, x.GatewayAddr = t.gateway, t.host
	x.ExchangeURL, x.ExchangeAddr = t.exchangeURL, t.exchangeHost
	x.Time = time.Now()
	t.rec.Record(audit.OperatorEvent(x))
}

// inputID names an input in audit events by its content: "sha256:" and
// the hex digest. in.Name is not used: for folder sources it is the file
// name, and fax and EHR export files are often named after the patient
// ("DOE_JANE_MRN777123.tif"). The folder sources and backfill put the
// digest in Meta["sha256"] (their dedup key); for other inputs (MLLP) it
// is computed from the body, a few microseconds for a message.
func inputID(in adapters.Raw) string {
	if h := in.Meta["sha256"]; h != "" {
		return "sha256:" + h
	}
	if in.Body != nil {
		sum := sha256.Sum256(in.Body)
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return ""
}

// auditingConsumer records an Import event for every input, after the
// pipeline has answered.
type auditingConsumer struct {
	next  adapters.Consumer
	trail *auditTrail
}

func (c auditingConsumer) Consume(ctx context.Context, in adapters.Raw) error {
	if !c.trail.identifiers {
		err := c.next.Consume(ctx, in)
		c.trail.received(in, err)
		return err
	}
	ctx, patients := pipeline.WithPatients(ctx)
	err := c.next.Consume(ctx, in)
	c.trail.received(in, err, patients.IDs()...)
	return err
}

// sealedPatient prefixes an AttrPatient value sealed with the data-at-rest
// key (base64url of the seal blob); without the prefix the value is the
// identifier's JSON in clear.
const sealedPatient = pipeline.SealedPatientPrefix

// patientAttr returns the function with which the pipeline keeps a unit's
// patient identifier in its queue item (pipeline.SetPatientIdentity), for
// the Export event of its delivery: queue attributes stay in clear on
// disk (replay and ordering need no key), so with data at rest sealed the
// identifier is sealed with key, bound to the item's patient key (which
// is itself keyed) so that it cannot be moved to another patient's item
// unnoticed. Without a key it is kept in clear, as the bundle beside it
// is.
func patientAttr(key *seal.Key) func(string, fhir.Identifier) string {
	return func(itemKey string, id fhir.Identifier) string {
		b, err := json.Marshal([2]string{id.System, id.Value})
		if err != nil {
			return ""
		}
		if key == nil {
			return string(b)
		}
		return sealedPatient + base64.RawURLEncoding.EncodeToString(key.Seal(nil, b, patientAAD(itemKey)))
	}
}

func patientAAD(itemKey string) []byte { return []byte("ferry audit patient\x00" + itemKey) }

// resealPatient returns attrs with its patient identifier (AttrPatient)
// sealed with key, for an item stored anew (a dead letter retried, a held
// bundle released), whose body the queue seals with key too: kept sealed
// with a previous key, it needed that key after doctor, which counts an
// item by its body's key, called it removable, and an identifier kept in
// clear from before encryption was turned on would be written in clear
// into a data_dir meant to be encrypted. attrs itself is not changed (a
// new map is returned when the value changes). An identifier that no
// configured key opens is left as it is.
func resealPatient(key *seal.Key, itemKey string, attrs map[string]string) map[string]string {
	v := attrs[pipeline.AttrPatient]
	if key == nil || v == "" {
		return attrs
	}
	b := []byte(v)
	if s, ok := strings.CutPrefix(v, sealedPatient); ok {
		blob, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return attrs
		}
		if id, ok := seal.KeyIDOf(blob); ok && id == key.ID() {
			return attrs
		}
		if b, err = key.Open(nil, blob, patientAAD(itemKey)); err != nil {
			return attrs
		}
	}
	a := maps.Clone(attrs)
	a[pipeline.AttrPatient] = sealedPatient + base64.RawURLEncoding.EncodeToString(key.Seal(nil, b, patientAAD(itemKey)))
	return a
}

// resealingRetry is edit (a queue's retry edit) preceded by resealPatient.
func resealingRetry(key *seal.Key, edit func(*queue.Item) error) func(*queue.Item) error {
	return func(it *queue.Item) error {
		it.Attrs = resealPatient(key, it.Key, it.Attrs)
		return edit(it)
	}
}

// itemPatient is the identifier patientAttr kept with it, or zero (the
// event then names the item's key) when there is none, audit names keys,
// or it cannot be opened (sealed with a key no longer configured).
func (t *auditTrail) itemPatient(it *queue.Item) audit.PatientID {
	v := it.Attrs[pipeline.AttrPatient]
	if !t.identifiers || v == "" {
		return audit.PatientID{}
	}
	b := []byte(v)
	if s, ok := strings.CutPrefix(v, sealedPatient); ok {
		blob, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || t.key == nil {
			return audit.PatientID{}
		}
		if b, err = t.key.Open(nil, blob, patientAAD(it.Key)); err != nil {
			return audit.PatientID{}
		}
	}
	var id [2]string
	if json.Unmarshal(b, &id) != nil {
		return audit.PatientID{}
	}
	return audit.PatientID{System: id[0], Value: id[1]}
}

// consumer wraps next so that every input is audited; with audit off it
// returns next itself.
func (t *auditTrail) consumer(next adapters.Consumer) adapters.Consumer {
	if t == nil {
		return next
	}
	return auditingConsumer{next: next, trail: t}
}

// mshFacts reads MSH-3^MSH-4 (sending application and facility), MSH-9
// (first two components) and MSH-10 from the first segment only: these
// are routing facts, not PHI, and reading them costs no full parse.
func mshFacts(body []byte) (sender, msgType, controlID string) {
	body = hl7v2.TrimEnvelope(body) // as Parse reads it
	if len(body) < 8 || string(body[:3]) != "MSH" {
		return "", "", ""
	}
	if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
		body = body[:i]
	}
	// f[n-1] is MSH-n; the fields after MSH-10 are left in one piece,
	// so that a header of a great many fields costs no more than a few.
	f := bytes.SplitN(body, body[3:4], 11)
	get := func(n int) []byte { // MSH-n
		if n-1 < len(f) && n < 11 {
			return f[n-1]
		}
		return nil
	}
	comp := []byte{'^'}
	if enc := get(2); len(enc) > 0 {
		comp = enc[:1]
	}
	// The components are joined with ^ whatever the message's own
	// separator: HL7 writes a message type ADT^A01, and so do the
	// pipeline and the Export of the same message.
	first := func(s []byte, n int) string {
		parts := bytes.SplitN(s, comp, n+1)
		return string(bytes.Join(parts[:min(n, len(parts))], []byte("^")))
	}
	app, fac := first(get(3), 1), first(get(4), 1)
	switch {
	case app != "" && fac != "":
		sender = app + "^" + fac
	default:
		sender = app + fac
	}
	return sender, first(get(9), 2), string(get(10))
}

// remoteHost strips the port from an MLLP source's remote address.
func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
