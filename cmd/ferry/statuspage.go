package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/queue/latency"
)

// report gathers the current figures for the status page, /api/status
// and /metrics.
func (g *gateway) report() ops.Status {
	r := ops.Status{
		Version:  versionString(),
		Started:  g.startedAt,
		Now:      time.Now().UTC(),
		DataDir:  g.cfg.DataDir,
		Exchange: exchangeName(g.cfg),
		Queue:    g.q.Stats(),
		Delivery: g.disp.Stats(),
	}
	if g.key != nil {
		r.Encryption = ops.Encryption{On: true, KeyID: g.key.ID()}
	}
	ps := g.pipe.Stats()
	r.Ingest = ops.Ingest{Queued: ps.Queued.Load(), Duplicates: ps.Duplicates.Load(), Quarantined: ps.Quarantined.Load(), Held: ps.Held.Load(),
		Unconverted: ps.Unconverted.Load(), Retied: ps.Retied.Load()}
	r.Flush = histogram(g.q.FlushLatency())
	r.Convert = map[string]*ops.Histogram{}
	for f, l := range ps.ConvertLatency() {
		r.Convert[f] = histogram(l)
	}
	names := make([]string, 0, len(g.mllps))
	for n := range g.mllps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := g.mllps[n]
		st := s.Stats()
		addr := ""
		if a := s.Addr(); a != nil {
			addr = a.String()
		}
		appAck := false
		for _, m := range g.cfg.Sources.MLLP {
			appAck = appAck || m.Name == n && m.AppAck
		}
		r.Sources = append(r.Sources, ops.SourceStatus{Name: n, Kind: "mllp", Address: addr, Messages: st.Messages, AppAck: appAck,
			Accepted: st.Accepted, Errors: st.Errors, Rejects: st.Rejects, Open: st.Open,
			AcksNotSent: st.AcksNotSent, AppAcksRequested: st.AppAcksRequested, AppAcksSent: st.AppAcksSent,
			ConnsDenied: st.Denied, ConnsRejected: st.Rejected,
			Oversized: st.Oversized, Busy: st.Busy, Buffered: st.Buffered, BufferLimit: st.BufferLimit,
			MultiMessage: st.MultiMessage, AckLatency: histogram(st.AckLatency),
			Sequences: s.Sequences(), SequenceGaps: st.SequenceGaps, SequenceRefused: st.SequenceRefused, SequenceRepeats: st.SequenceRepeats})
	}
	for _, e := range g.folders {
		c := e.Config()
		fs := ops.FolderStatus{Name: c.Name, Kind: c.Kind, Path: c.Path, Stats: e.Stats()}
		if src := g.faxInboxes[c.Name]; src != nil {
			fs.FaxesIncomplete = src.Incomplete()
		}
		r.Folders = append(r.Folders, fs)
	}
	for _, fe := range g.fetchers {
		r.Fetches = append(r.Fetches, ops.RemoteFetch{Folder: fe.folder, From: redactedFetchURL(fe.f.Config().URL), Stats: fe.f.Stats()})
	}
	for _, m := range g.mailboxes {
		c := m.Config()
		r.Mailboxes = append(r.Mailboxes, ops.MailboxStatus{Name: c.Name, Address: c.Address, Mailbox: c.Mailbox, MailboxStats: m.Stats()})
	}
	r.Certificates = ops.ConfiguredCertificates(g.cfg, r.Now)
	r.RetentionStuck = g.retentionStuck()
	if g.audit != nil {
		st := g.audit.Stats()
		r.Audit = &st
	}
	r.UTC()
	return r
}

// startStatus serves the read-only status page on the configured loopback
// address: / (HTML), /api/status (JSON), /metrics (Prometheus text format)
// /healthz (the process answers) and /readyz (it takes its input).
func (g *gateway) startStatus() error {
	if g.cfg.Status.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", g.cfg.Status.Listen)
	if err != nil {
		return fmt.Errorf("status page: %w", portInUse("status.listen", g.cfg.Status.Listen, err))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		statusTmpl.Execute(w, g.report())
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(g.report())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writeMetrics(w, g.report())
		writeProcessMetrics(w, g.startedAt)
	})
	g.registerOps(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	// /readyz is 200 once every source is started and the queue takes
	// items, else 503 with what is not ready, one line each (no PHI):
	// for a monitor, and for whoever waits for a start to complete.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := g.notReady(); len(why) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready: "+strings.Join(why, "\nnot ready: ")+"\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	g.statusSrv = &http.Server{Handler: noBody(ops.HostGuard(mux, ln.Addr(), g.cfg.Status.AllowedHosts)), ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout: statusIdleTimeout}
	g.statusAddr = ln.Addr()
	go func() {
		if err := g.statusSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.ReportFatalError(fmt.Errorf("status page: %w", err))
		}
	}()
	return nil
}

// statusIdleTimeout closes a kept-alive status connection no request has
// used for that long. Without it (ReadTimeout is 0 on purpose, see
// noBody) an idle connection stayed open for ever: a scraper or browser
// that opens connections and never closes them held a descriptor each
// until the gateway ran out. A variable for the tests.
var statusIdleTimeout = 2 * time.Minute

// noBody refuses (413) a request that comes with a body, reading none of
// it: nothing on the status listener takes one. The server would
// otherwise read it after the answer, with no time limit (ReadTimeout
// would also end the live backup's held answer), so that any local
// process sending it a byte at a time kept the connection active, and
// the status server's Shutdown, which the gateway's stop waits for first,
// waited until the stop's deadline, leaving the sources, delivery and the
// audit trail none.
func noBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			// What is left of the body is not read: the connection ends.
			http.NewResponseController(w).SetReadDeadline(time.Now())
			w.Header().Set("Connection", "close")
			http.Error(w, "a request body is not accepted here", http.StatusRequestEntityTooLarge)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *gateway) stopStatus(ctx context.Context) error {
	if g.statusSrv == nil {
		return nil
	}
	return g.statusSrv.Shutdown(ctx)
}

// writeMetrics writes the report in the Prometheus text exposition format.
func writeMetrics(w io.Writer, r ops.Status) {
	m := func(name, typ, help string, v float64, labels ...string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		fmt.Fprintf(w, "%s%s %g\n", name, labelString(labels), v)
	}
	m("ferry_queue_depth", "gauge", "Bundles stored and not yet delivered.", float64(r.Queue.Depth))
	m("ferry_queue_leased", "gauge", "Bundles out for delivery now.", float64(r.Queue.Leased))
	m("ferry_queue_bytes", "gauge", "Stored size of undelivered bundles.", float64(r.Queue.Bytes))
	age := 0.0
	if !r.Queue.Oldest.IsZero() {
		// Never below 0: an item queued before the clock was set back.
		age = max(r.Now.Sub(r.Queue.Oldest).Seconds(), 0)
	}
	m("ferry_queue_oldest_age_seconds", "gauge", "Age of the oldest undelivered bundle.", age)
	m("ferry_dead_letters", "gauge", "Bundles in the dead-letter store.", float64(r.Queue.DeadLetters))
	m("ferry_queue_write_errors_total", "counter", "Writes to the queue's log that failed (a full disk, mostly); their messages were refused, to be sent again.", float64(r.Queue.WriteErrors))
	lastWrite := 0.0
	if !r.Queue.LastWriteErrorAt.IsZero() {
		lastWrite = float64(r.Queue.LastWriteErrorAt.Unix())
	}
	m("ferry_queue_last_write_error_timestamp_seconds", "gauge", "Unix time of the last failed write to the queue's log; 0 if none.", lastWrite)
	stopped := 0.0
	if r.Queue.Stopped != "" {
		stopped = 1
	}
	m("ferry_queue_stopped", "gauge", "1 when the queue stopped after a failed fsync and refuses everything until a restart.", stopped)
	full := 0.0
	if r.Queue.Full != "" {
		full = 1
	}
	m("ferry_queue_full", "gauge", "1 while the queue refuses new items at queue.max_items or queue.max_bytes (MLLP answers AR, folders wait).", full)
	m("ferry_queue_full_refusals_total", "counter", "Items refused because the queue was at queue.max_items or queue.max_bytes.", float64(r.Queue.FullRefusals))
	m("ferry_delivered_total", "counter", "Bundles the exchange accepted.", float64(r.Delivery.Delivered))
	m("ferry_delivery_skipped_total", "counter", "Queue items settled with nothing to send (later parts of HL7 v2 messages an mllps exchange gets whole).", float64(r.Delivery.Skipped))
	m("ferry_delivery_retries_total", "counter", "Retryable delivery failures.", float64(r.Delivery.Retried))
	m("ferry_dead_lettered_total", "counter", "Bundles dead-lettered since start.", float64(r.Delivery.DeadLettered))
	paused := 0.0
	if r.Delivery.Paused {
		paused = 1
	}
	m("ferry_delivery_paused", "gauge", "1 while the exchange rejects everything: rejected bundles are held and retried, not dead-lettered.", paused)
	last := 0.0
	if !r.Delivery.LastDelivery.IsZero() {
		last = float64(r.Delivery.LastDelivery.Unix())
	}
	m("ferry_last_delivery_timestamp_seconds", "gauge", "Unix time of the last delivery.", last)
	m("ferry_ingest_queued_total", "counter", "Converted bundles queued.", float64(r.Ingest.Queued))
	m("ferry_ingest_duplicates_total", "counter", "Inputs already seen, acknowledged and not queued again.", float64(r.Ingest.Duplicates))
	m("ferry_ingest_quarantined_total", "counter", "Inputs kept in quarantine because they could not be converted.", float64(r.Ingest.Quarantined))
	m("ferry_ingest_held_total", "counter", "Bundles kept back by the hold policy (security labels), not sent.", float64(r.Ingest.Held))
	m("ferry_ingest_unconverted_entries_total", "counter", "C-CDA entries of templates ferry does not map (family history, goals, planned procedures...), sent only inside the attached document; log.level debug names them.", float64(r.Ingest.Unconverted))
	m("ferry_ingest_retied_total", "counter", "Patients of HL7 v2 messages, C-CDA, fax and XDM documents and CSV exports named by an identifier an earlier merge (A40, A47) retired, sent for the surviving patient instead.", float64(r.Ingest.Retied))
	if a := r.Audit; a != nil {
		m("ferry_audit_sent_total", "counter", "Audit messages written to the audit repository.", float64(a.Sent))
		m("ferry_audit_pending", "gauge", "Audit messages spooled, waiting for the repository.", float64(a.Pending))
		m("ferry_audit_dropped_total", "counter", "Audit messages lost (spool bound, full buffer).", float64(a.Dropped))
	}
	// One family per figure, one series per listener (and per reason or
	// code where the family has that label).
	type v struct {
		label string // the value of the family's extra label
		n     int64
	}
	family := func(name, typ, help, label string, values func(s ops.SourceStatus) []v) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range r.Sources {
			for _, x := range values(s) {
				kv := []string{"source", s.Name}
				if label != "" {
					kv = append(kv, label, x.label)
				}
				fmt.Fprintf(w, "%s%s %d\n", name, labelString(kv), x.n)
			}
		}
	}
	family("ferry_mllp_messages_total", "counter", "MLLP messages by acknowledgement.", "ack",
		func(s ops.SourceStatus) []v {
			return []v{{"accept", s.Accepted}, {"error", s.Errors}, {"reject", s.Rejects}}
		})
	family("ferry_mllp_acks_not_sent_total", "counter", "MLLP accept acknowledgements not sent because MSH-15 asked for none (NE, ER, SU).", "",
		func(s ops.SourceStatus) []v { return []v{{"", s.AcksNotSent}} })
	family("ferry_mllp_app_acks_requested_total", "counter", "MLLP messages whose MSH-16 asks for an application acknowledgement, which ferry sends only where the listener has app_ack: true.", "",
		func(s ops.SourceStatus) []v { return []v{{"", s.AppAcksRequested}} })
	family("ferry_mllp_app_acks_sent_total", "counter", "MLLP application acknowledgements sent by a listener with app_ack: true, standing in for the application.", "",
		func(s ops.SourceStatus) []v { return []v{{"", s.AppAcksSent}} })
	family("ferry_mllp_connections_refused_total", "counter", "MLLP connections closed at accept, unanswered: reason allow (address not in allow) or limit (max_conns, max_conns_per_ip).", "reason",
		func(s ops.SourceStatus) []v { return []v{{"allow", s.ConnsDenied}, {"limit", s.ConnsRejected}} })
	family("ferry_mllp_refused_total", "counter", "MLLP messages read but refused with AR without being stored: reason oversized (max_frame_bytes), busy (max_buffered_bytes in use) or multi_message (a frame of several messages or a batch).", "reason",
		func(s ops.SourceStatus) []v {
			return []v{{"oversized", s.Oversized}, {"busy", s.Busy}, {"multi_message", s.MultiMessage}}
		})
	family("ferry_mllp_sequence_anomalies_total", "counter", "MLLP messages of the HL7 sequence number protocol (MSH-13) out of turn: gap (past the number expected), refused (of those, answered AR under sequence_numbers: enforce), repeat (a number already accepted).", "kind",
		func(s ops.SourceStatus) []v {
			return []v{{"gap", s.SequenceGaps}, {"refused", s.SequenceRefused}, {"repeat", s.SequenceRepeats}}
		})
	family("ferry_mllp_buffered_bytes", "gauge", "Memory MLLP connections hold for messages larger than their read buffer.", "",
		func(s ops.SourceStatus) []v { return []v{{"", s.Buffered}} })
	family("ferry_mllp_buffer_limit_bytes", "gauge", "The bound on ferry_mllp_buffered_bytes (max_buffered_bytes).", "",
		func(s ops.SourceStatus) []v { return []v{{"", s.BufferLimit}} })
	fmt.Fprintf(w, "# HELP ferry_mllp_ack_seconds Time from an MLLP message read to its ACK written: its conversion, the queue's flush and waiting for a turn.\n# TYPE ferry_mllp_ack_seconds histogram\n")
	for _, s := range r.Sources {
		writeHistogram(w, "ferry_mllp_ack_seconds", []string{"source", s.Name}, s.AckLatency)
	}
	fmt.Fprintf(w, "# HELP ferry_queue_flush_seconds Time each queue commit takes to reach the disk (its write and its fdatasync); every acknowledgement waits for one.\n# TYPE ferry_queue_flush_seconds histogram\n")
	writeHistogram(w, "ferry_queue_flush_seconds", nil, r.Flush)
	fmt.Fprintf(w, "# HELP ferry_ingest_convert_seconds Time to convert one input to FHIR, by input format.\n# TYPE ferry_ingest_convert_seconds histogram\n")
	formats := make([]string, 0, len(r.Convert))
	for f := range r.Convert {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	for _, f := range formats {
		writeHistogram(w, "ferry_ingest_convert_seconds", []string{"format", f}, r.Convert[f])
	}
	writeFolderMetrics(w, r)
	writeMailboxMetrics(w, r)
	writeFaxMetrics(w, r)
	writeFetchMetrics(w, r)
	fmt.Fprintf(w, "# HELP ferry_certificate_expiry_timestamp_seconds NotAfter of configured certificates.\n# TYPE ferry_certificate_expiry_timestamp_seconds gauge\n")
	for _, c := range r.Certificates {
		if c.Error == "" {
			fmt.Fprintf(w, "ferry_certificate_expiry_timestamp_seconds%s %d\n", labelString([]string{"use", c.Use}), c.NotAfter.Unix())
		}
	}
	// A certificate whose expiry is not known (its file unreadable, or
	// renewed without its key, so the gateway keeps the one it loaded
	// before) has no expiry above: an alert on that metric alone would
	// never fire for it.
	fmt.Fprintf(w, "# HELP ferry_certificate_unusable 1 when a configured certificate file cannot be read, does not match its key or is not valid yet (ferry status says why).\n# TYPE ferry_certificate_unusable gauge\n")
	for _, c := range r.Certificates {
		unusable := 0
		if c.Error != "" || !c.NotValidUntil.IsZero() {
			unusable = 1
		}
		fmt.Fprintf(w, "ferry_certificate_unusable%s %d\n", labelString([]string{"use", c.Use}), unusable)
	}
}

// writeHistogram writes h as the Prometheus histogram name with labels
// (name/value pairs); nothing when h is nil.
func writeHistogram(w io.Writer, name string, labels []string, h *ops.Histogram) {
	if h == nil {
		return
	}
	var cum int64
	for i, c := range h.Counts {
		cum += c
		le := "+Inf"
		if i < len(h.BoundsSeconds) {
			le = strconv.FormatFloat(h.BoundsSeconds[i], 'g', -1, 64)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", name, labelString(append(slices.Clip(labels), "le", le)), cum)
	}
	fmt.Fprintf(w, "%s_sum%s %g\n", name, labelString(labels), h.SumSeconds)
	fmt.Fprintf(w, "%s_count%s %d\n", name, labelString(labels), cum)
}

// writeFetchMetrics writes the remote fetches' figures, one series per
// folder: files fetched, and whether the last poll failed.
func writeFetchMetrics(w io.Writer, r ops.Status) {
	if len(r.Fetches) == 0 {
		return
	}
	var files, failing []series
	for _, fe := range r.Fetches {
		l := []string{"folder", fe.Folder}
		files = append(files, series{l, float64(fe.Fetched)})
		failing = append(failing, series{l, pollFailing(fe.LastError)})
	}
	writeFamily(w, "ferry_fetch_files_total", "counter", "Files a folder fetched from its remote SFTP directory (stored in the folder, then moved or deleted there).", files)
	writeFamily(w, "ferry_fetch_poll_failing", "gauge", "1 while the last poll of a folder's remote SFTP directory failed (server unreachable, key refused, a file not stored or not moved).", failing)
}

// writeMailboxMetrics writes the fax mailboxes' figures, one series per
// mailbox: messages taken and failed, and whether the last poll failed.
func writeMailboxMetrics(w io.Writer, r ops.Status) {
	if len(r.Mailboxes) == 0 {
		return
	}
	var msgs, failing []series
	for _, m := range r.Mailboxes {
		msgs = append(msgs, series{[]string{"mailbox", m.Name, "outcome", "taken"}, float64(m.Taken)},
			series{[]string{"mailbox", m.Name, "outcome", "failed"}, float64(m.Failed)})
		failing = append(failing, series{[]string{"mailbox", m.Name}, pollFailing(m.LastError)})
	}
	writeFamily(w, "ferry_fax_mailbox_messages_total", "counter", "Messages of a fax mailbox settled: taken (its faxes stored, moved to done_mailbox) or failed (a fax or more of it ferry cannot read, moved to failed_mailbox).", msgs)
	writeFamily(w, "ferry_fax_mailbox_poll_failing", "gauge", "1 while the last poll of a fax mailbox failed (server unreachable, login refused, a fax not stored yet).", failing)
}

// writeFaxMetrics writes the count of incomplete faxes, one series per
// fax inbox (folder) and fax mailbox (mailbox).
func writeFaxMetrics(w io.Writer, r ops.Status) {
	var incomplete []series
	for _, f := range r.Folders {
		if f.Kind == fax.KindFax || f.Kind == fax.KindHylaFAX {
			incomplete = append(incomplete, series{[]string{"folder", f.Name}, float64(f.FaxesIncomplete)})
		}
	}
	for _, m := range r.Mailboxes {
		incomplete = append(incomplete, series{[]string{"mailbox", m.Name}, float64(m.Incomplete)})
	}
	if len(incomplete) == 0 {
		return
	}
	writeFamily(w, "ferry_fax_incomplete_total", "counter", "Faxes delivered marked incomplete: the call ended before the fax was fully received, pages may be missing (ask the sender to fax it again).", incomplete)
}

// series is one labelled value of a metric family.
type series struct {
	labels []string
	v      float64
}

// writeFamily writes a metric family: its HELP and TYPE lines, then each
// series.
func writeFamily(w io.Writer, name, typ, help string, ss []series) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	for _, s := range ss {
		fmt.Fprintf(w, "%s%s %g\n", name, labelString(s.labels), s.v)
	}
}

// pollFailing is a poll-failing gauge's value: 1 when the last poll left
// an error.
func pollFailing(lastError string) float64 {
	if lastError != "" {
		return 1
	}
	return 0
}

// writeFolderMetrics writes the watched folders' figures, one series per
// folder: a folder whose files stop being claimed shows as claim errors
// and a growing oldest-waiting age.
func writeFolderMetrics(w io.Writer, r ops.Status) {
	family := func(name, typ, help string, v func(f ops.FolderStatus) float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, f := range r.Folders {
			fmt.Fprintf(w, "%s%s %g\n", name, labelString([]string{"folder", f.Name, "kind", f.Kind}), v(f))
		}
	}
	family("ferry_folder_files_claimed_total", "counter", "Files taken from a watched folder (moved into its processing folder).",
		func(f ops.FolderStatus) float64 { return float64(f.Claimed) })
	family("ferry_folder_files_done_total", "counter", "Files of a watched folder consumed (or found to be duplicates) and archived or deleted.",
		func(f ops.FolderStatus) float64 { return float64(f.Done) })
	family("ferry_folder_files_duplicate_total", "counter", "Files of a watched folder whose content it had taken before: archived, not sent again (counted in done too).",
		func(f ops.FolderStatus) float64 { return float64(f.Duplicates) })
	family("ferry_folder_files_failed_total", "counter", "Files of a watched folder moved to its failed folder.",
		func(f ops.FolderStatus) float64 { return float64(f.Failed) })
	family("ferry_folder_claim_errors_total", "counter", "Failed attempts to take a ready file from a watched folder (no write access, read-only mount, unreadable file).",
		func(f ops.FolderStatus) float64 { return float64(f.ClaimErrors) })
	family("ferry_folder_claims_failing", "gauge", "1 while files of a watched folder cannot be claimed.",
		func(f ops.FolderStatus) float64 {
			if f.ClaimsFailing {
				return 1
			}
			return 0
		})
	family("ferry_folder_files_waiting", "gauge", "Input files lying in a watched folder, not yet claimed.",
		func(f ops.FolderStatus) float64 { return float64(f.Waiting) })
	family("ferry_folder_files_empty", "gauge", "Empty (0-byte) files among those waiting in a watched folder: taken once written, moved to its failed folder if they stay empty.",
		func(f ops.FolderStatus) float64 { return float64(f.Empty) })
	family("ferry_folder_symlinks", "gauge", "Symbolic links named like inputs in a watched folder: never followed nor taken.",
		func(f ops.FolderStatus) float64 { return float64(f.Symlinks) })
	family("ferry_folder_special_files", "gauge", "Named pipes and other special files named like inputs in a watched folder: never opened nor taken.",
		func(f ops.FolderStatus) float64 { return float64(f.SpecialFiles) })
	family("ferry_folder_files_retrying", "gauge", "Claimed files waiting for another attempt after a transient failure.",
		func(f ops.FolderStatus) float64 { return float64(f.Retrying) })
	family("ferry_folder_oldest_waiting_age_seconds", "gauge", "Time since ferry first saw the oldest file still waiting or retrying in a watched folder; 0 if none.",
		func(f ops.FolderStatus) float64 {
			if f.OldestWaiting.IsZero() {
				return 0
			}
			return max(r.Now.Sub(f.OldestWaiting).Seconds(), 0)
		})
}

func labelString(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(kv[i+1])
		fmt.Fprintf(&b, "%s=\"%s\"", kv[i], v)
	}
	b.WriteByte('}')
	return b.String()
}

var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"age": func(t, now time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return max(now.Sub(t), 0).Truncate(time.Second).String()
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>ferry status</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:.3em .8em;text-align:left} th{background:#f3f3f3}
.bad{color:#a00;font-weight:bold}
</style></head><body>
<h1>ferry {{.Version}}</h1>
<p>Exchange: {{.Exchange}} · data in {{.DataDir}} · running since {{when .Started}}</p>
<h2>Queue</h2>
<table>
<tr><th>Waiting for delivery</th><td id="queue-depth">{{.Queue.Depth}}</td></tr>
<tr><th>Out for delivery now</th><td>{{.Queue.Leased}}</td></tr>
<tr><th>Oldest waiting</th><td id="queue-oldest">{{age .Queue.Oldest .Now}}</td></tr>
<tr><th>Dead letters</th><td id="dead-letters"{{if .Queue.DeadLetters}} class="bad"{{end}}>{{.Queue.DeadLetters}}</td></tr>
{{if .Queue.WriteErrors}}<tr><th>Failed writes (disk full?)</th><td id="queue-write-errors" class="bad">{{.Queue.WriteErrors}}; last {{when .Queue.LastWriteErrorAt}}: {{.Queue.LastWriteError}}</td></tr>{{end}}
{{if .Queue.Full}}<tr><th>Queue full</th><td id="queue-full" class="bad">{{.Queue.Full}}: senders are told to resend later (AR) until deliveries make room</td></tr>{{end}}
{{if .Queue.Stopped}}<tr><th>Queue stopped</th><td id="queue-stopped" class="bad">{{.Queue.Stopped}} (ferry exits; a restart recovers)</td></tr>{{end}}
</table>
<h2>Delivery</h2>
<table>
<tr><th>Delivered</th><td id="delivered">{{.Delivery.Delivered}}</td></tr>
<tr><th>Last delivery</th><td>{{when .Delivery.LastDelivery}}</td></tr>
<tr><th>Retries</th><td>{{.Delivery.Retried}}</td></tr>
<tr><th>Dead-lettered since start</th><td>{{.Delivery.DeadLettered}}</td></tr>
{{if .Delivery.LastError}}<tr><th>Last error</th><td class="bad">{{.Delivery.LastError}} ({{when .Delivery.LastErrorAt}})</td></tr>{{end}}
{{if .Delivery.ConfigProblem}}<tr><th>Needs an operator</th><td class="bad">{{.Delivery.ConfigProblem}}</td></tr>{{end}}
</table>
<h2>Inputs</h2>
<table>
<tr><th>Queued</th><td id="ingest-queued">{{.Ingest.Queued}}</td></tr>
<tr><th>Duplicates ignored</th><td>{{.Ingest.Duplicates}}</td></tr>
<tr><th>Held by policy (not sent)</th><td{{if .Ingest.Held}} class="bad"{{end}}>{{.Ingest.Held}}</td></tr>
<tr><th>Quarantined</th><td{{if .Ingest.Quarantined}} class="bad"{{end}}>{{.Ingest.Quarantined}}</td></tr>
</table>
{{if .Sources}}<table><tr><th>Source</th><th>Address</th><th>Messages</th><th>Accepted</th><th>Errors</th><th>Rejected</th><th>Open connections</th></tr>
{{range .Sources}}<tr><td>{{.Kind}}/{{.Name}}</td><td>{{.Address}}</td><td>{{.Messages}}</td><td>{{.Accepted}}</td><td>{{.Errors}}</td><td>{{.Rejects}}</td><td>{{.Open}}</td></tr>
{{end}}</table>{{end}}
{{if .Folders}}<table id="folders"><tr><th>Folder</th><th>Path</th><th>Waiting</th><th>Oldest waiting</th><th>Retrying</th><th>Claimed</th><th>Done</th><th>Failed</th><th>Failed claims</th><th>Not taken</th></tr>
{{range .Folders}}<tr><td>{{.Kind}}/{{.Name}}</td><td>{{.Path}}</td><td>{{.Waiting}}</td><td>{{age .OldestWaiting $.Now}}</td><td>{{.Retrying}}</td><td>{{.Claimed}}</td><td>{{.Done}}{{if .Duplicates}} ({{.Duplicates}} duplicate{{if gt .Duplicates 1}}s{{end}}, not sent again){{end}}</td><td{{if .Failed}} class="bad"{{end}}>{{.Failed}}</td><td{{if .ClaimsFailing}} class="bad"{{end}}>{{.ClaimErrors}}{{if .ClaimsFailing}}: files cannot be claimed ({{.LastClaimError}}, {{when .LastClaimErrorAt}}){{end}}</td><td{{if or .Symlinks .SpecialFiles}} class="bad"{{end}}>{{if .Empty}}{{.Empty}} empty (waiting to be written) {{end}}{{if .Symlinks}}{{.Symlinks}} symbolic link{{if gt .Symlinks 1}}s{{end}} {{end}}{{if .SpecialFiles}}{{.SpecialFiles}} special file{{if gt .SpecialFiles 1}}s{{end}} (pipes, devices){{end}}</td></tr>
{{end}}</table>{{end}}
{{if .Fetches}}<table id="fetches"><tr><th>Fetched into folder</th><th>From</th><th>Files fetched</th><th>Last listed</th><th>Last poll</th></tr>
{{range .Fetches}}<tr><td>{{.Folder}}</td><td>{{.From}}</td><td>{{.Fetched}}</td><td>{{when .LastPoll}}</td><td{{if .LastError}} class="bad"{{end}}>{{if .LastError}}failed: {{.LastError}}{{else}}ok{{end}}</td></tr>
{{end}}</table>{{end}}
{{if .Mailboxes}}<table id="mailboxes"><tr><th>Fax mailbox</th><th>Server</th><th>Taken</th><th>Failed</th><th>Last read</th><th>Last poll</th></tr>
{{range .Mailboxes}}<tr><td>{{.Name}}</td><td>{{.Address}} {{.Mailbox}}</td><td>{{.Taken}}</td><td{{if .Failed}} class="bad"{{end}}>{{.Failed}}</td><td>{{when .LastPoll}}</td><td{{if .LastError}} class="bad"{{end}}>{{if .LastError}}failed: {{.LastError}}{{else}}ok{{end}}</td></tr>
{{end}}</table>{{end}}
{{with .Audit}}<h2>Audit trail (ATNA)</h2><table>
<tr><th>Sent to the audit repository</th><td>{{.Sent}}</td></tr>
<tr><th>Spooled, waiting</th><td{{if .Pending}} class="bad"{{end}}>{{.Pending}}</td></tr>
<tr><th>Lost</th><td{{if .Dropped}} class="bad"{{end}}>{{.Dropped}}</td></tr>
{{if .LastError}}<tr><th>Last error</th><td class="bad">{{.LastError}}</td></tr>{{end}}
</table>{{end}}
{{if .Certificates}}<h2>Certificates</h2><table><tr><th>Use</th><th>Expires</th><th>Days left</th></tr>
{{range .Certificates}}<tr><td>{{.Use}}</td>{{if .Error}}<td colspan="2" class="bad">{{.Error}}</td>{{else if not .NotValidUntil.IsZero}}<td colspan="2" class="bad">not valid until {{when .NotValidUntil}} ({{.Subject}}; check the system clock)</td>{{else}}<td>{{when .NotAfter}}</td><td{{if lt .DaysLeft 30}} class="bad"{{end}}>{{.DaysLeft}}</td>{{end}}</tr>
{{end}}</table>{{end}}
<p><a href="/metrics">/metrics</a> · <a href="/api/status">/api/status</a> · <a href="/healthz">/healthz</a></p>
</body></html>
`))

// histogram turns a latency snapshot into the report's histogram.
func histogram(l latency.Snapshot) *ops.Histogram {
	h := &ops.Histogram{Counts: l.Counts, SumSeconds: l.Sum.Seconds()}
	for _, b := range latency.Buckets {
		h.BoundsSeconds = append(h.BoundsSeconds, b.Seconds())
	}
	return h
}
