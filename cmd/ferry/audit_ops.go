package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport/audit"
)

// Operator actions — `ferry held release|discard`, `ferry queue
// show|retry|purge`, `ferry quarantine show|replay|purge`, `ferry
// backfill`, `ferry backup` and the same dead-letter operations over the gateway's ops
// API — read, re-queue, delete or disclose patient data, so each leaves an audit event naming the person (see
// audit.OperatorEvent for the codes).
//
// The commands run as processes of their own. Each opens an opsAudit: an
// audit.Emitter with the gateway's audit configuration that sends at once
// and, when the repository is unreachable, leaves the events fsynced in
// <data_dir>/audit/handoff, where the gateway's sink picks them up. When
// audit is configured but the trail cannot be written at all (TLS files
// or the data folder unreadable for this account), the command refuses
// before it acts: an override of the disclosure policy must not happen
// unaudited. When audit is not configured, nothing is recorded, as in the
// gateway.

// opsFlushEvery bounds how many events a bulk command (backfill) keeps in
// memory before sending them.
const opsFlushEvery = 256

// opsAudit records a CLI process's events. Its methods are safe on a nil
// *opsAudit (audit off).
type opsAudit struct {
	cfg          *config.Config
	em           *audit.Emitter
	op           audit.Operator
	gateway      string
	host         string
	exchangeURL  string
	exchangeHost string

	buf       []audit.Event
	handedOff int
	err       error // first failed flush of Record's buffer
}

// newOpsAudit opens the audit trail for a command; nil, nil when audit is
// off. what names the command in the error.
func newOpsAudit(cfg *config.Config, what string) (*opsAudit, error) {
	if !cfg.Audit.Enabled() {
		return nil, nil
	}
	key, err := opsKey(cfg)
	if err != nil {
		return nil, err
	}
	em, err := audit.NewEmitter(audit.Options{
		Key:        key, // seals what is handed off, as the gateway seals its spool
		URL:        cfg.Audit.URL,
		TLS:        cfg.Audit.TLS,
		Proxy:      cfg.Proxy,
		SourceID:   cfg.Audit.SourceID,
		Site:       cfg.Audit.Site,
		HandoffDir: cfg.Path("audit", "handoff"),
		DTLSBare:   cfg.Audit.DTLSBare(),
	})
	if err != nil {
		return nil, fmt.Errorf("%s is recorded in the audit trail (audit.url is set), and it cannot be written: %w; run as root or the ferry account", what, err)
	}
	a := &opsAudit{cfg: cfg, em: em, op: ops.LocalOperator(), gateway: cfg.Audit.SourceID}
	a.host, _ = os.Hostname()
	a.exchangeURL = cfg.Exchange.URL
	if u, err := url.Parse(a.exchangeURL); err == nil {
		a.exchangeHost = u.Hostname()
	}
	if a.exchangeURL == "" {
		a.exchangeURL, a.exchangeHost = "file:"+cfg.Path("outbox"), a.host
	}
	return a, nil
}

// action records one operator action now (sent, or handed off durably);
// an error means the event is lost and the caller must say so. It names
// the person running the command, unless x names another (the one who
// ran a release or a replay this command finished).
func (a *opsAudit) action(ctx context.Context, x audit.OperatorAction) error {
	return a.actions(ctx, []audit.OperatorAction{x})
}

// actions is action for the events of one action (a replay's, one per
// patient): sent together, or handed off in one file.
func (a *opsAudit) actions(ctx context.Context, xs []audit.OperatorAction) error {
	if a == nil {
		return nil
	}
	for _, x := range xs {
		if x.Operator.UserID == "" {
			x.Operator = a.op
		}
		x.Gateway, x.GatewayAddr = a.gateway, a.host
		if x.ExchangeURL == "" {
			x.ExchangeURL, x.ExchangeAddr = a.exchangeURL, a.exchangeHost
		} else if x.ExchangeAddr == "" {
			x.ExchangeAddr = a.host // a file this machine wrote (a backup)
		}
		if x.Time.IsZero() {
			x.Time = time.Now()
		}
		a.buf = append(a.buf, audit.OperatorEvent(x))
	}
	return a.flush(ctx)
}

// Record buffers ev for a bulk command and sends every opsFlushEvery;
// Close sends the rest. It implements recorder for an auditTrail.
func (a *opsAudit) Record(ev audit.Event) {
	if a == nil {
		return
	}
	a.buf = append(a.buf, ev)
	if len(a.buf) >= opsFlushEvery {
		if err := a.flush(context.Background()); err != nil && a.err == nil {
			a.err = err
		}
	}
}

func (a *opsAudit) flush(ctx context.Context) error {
	if len(a.buf) == 0 {
		return nil
	}
	n, err := a.em.Emit(ctx, a.buf...)
	a.buf = a.buf[:0]
	a.handedOff += n
	if err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// trail returns an auditTrail whose events (imports, holds) go through a
// and name the person running the command; nil when audit is off.
func (a *opsAudit) trail() *auditTrail {
	if a == nil {
		return nil
	}
	op := a.op
	return &auditTrail{
		rec: a, operator: &op,
		gateway: a.gateway, host: a.host,
		exchangeURL: a.exchangeURL, exchangeHost: a.exchangeHost,
		faxIsMHD:   a.cfg.Fax.Profile != faxfhir.ProfileUSCore,
		v2Exchange: a.cfg.Exchange.TakesV2(),
		logPHI:     a.cfg.Log.PHI,
		// Imports name their patients; a CLI process delivers nothing,
		// so it needs no key to open the identifiers queued.
		identifiers: a.cfg.Audit.NamesIdentifiers(),
	}
}

// Close sends what is buffered and closes the connection. When events
// had to be handed off it says so on w; the data folder's files go back
// to the service account (the hand-off directory may have been created
// by root). The error reports events that were lost.
func (a *opsAudit) Close(ctx context.Context, w io.Writer) error {
	if a == nil {
		return nil
	}
	err := errors.Join(a.err, a.flush(ctx))
	a.em.Close()
	if a.handedOff > 0 {
		fmt.Fprintf(w, "audit repository unreachable (%v): %d audit event(s) kept in %s; the gateway sends them when it runs\n",
			a.em.Unreachable(), a.handedOff, a.cfg.Path("audit", "handoff"))
	}
	installer.FixOwnership(a.cfg.DataDir)
	return err
}

// opsAPIAudit returns the hook that records the ops API's dead-letter
// operations (nothing when audit is off). The person is "ops-api": the
// token proves only that the caller can read the data folder; the account
// the client names and its address are recorded beside it.
func (g *gateway) opsAPIAudit() []ops.OpsAudit {
	t := g.audit
	denied := g.opsAPIDenied()
	if t == nil {
		return []ops.OpsAudit{{Denied: denied}}
	}
	key := g.key
	return []ops.OpsAudit{{
		Denied: denied,
		Lookup: func(id string) *diskq.DeadLetter {
			dl, err := diskq.InspectDeadLetter(ops.QueueDir(g.cfg), ops.DeadLetterDir(g.cfg), key, id)
			if err != nil {
				// purge also takes an item still waiting for delivery.
				return waitingItem(g.q, id)
			}
			return dl
		},
		Record: func(r ops.OpRecord) {
			kind := map[string]audit.OpKind{"read": audit.OpDeadLetterRead, "retry": audit.OpDeadLetterRetry, "purge": audit.OpDeadLetterPurge}[r.Action]
			x := audit.OperatorAction{
				Kind:     kind,
				Operator: audit.Operator{UserID: "ops-api", AltUserID: r.Operator, Address: remoteHost(r.Remote)},
				Gateway:  t.gateway, GatewayAddr: t.host,
				Object: r.ID, Time: time.Now(),
			}
			if r.DeadLetter != nil {
				x.Patient, x.ControlID = r.DeadLetter.Key, r.DeadLetter.Attrs["control_id"]
			}
			x.Outcome, x.OutcomeDesc = opOutcome(r.Action, r.Err)
			t.rec.Record(audit.OperatorEvent(x))
		},
	}}
}

// waitingItem describes, for the audit event of a purge, the item id that
// is still waiting for delivery in q (its patient key); nil when q holds
// none. Purging one deletes patient data as purging a dead letter does.
func waitingItem(q *diskq.Queue, id string) *diskq.DeadLetter {
	if q == nil {
		return nil
	}
	for _, p := range q.Pending(0) {
		if p.ID == id {
			return &diskq.DeadLetter{ID: p.ID, Key: p.Key}
		}
	}
	return nil
}

// deadLetterAction records a dead-letter operation of a CLI process; dl
// is what was known about the dead letter before (nil: nothing).
func (a *opsAudit) deadLetterAction(ctx context.Context, action, id string, dl *diskq.DeadLetter, opErr error) error {
	if a == nil {
		return nil
	}
	kind := map[string]audit.OpKind{"read": audit.OpDeadLetterRead, "retry": audit.OpDeadLetterRetry, "purge": audit.OpDeadLetterPurge}[action]
	x := audit.OperatorAction{Kind: kind, Object: id}
	if dl != nil {
		x.Patient, x.ControlID = dl.Key, dl.Attrs["control_id"]
	}
	x.Outcome, x.OutcomeDesc = opOutcome(action, opErr)
	return a.action(ctx, x)
}

// opOutcome is the outcome of an operator action: success, or a serious
// failure with a PHI-free description (error texts may quote a dead
// letter's reason, so they are left out).
func opOutcome(action string, err error) (audit.Outcome, string) {
	if err == nil {
		return audit.OutcomeSuccess, ""
	}
	if errors.Is(err, diskq.ErrNotFound) || errors.Is(err, ops.ErrNoSuchItem) || errors.Is(err, fs.ErrNotExist) {
		return audit.OutcomeMinorFailure, action + " failed: no such item"
	}
	return audit.OutcomeSeriousFail, action + " failed"
}

// deniedEvery is how often a refused ops API request from one host is
// logged and audited: a local process that hammers the API with wrong
// tokens must not flood the log or the audit repository. The refusals in
// between are counted into the next report.
const deniedEvery = time.Minute

// opsAPIDenied returns the hook for ops API requests refused for their
// token (log-in monitoring): a WARN and, when audit is on, a User
// Authentication / Login failure event naming the caller's address and
// the account it claimed; at most one per host per deniedEvery.
func (g *gateway) opsAPIDenied() func(ops.OpRecord) {
	limit := newPerHost[string]()
	return func(r ops.OpRecord) {
		host := remoteHost(r.Remote)
		now := time.Now()
		ok, missed := limit.allow(host, now)
		if !ok {
			return
		}
		reason := r.Err.Error() + " for " + r.Action
		if missed > 0 {
			reason += fmt.Sprintf(" (and %d more refusals from this host in the last %s)", missed, deniedEvery)
		}
		g.log.Warn("ops api request refused: "+r.Err.Error(), "remote", host, "operator", r.Operator, "request", r.Action, "more_refused", missed)
		if t := g.audit; t != nil {
			t.rec.Record(audit.LoginFailure(audit.Operator{UserID: "ops-api", AltUserID: r.Operator, Address: host}, t.gateway, t.host, reason, now))
		}
	}
}
