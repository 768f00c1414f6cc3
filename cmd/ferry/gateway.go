package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/replaced"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/fhirhttp"
	"github.com/ferry-health/ferry/transport/mllptls"
	"github.com/ferry-health/ferry/transport/neterr"
	"github.com/ferry-health/ferry/transport/outbox"
	"github.com/ferry-health/ferry/transport/sftpdrop"
)

// namedFetcher is a folder's fetcher and the folder's name.
type namedFetcher struct {
	folder string
	f      *fetch.Fetcher
}

// gateway wires sources → pipeline → queue → dispatcher → sink, and owns
// their lifecycle. Start order is sink side first, so nothing is accepted
// before it can be stored; Shutdown runs the other way round: stop taking
// input, then stop delivering, then close the queue.
type gateway struct {
	cfg  *config.Config
	log  *slog.Logger
	q    *diskq.Queue
	seen *dedup.Set
	pipe *pipeline.Pipeline
	disp *transport.Dispatcher
	sink transport.Sink
	key  *seal.Key // data-at-rest key; nil when encryption is off

	// merges is data_dir/merges.log (openMerges).
	merges *merges.Registry
	// replaced is the registry of replaced documents (replaced.log).
	replaced *replaced.Registry
	// sequences is data_dir/mllp-sequence.log, the HL7 sequence numbers
	// of the MLLP senders that use them; nil when every listener has
	// sequence_numbers: off.
	sequences *mllp.SequenceStore

	sources []namedSource
	mllps   map[string]*mllp.Source
	folders []*folder.Engine // the engines under the folder sources, for the status report
	// faxInboxes are the fax folder sources by folder name, for the
	// status report's count of incomplete faxes.
	faxInboxes map[string]*fax.Source
	// mailboxes are the fax mailbox sources, for the status report.
	mailboxes []*fax.Mailbox
	// fetchers empty remote SFTP directories into folders (fetch:), for
	// the status report.
	fetchers []namedFetcher

	sched      gocron.Scheduler
	audit      *auditTrail
	statusSrv  *http.Server
	statusAddr net.Addr
	startedAt  time.Time

	// pruning holds the places (a folder source's name, "" the outbox) whose
	// retention pass is under way, guarded by pruneMu (jobs.go).
	pruneMu sync.Mutex
	pruning map[string]*pruneRun

	mu       sync.Mutex
	started  bool
	startErr error // why Start failed, for the stop's audit event
	shutdown bool
	fatal    chan error
	done     chan struct{} // closed by Shutdown

	// readyMu guards what /readyz reports; it is not g.mu, which Shutdown
	// holds while it waits for the status page's requests to end.
	readyMu sync.Mutex
	// notStarted are the sources whose start failed and is being retried
	// (folders), by name, with the error.
	notStarted map[string]string
	// fatalErr is the first fatal error a component reported.
	fatalErr error
}

type namedSource struct {
	name string
	src  adapters.Source
}

// newGateway opens the data directory and builds every component; nothing
// listens or delivers until Start.
// outboxWorkers is how many bundles the local outbox writes at once.
const outboxWorkers = 4

// sequenceFile, in data_dir, keeps the HL7 sequence numbers of the MLLP
// senders that use the protocol (mllp.SequenceStore).
const sequenceFile = "mllp-sequence.log"

func newGateway(cfg *config.Config, log *slog.Logger) (g *gateway, err error) {
	g = &gateway{cfg: cfg, log: log, mllps: map[string]*mllp.Source{}, fatal: make(chan error, 1), done: make(chan struct{})}
	// "return nil, err" sets g to nil before this runs: close what was
	// opened through a copy of the pointer.
	opened := g
	defer func() {
		if err != nil {
			// gocron runs a goroutine from NewScheduler on, not
			// only from Start.
			if opened.sched != nil {
				_ = opened.sched.Shutdown()
			}
			// What the audit trail holds is spooled for the next
			// start: the events of a release or a replay cut short,
			// which opening the pipeline finished, are recorded
			// nowhere else (their records are gone).
			_ = opened.audit.Shutdown(context.Background())
			opened.closeStores()
		}
	}()
	if err := durable.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, dataDirDenied(cfg.DataDir, fmt.Errorf("create data dir: %w", err))
	}
	if ops.MemoryFS(cfg.DataDir) {
		log.Warn("data_dir is on a memory file system (tmpfs): a reboot loses every queued and acknowledged message; put it on a disk", "data_dir", cfg.DataDir)
	}
	// The site id scopes minted identifier systems to this installation
	// (config.IdentifierBase); converters reads it below.
	if _, err := cfg.EnsureSiteID(); err != nil {
		return nil, dataDirDenied(cfg.DataDir, err)
	}
	// The key is read once: a missing or bad key file stops the start,
	// before anything could be stored unsealed or left unreadable.
	if g.key, err = cfg.LoadKey(); err != nil {
		return nil, fmt.Errorf("encryption: %w", err)
	}
	if g.key != nil {
		log.Info("data at rest encrypted", "key", g.key.ID())
	}
	g.q, err = diskq.Open(cfg.Path("queue"), diskq.Options{MaxBytes: cfg.Queue.MaxBytes, MaxItems: cfg.Queue.MaxItems, Logger: log.With("component", "queue"), Key: g.key})
	if errors.Is(err, diskq.ErrLocked) {
		return nil, fmt.Errorf("data_dir %s is in use by another ferry (the service, a `ferry run` in another terminal, a `ferry backfill`), and one at a time may use it: "+
			"stop that one (`ferry stop` for the service, Ctrl-C for a `ferry run`) or let it end, or give this one a data_dir of its own: %w", cfg.DataDir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	// A live backup's snapshot left by a command that stopped half-way
	// (or by this gateway's previous run) holds links that keep removed
	// files' space: no backup runs now, since its gateway is gone.
	if err := ops.RemoveSnapshot(cfg.DataDir); err != nil {
		log.Warn("live backup snapshot not removed", "error", err)
	}
	// Nothing is taken in while data_dir holds data no configured key
	// opens: it would be sealed with a key that cannot open the rest.
	if err := ops.CheckQueueKeys(cfg, g.key, g.q); err != nil {
		return nil, fmt.Errorf("encryption: %w", err)
	}
	g.seen, err = dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
	if err != nil {
		return nil, fmt.Errorf("open dedup set: %w", err)
	}
	// exchange.hold: labelled bundles wait in held/ for review; the audit
	// trail (built below) records each decision.
	g.replaced, err = openReplaced(cfg, log.With("component", "replaced"))
	if err != nil {
		return nil, err
	}
	convs := useReplaced(converters(cfg), g.replaced)
	// A dead letter of a document version replaced since is retried
	// superseded (`ferry queue retry` through the ops API).
	g.q.SetRetryEdit(resealingRetry(g.key, pipeline.SupersedeReplaced(g.replaced.Replaced, g.q.CreateBody)))
	// The audit trail is built before the pipeline, whose opening
	// finishes a release of a held bundle cut short, with its event.
	if g.audit, err = g.newAuditTrail(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	g.pipe, _, err = ingestPipeline(cfg, g.q, g.seen, g.key, convs, log.With("component", "pipeline"),
		func(in adapters.Raw, u *pipeline.Unit, label string) { g.audit.held(in, u, label) }, g.audit.finishedCutShort)
	if err != nil {
		return nil, err
	}
	g.pipe.SetReplaced(g.replaced)
	if g.merges, err = openMerges(cfg, g.key, convs, g.pipe, log.With("component", "merges")); err != nil {
		return nil, fmt.Errorf("open merge registry: %w", err)
	}

	switch {
	case cfg.Exchange.MLLP():
		g.sink, err = mllptls.New(mllptls.Config{
			URL:      cfg.Exchange.URL,
			Timeout:  cfg.Exchange.Timeout,
			TLS:      cfg.Exchange.TLS,
			MaxConns: cfg.Exchange.Workers,
			// A failed authentication of the exchange is an ATNA
			// Security Alert (audit on).
			OnAuthFailure: g.remoteAuthFailed(),
		}, log.With("component", "exchange"))
	case cfg.Exchange.FileDrop():
		g.sink, err = sftpdrop.New(cfg.Exchange.SFTPConfig(), log.With("component", "exchange"))
	case cfg.Exchange.URL != "":
		g.sink, err = fhirhttp.New(fhirhttp.Config{
			URL:                  cfg.Exchange.URL,
			Timeout:              cfg.Exchange.Timeout,
			TLS:                  cfg.Exchange.TLS,
			MaxIdleConnsPerHost:  cfg.Exchange.Workers,
			UserAgent:            "ferry/" + version,
			SMART:                cfg.Exchange.Auth.SMART,
			UDAP:                 cfg.Exchange.Auth.UDAP,
			UDAPRegistrationFile: cfg.UDAPRegistrationFile(),
			Proxy:                cfg.Proxy,
			OnAuthFailure:        g.remoteAuthFailed(),
		}, log.With("component", "exchange"))
	default:
		g.sink = outbox.New(cfg.Path("outbox"))
		if err := outbox.Reachable(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	workers := cfg.Exchange.Workers
	if cfg.Exchange.URL == "" {
		// The outbox shares its syncs between concurrent writers
		// (durable.Group): a handful of them turn a backlog into a few
		// file-system syncs per round, on the disk the queue commits to.
		workers = outboxWorkers
	}
	g.disp = transport.NewDispatcher(g.q, g.sink, transport.DispatcherOptions{
		Workers:         workers,
		InitialInterval: cfg.Exchange.Retry.InitialInterval,
		MaxInterval:     cfg.Exchange.Retry.MaxInterval,
		MaxAge:          cfg.Exchange.Retry.MaxAge,
		// A timeout's re-send waits for the exchange's own timeout
		// (retry.unknown_outcome_delay, by default exchange.timeout).
		UnknownOutcomeDelay: cfg.Exchange.Retry.UnknownOutcomeDelay,
		Logger:              log.With("component", "dispatcher"),
		LogPHI:              cfg.Log.PHI,
		OnDelivered:         g.audit.delivered,
		OnRejected:          g.audit.rejected,
	})
	// Every input is recorded as an ATNA import event (when audit is on).
	in := g.audit.consumer(g.pipe)

	for _, m := range cfg.Sources.MLLP {
		if m.SequenceNumbers != "off" && g.sequences == nil {
			if g.sequences, err = mllp.OpenSequenceStore(cfg.Path(sequenceFile)); err != nil {
				return nil, err
			}
		}
	}
	for _, m := range cfg.Sources.MLLP {
		id := "mllp/" + m.Name
		allow, err := m.AllowPrefixes()
		if err != nil {
			return nil, fmt.Errorf("sources.mllp %s: %w", m.Name, err)
		}
		mc := mllp.Config{
			Listen:           m.Listen,
			MaxFrameBytes:    m.MaxFrameBytes,
			ReadTimeout:      m.ReadTimeout,
			IdleTimeout:      m.IdleTimeout,
			FrameTimeout:     m.FrameTimeout,
			MaxBufferedBytes: m.MaxBufferedBytes,
			MaxConns:         m.MaxConns,
			MaxConnsPerIP:    m.MaxConnsPerIP,
			Allow:            allow,
			CommitACK:        m.CommitACK,
			AppAck:           m.AppAck,
		}
		scheme := "mllp"
		if m.TLS != nil {
			scheme = "mllps"
		}
		var src *mllp.Source
		listen := m.Listen
		mc.OnRefused = g.audit.nodeAuthFailed(id, scheme, func() string {
			// The port the listener took (listen :0 picks one).
			if src != nil {
				if a := src.Addr(); a != nil {
					return a.String()
				}
			}
			return listen
		})
		if m.SequenceNumbers != "off" {
			mc.Sequences, mc.SequenceMode = g.sequences, m.SequenceNumbers
		}
		if m.TLS != nil {
			tc, err := m.TLS.LoadTLSConfigLog(g.settings(id).Logger)
			if err != nil {
				return nil, fmt.Errorf("sources.mllp %s: tls: %w", m.Name, err)
			}
			mc.TLS = tc
		}
		src, err = mllp.New(g.settings(id), mc, in)
		if err != nil {
			return nil, fmt.Errorf("sources.mllp %s: %w", m.Name, err)
		}
		g.mllps[m.Name] = src
		g.sources = append(g.sources, namedSource{id, src})
	}
	// One scheduler runs every periodic job: folder rescans, retention,
	// certificate-expiry checks.
	g.sched, err = gocron.NewScheduler(gocron.WithGlobalJobOptions(
		gocron.WithEventListeners(gocron.AfterJobRunsWithPanic(g.jobPanicked))))
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if err := g.scheduleJobs(g.sched); err != nil {
		return nil, err
	}
	for _, f := range cfg.Sources.Folders {
		id := "folder/" + f.Name
		src, err := newFolderSource(g.settings(id), f, in, folder.WithScheduler(g.sched))
		if err != nil {
			return nil, fmt.Errorf("sources.folders %s: %w", f.Name, err)
		}
		g.sources = append(g.sources, namedSource{id, src})
		var eng *folder.Engine
		if fs, ok := src.(interface{ Engine() *folder.Engine }); ok {
			eng = fs.Engine()
			g.folders = append(g.folders, eng)
		}
		if fs, ok := src.(*fax.Source); ok {
			if g.faxInboxes == nil {
				g.faxInboxes = map[string]*fax.Source{}
			}
			g.faxInboxes[f.Name] = fs
		}
		if f.Fetch != nil {
			fid := "fetch/" + f.Name
			fe, err := fetch.New(g.settings(fid), *f.Fetch, f.Path, g.sched)
			if err != nil {
				return nil, fmt.Errorf("sources.folders %s: fetch: %w", f.Name, err)
			}
			if eng != nil {
				fe.Only(eng.Uses)
				fe.Sidecars(eng.IsSidecar)
				fe.Markers(eng.Config().MarkerSuffix)
			}
			g.sources = append(g.sources, namedSource{fid, fe})
			g.fetchers = append(g.fetchers, namedFetcher{f.Name, fe})
		}
	}
	for _, mb := range cfg.Sources.Mailboxes {
		id := "mailbox/" + mb.Name
		tc, err := mb.TLS.LoadTLSConfigLog(g.settings(id).Logger)
		if err != nil {
			return nil, fmt.Errorf("sources.mailboxes %s: tls: %w", mb.Name, err)
		}
		mc, err := mb.Resolved(cfg.Proxy)
		if err != nil {
			return nil, fmt.Errorf("sources.mailboxes %s: %w", mb.Name, err)
		}
		src, err := fax.NewMailbox(g.settings(id), mc, tc, in, g.sched)
		if err != nil {
			return nil, fmt.Errorf("sources.mailboxes %s: %w", mb.Name, err)
		}
		g.sources = append(g.sources, namedSource{id, src})
		g.mailboxes = append(g.mailboxes, src)
	}
	return g, nil
}

// jobPanicked logs a scheduled job's panic. gocron recovers a job's
// panic only when the job has this listener; without it one bug in
// housekeeping ended the gateway, and again at every restart (the jobs
// run at start). The panic's value is logged when it is the runtime's own
// (an index, a nil map) or with log.phi: another value may quote a file
// name; the stack names only code.
func (g *gateway) jobPanicked(_ uuid.UUID, name string, recovered any) {
	val := fmt.Sprintf("%T", recovered)
	if _, ok := recovered.(runtime.Error); ok || g.cfg.Log.PHI {
		val = fmt.Sprint(recovered)
	}
	g.log.Error("scheduled job panicked; it runs again at its next time", "job", name, "panic", val, "stack", string(debug.Stack()))
}

func (g *gateway) settings(id string) adapters.Settings {
	return adapters.Settings{ID: id, Logger: g.log.With("component", id), LogPHI: g.cfg.Log.PHI}
}

// ReportFatalError implements adapters.Host.
func (g *gateway) ReportFatalError(err error) {
	g.readyMu.Lock()
	if g.fatalErr == nil {
		g.fatalErr = err
	}
	g.readyMu.Unlock()
	select {
	case g.fatal <- err:
	default:
	}
}

// Fatal delivers the first fatal error a component reported.
func (g *gateway) Fatal() <-chan error { return g.fatal }

// Done is closed when Shutdown begins.
func (g *gateway) Done() <-chan struct{} { return g.done }

// watchQueue turns the queue stopping for good into a fatal error. That
// happens after a failed fsync (or a failed write it could not cut off
// again; a full disk alone only fails the Puts it refuses): the log's tail
// is unknown until a replay, so every message would be answered AR from
// then on, for as long as the process runs. Exiting non-zero lets the
// service manager restart ferry, and the replay at start recovers.
func (g *gateway) watchQueue(q *diskq.Queue) {
	select {
	case <-q.Stopped():
		g.ReportFatalError(fmt.Errorf("queue stopped after a failed fsync or write it could not undo; restarting recovers by replaying the log: %w", q.Err()))
	case <-g.done:
	}
}

// Start begins delivering, then opens the sources.
func (g *gateway) Start(ctx context.Context) (err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		return errors.New("gateway already started")
	}
	defer func() {
		if err != nil {
			g.startErr = err // the stop event says the run failed
		}
	}()
	g.started = true
	g.startedAt = time.Now().UTC()
	go g.watchQueue(g.q)
	g.sched.Start()
	if err := g.audit.Start(ctx); err != nil {
		return fmt.Errorf("start audit: %w", err)
	}
	// The Application Start event says whether the start succeeded, so it
	// is recorded once the start has ended (dated when it began): recorded
	// here, it said success for a start a taken port then failed.
	began := time.Now()
	defer func() {
		g.audit.activity(true, err, began)
		if g.audit != nil {
			if err := g.audit.markRunning(g.cfg.Path("audit")); err != nil {
				g.log.Warn("audit: this run's marker not written; a crash of it would not be reported as a gap in the audit trail", "error", err)
			}
		} else if err := clearRunning(g.cfg.Path("audit")); err != nil {
			g.log.Warn("audit: an earlier run's marker not removed", "error", err)
		}
	}()
	if err := g.disp.Start(ctx); err != nil {
		return fmt.Errorf("start delivery: %w", err)
	}
	for _, s := range g.sources {
		if err := s.src.Start(ctx, g); err != nil {
			if _, isFolder := s.src.(interface{ Engine() *folder.Engine }); !isFolder {
				for i, m := range g.cfg.Sources.MLLP {
					if "mllp/"+m.Name == s.name {
						err = portInUse(fmt.Sprintf("sources.mllp[%d].listen", i), m.Listen, err)
					}
				}
				return fmt.Errorf("start %s: %w", s.name, err)
			}
			// A folder that is not there yet (a share not mounted at
			// boot) must not keep MLLP and the other sources down: it
			// is tried again until it starts, and shows as stuck.
			g.log.Error("folder source cannot start; the other sources run, and it is tried again", "source", s.name,
				"error", err, "retry_every", folderStartRetry)
			g.sourceStarted(s.name, err)
			go g.retryStart(ctx, s)
		}
	}
	return g.startStatus()
}

// dataDirDenied gives an error of creating data_dir or writing in it that
// the account may not (a folder root made before `ferry install`, a
// read-only share) the field and what to do; other errors are returned as
// they are.
func dataDirDenied(dir string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	how := "sudo chown -R ferry: " + dir + "; `sudo ferry install` sets it up"
	if runtime.GOOS == "windows" {
		how = "`ferry install`, run as Administrator, sets it up"
	}
	return fmt.Errorf("data_dir %s: the account ferry runs as may not create or write it: "+
		"give it to the service account (%s), or choose a data_dir it may write: %w", dir, how, err)
}

// portInUse gives the error of a listener whose port another program
// holds (the interface engine ferry replaces, a `ferry run` left in
// another terminal) the field that names the port and what to do, as
// ferry doctor's port check does; other errors are returned as they are.
func portInUse(field, addr string, err error) error {
	if !neterr.AddrInUse(err) {
		return err
	}
	return fmt.Errorf("%s %s: already in use by another program (`ferry doctor` names a ferry holding it): stop it or choose another port: %w", field, addr, err)
}

// folderStartRetry is how often a folder source that could not start is
// tried again.
var folderStartRetry = 30 * time.Second

// retryStart starts s once it can, until the gateway shuts down. It holds
// g.mu for each try, so that a try and Shutdown never overlap; after
// Shutdown it returns at its next tick or as soon as it holds g.mu.
func (g *gateway) retryStart(ctx context.Context, s namedSource) {
	t := time.NewTicker(folderStartRetry)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
		}
		g.mu.Lock()
		if g.shutdown {
			g.mu.Unlock()
			return
		}
		err := s.src.Start(ctx, g)
		g.mu.Unlock()
		g.sourceStarted(s.name, err)
		if err == nil {
			g.log.Info("folder source started", "source", s.name)
			return
		}
		g.log.Debug("folder source still cannot start", "source", s.name, "error", err)
	}
}

// sourceStarted records whether the source name has started (err nil) or
// not, for /readyz.
func (g *gateway) sourceStarted(name string, err error) {
	g.readyMu.Lock()
	defer g.readyMu.Unlock()
	if err == nil {
		delete(g.notStarted, name)
		return
	}
	if g.notStarted == nil {
		g.notStarted = map[string]string{}
	}
	g.notStarted[name] = err.Error()
}

// notReady says why the gateway does not take all its input now (for
// /readyz): a source not started, a folder that cannot take its files,
// the queue stopped, full or unable to write to its disk, a fatal error,
// a stop under way. It returns nothing when it is ready.
func (g *gateway) notReady() []string {
	var why []string
	select {
	case <-g.done:
		why = append(why, "stopping")
	default:
	}
	g.readyMu.Lock()
	if g.fatalErr != nil {
		why = append(why, "stopping after a fatal error: "+g.fatalErr.Error())
	}
	for _, name := range slices.Sorted(maps.Keys(g.notStarted)) {
		why = append(why, name+" not started: "+g.notStarted[name])
	}
	// A folder that started takes nothing once its scans find it gone
	// (a share unmounted, the folder removed) or its files cannot be
	// claimed (no write access, a read-only mount), until a scan finds it
	// works again. The reason is the error's class, never a file name.
	for _, e := range g.folders {
		name := "folder/" + e.Config().Name
		if _, waits := g.notStarted[name]; waits {
			continue // said above
		}
		if st := e.Stats(); st.ClaimsFailing {
			why = append(why, name+" cannot take its files: "+st.LastClaimError)
		}
	}
	g.readyMu.Unlock()
	st := g.q.Stats()
	if st.Stopped != "" {
		why = append(why, "queue stopped: "+st.Stopped)
	} else if err := g.q.WriteFailing(); err != nil {
		// A full disk refuses every item that reaches it (MLLP answers
		// AR, folders wait) until a write works again.
		why = append(why, "queue cannot write to its disk: "+err.Error())
	}
	// A full queue takes no item either (MLLP answers AR, folders wait)
	// until deliveries make room.
	if st.Full != "" {
		why = append(why, "queue full: "+st.Full)
	}
	return why
}

// Shutdown stops the sources, all at once (in-flight inputs finish and
// are ACKed), then delivery (a lease in flight is released for
// redelivery), then closes the stores. It is idempotent and safe without Start.
func (g *gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shutdown {
		return nil
	}
	g.shutdown = true
	close(g.done)
	var errs []error
	if err := g.stopStatus(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop status page: %w", err))
	}
	// Every source stops at once. Each closes its listener or ends its
	// polls first, then waits for what it has in flight: stopped one
	// after the other, a source slow to finish (a fax mailbox's poll of a
	// hung server, a long MLLP message) kept the others taking input
	// meanwhile and left them what it had not used of the deadline.
	stopErrs := make([]error, len(g.sources))
	var stopping sync.WaitGroup
	for i, s := range g.sources {
		stopping.Go(func() {
			if err := s.src.Shutdown(ctx); err != nil {
				stopErrs[i] = fmt.Errorf("stop %s: %w", s.name, err)
			}
		})
	}
	stopping.Wait()
	errs = append(errs, stopErrs...)
	if g.sched != nil {
		if err := g.stopScheduler(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop scheduler: %w", err))
		}
	}
	if g.disp != nil {
		if err := g.disp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop delivery: %w", err))
		}
	}
	if g.sink != nil {
		if err := g.sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close sink: %w", err))
		}
	}
	if g.started {
		g.audit.activity(false, g.startErr, time.Now())
	}
	if err := g.audit.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop audit: %w", err))
	} else if g.started && g.audit != nil {
		// Every event is sent or spooled: this run ended cleanly.
		if err := clearRunning(g.cfg.Path("audit")); err != nil {
			errs = append(errs, fmt.Errorf("stop audit: %w", err))
		}
	}
	errs = append(errs, g.closeStores()...)
	return errors.Join(errs...)
}

func (g *gateway) closeStores() []error {
	var errs []error
	if g.q != nil {
		if err := g.q.Close(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("close queue: %w", err))
		}
		g.q = nil
	}
	if g.seen != nil {
		if err := g.seen.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close dedup set: %w", err))
		}
		g.seen = nil
	}
	if g.merges != nil {
		if err := g.merges.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close merge registry: %w", err))
		}
		g.merges = nil
	}
	if g.replaced != nil {
		if err := g.replaced.Close(); err != nil {
			errs = append(errs, err)
		}
		g.replaced = nil
	}
	if g.sequences != nil {
		if err := g.sequences.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close sequence numbers: %w", err))
		}
		g.sequences = nil
	}
	return errs
}

// MLLPAddr returns the bound address of an MLLP source (useful with port 0).
func (g *gateway) MLLPAddr(name string) net.Addr {
	if s, ok := g.mllps[name]; ok {
		return s.Addr()
	}
	return nil
}

// Describe is a one-line, PHI-free summary for the start-up message: every
// source, in the configuration's order, so that the log says what this
// start watches (a folder source left out read as one not running).
func (g *gateway) Describe() string {
	var parts []string
	for _, m := range g.cfg.Sources.MLLP {
		if s, ok := g.mllps[m.Name]; ok {
			parts = append(parts, fmt.Sprintf("mllp/%s on %s", m.Name, s.Addr()))
		}
	}
	for _, f := range g.cfg.Sources.Folders {
		parts = append(parts, fmt.Sprintf("folder/%s (%s) on %s", f.Name, f.Kind, f.Path))
		if f.Fetch != nil {
			parts = append(parts, fmt.Sprintf("fetch/%s from %s", f.Name, redactedFetchURL(f.Fetch.URL)))
		}
	}
	for _, m := range g.mailboxes {
		c := m.Config()
		parts = append(parts, fmt.Sprintf("mailbox/%s (fax) on %s %s", c.Name, c.Address, c.Mailbox))
	}
	if g.cfg.Exchange.URL != "" {
		parts = append(parts, "delivering to "+g.cfg.Exchange.URL)
	} else {
		parts = append(parts, "no exchange configured: bundles go to "+g.cfg.Path("outbox"))
	}
	parts = append(parts, "data in "+g.cfg.DataDir)
	if g.statusAddr != nil {
		// Where to look first: the status page and /metrics.
		parts = append(parts, "status page on http://"+g.statusAddr.String()+"/")
	}
	return strings.Join(parts, "; ")
}

// redactedFetchURL is a fetch URL for the log: host and directory, no
// account (the directory may be named for the practice, never for a
// patient).
func redactedFetchURL(raw string) string {
	t, err := configssh.ParseURL(raw)
	if err != nil {
		return "sftp://?"
	}
	return "sftp://" + t.Addr + "/" + strings.TrimPrefix(t.Dir, "/")
}
