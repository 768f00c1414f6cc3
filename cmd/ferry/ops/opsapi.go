package ops

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferry-health/ferry/config/configopaque"

	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/durable"
)

// The dead-letter operations of a running gateway (`ferry queue retry|purge`
// while the service holds the queue's lock) go over its loopback status
// listener. The status page itself stays read-only and open; these POST
// endpoints need a bearer token that the gateway writes into its data
// folder at start. Reading it takes the same file permissions as touching
// the queue directly, so the endpoint grants no one anything new, and a web
// page in a browser on the same machine cannot forge the header.

// TokenFile is the name of the token file in the data folder.
const TokenFile = "ops.token"

// WriteToken creates a fresh random token in dataDir (mode 0600, replacing
// an older one) and returns it.
// The token is a configopaque.String so that it prints as [REDACTED] if it
// ever reaches a log line or an error.
func WriteToken(dataDir string) (configopaque.String, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("ops token: %w", err)
	}
	tok := hex.EncodeToString(b)
	path := filepath.Join(dataDir, TokenFile)
	if err := durable.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("ops token: %w", err)
	}
	return configopaque.String(tok), nil
}

// ReadToken reads the running gateway's token from dataDir.
func ReadToken(dataDir string) (configopaque.String, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, TokenFile))
	if err != nil {
		return "", fmt.Errorf("read ops token: %w", err)
	}
	return configopaque.String(strings.TrimSpace(string(b))), nil
}

// Authorized checks a request's bearer token in constant time.
func Authorized(r *http.Request, token configopaque.String) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(string(token))) == 1
}

// OpResult is the answer of an ops endpoint.
type OpResult struct {
	ID    string `json:"id"`
	Done  bool   `json:"done"`
	Error string `json:"error,omitempty"`
}

// ErrNoSuchItem is returned by RemoteOp when the gateway has no dead letter
// (or queued item, for purge) with that ID.
var ErrNoSuchItem = errors.New("no such item")

// RemoteOp asks the gateway listening on addr to "retry" or "purge" the
// dead letter id. A retry is refused when later items of the same patient
// were delivered since (see RemoteRetry).
func RemoteOp(ctx context.Context, addr string, token configopaque.String, action, id string) error {
	return remoteOp(ctx, addr, token, action, id, "")
}

// RemoteRetry asks the gateway to retry the dead letter id. Without force
// the gateway refuses when items of the same patient key were delivered
// after it (or that is not known), since re-sending it applies older data
// on top of newer; the error then says how many.
func RemoteRetry(ctx context.Context, addr string, token configopaque.String, id string, force bool) error {
	query := ""
	if force {
		query = "?force=1"
	}
	return remoteOp(ctx, addr, token, "retry", id, query)
}

func remoteOp(ctx context.Context, addr string, token configopaque.String, action, id, query string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := "http://" + addr + "/api/ops/deadletters/" + url.PathEscape(id) + "/" + action + query
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, id, err)
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	req.Header.Set(OperatorHeader, describeOperator(LocalOperator()))
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, id, err)
	}
	defer resp.Body.Close()
	var res OpResult
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res)
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", action, id, ErrNoSuchItem)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s %s: the gateway refused the ops token (restarted since it was read?)", action, id)
	case res.Error != "":
		return fmt.Errorf("%s %s: %s", action, id, res.Error)
	}
	return fmt.Errorf("%s %s: gateway answered %s", action, id, resp.Status)
}

// DeadLetterOps is the part of the disk queue the ops endpoints use.
type DeadLetterOps interface {
	DeadLetter(id string) (*diskq.DeadLetter, error)
	Retry(ctx context.Context, id string) error
	Purge(ctx context.Context, id string) error
}

// OpRecord describes one dead-letter operation over the ops API, for
// OpsAudit.
type OpRecord struct {
	// Action is "read" (GET, the body included), "retry" or "purge".
	Action string
	ID     string
	// DeadLetter is what was known about it before the operation (for
	// its patient key); nil when Lookup found none.
	DeadLetter *diskq.DeadLetter
	// Remote is the client's address; Operator the account it says runs
	// it (OperatorHeader), unverified.
	Remote, Operator string
	// Err is the operation's error; nil when it was done.
	Err error
}

// errWrongToken is the reason an ops API request was refused.
var errWrongToken = errors.New("missing or wrong ops token")

// OpsAudit records the ops API's dead-letter operations in the audit
// trail: they read, re-queue or delete patient data.
type OpsAudit struct {
	// Lookup returns a dead letter's metadata without its body, before an
	// operation that may remove it; nil when unknown. Optional.
	Lookup func(id string) *diskq.DeadLetter
	// Record is called once per operation, after it ran (a read: before
	// the body is sent). It must not block.
	Record func(OpRecord)
	// Denied is called for every request refused for a missing or wrong
	// token (Action is the method and path asked for, cleaned as the
	// operator is; ID empty), before the answer.
	// It must not block. Optional.
	Denied func(OpRecord)
}

// RegisterOpsHandlers adds POST /api/ops/deadletters/{id}/retry and
// .../purge to mux, guarded by token. notFound tells whether an error
// means the ID is unknown (diskq.ErrNotFound). With aud, every operation
// is also recorded in the audit trail.
func RegisterOpsHandlers(mux *http.ServeMux, q DeadLetterOps, token configopaque.String, notFound func(error) bool, aud ...OpsAudit) {
	record := func(r *http.Request, action, id string, dl *diskq.DeadLetter, err error) {
		for _, a := range aud {
			if a.Record != nil {
				a.Record(OpRecord{Action: action, ID: id, DeadLetter: dl, Remote: r.RemoteAddr,
					Operator: cleanHeader(r.Header.Get(OperatorHeader)), Err: err})
			}
		}
	}
	lookup := func(id string) *diskq.DeadLetter {
		for _, a := range aud {
			if a.Lookup != nil {
				return a.Lookup(id)
			}
		}
		return nil
	}
	// guarded answers JSON that no cache keeps, and only to a request
	// with the token.
	guarded := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			if !Authorized(r, token) {
				for _, a := range aud {
					if a.Denied != nil {
						// The path is the caller's ({id}), as the operator it claims.
						a.Denied(OpRecord{Action: cleanHeader(r.Method + " " + r.URL.Path), Remote: r.RemoteAddr,
							Operator: cleanHeader(r.Header.Get(OperatorHeader)), Err: errWrongToken})
					}
				}
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(OpResult{Error: "missing or wrong ops token"})
				return
			}
			h(w, r)
		}
	}
	handle := func(action string, op func(*http.Request, string) error) {
		mux.HandleFunc("POST /api/ops/deadletters/{id}/"+action, guarded(func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			var dl *diskq.DeadLetter
			if len(aud) > 0 {
				dl = lookup(id)
			}
			err := op(r, id)
			record(r, action, id, dl, err)
			res := OpResult{ID: id, Done: err == nil}
			switch {
			case err == nil:
			case notFound(err):
				w.WriteHeader(http.StatusNotFound)
				res.Error = err.Error()
			default:
				w.WriteHeader(http.StatusConflict)
				res.Error = err.Error()
			}
			json.NewEncoder(w).Encode(res)
		}))
	}
	// A retry of a dead letter whose patient has had newer items
	// delivered since needs ?force=1 (a queue that counts them).
	handle("retry", func(r *http.Request, id string) error {
		if rs, ok := q.(interface {
			RetrySafe(ctx context.Context, id string, force bool) error
		}); ok {
			return rs.RetrySafe(r.Context(), id, r.URL.Query().Get("force") == "1")
		}
		return q.Retry(r.Context(), id)
	})
	handle("purge", func(r *http.Request, id string) error { return q.Purge(r.Context(), id) })
	// One dead letter with its body (PHI): same token as the operations.
	mux.HandleFunc("GET /api/ops/deadletters/{id}", guarded(func(w http.ResponseWriter, r *http.Request) {
		if sq, ok := q.(deadLetterStreamer); ok {
			serveDeadLetter(w, r, sq, notFound, func(meta *diskq.DeadLetter, err error) {
				if len(aud) > 0 {
					record(r, "read", r.PathValue("id"), meta, err)
				}
			})
			return
		}
		dl, err := q.DeadLetter(r.PathValue("id"))
		if len(aud) > 0 {
			// Recorded before the body leaves, without it.
			var meta *diskq.DeadLetter
			if dl != nil {
				m := *dl
				m.Body = nil
				meta = &m
			}
			record(r, "read", r.PathValue("id"), meta, err)
		}
		if err != nil {
			if notFound(err) {
				w.WriteHeader(http.StatusNotFound)
			} else {
				w.WriteHeader(http.StatusInternalServerError)
			}
			json.NewEncoder(w).Encode(OpResult{ID: r.PathValue("id"), Error: err.Error()})
			return
		}
		json.NewEncoder(w).Encode(dl)
	}))
}

// deadLetterStreamer is a queue that gives a dead letter's body as a
// stream (diskq.Queue).
type deadLetterStreamer interface {
	DeadLetterStream(id string) (*diskq.DeadLetter, io.ReadCloser, error)
}

// serveDeadLetter answers one dead letter as DeadLetter's JSON, its body
// base64-encoded as it is read: a fax's bundle is hundreds of MB, and
// held, then encoded, in the gateway's memory it took about five times
// that. recorded is called, without the body, before the body is sent.
func serveDeadLetter(w http.ResponseWriter, r *http.Request, q deadLetterStreamer, notFound func(error) bool, recorded func(*diskq.DeadLetter, error)) {
	id := r.PathValue("id")
	dl, body, err := q.DeadLetterStream(id)
	recorded(dl, err)
	if err != nil {
		if notFound(err) {
			w.WriteHeader(http.StatusNotFound)
		} else {
			w.WriteHeader(http.StatusInternalServerError)
		}
		json.NewEncoder(w).Encode(OpResult{ID: id, Error: err.Error()})
		return
	}
	defer body.Close()
	br := bufio.NewReaderSize(body, 64<<10)
	_, err = br.Peek(1)
	empty := err == io.EOF
	if err == io.EOF {
		err = nil
	}
	var meta []byte
	if err == nil {
		meta, err = json.Marshal(dl)
	}
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(OpResult{ID: id, Error: fmt.Sprintf("dead letter %s: %v", id, err)})
		return
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(meta[:len(meta)-1]) // an object: its closing brace follows the body
	if !empty {
		bw.WriteString(`,"body":"`)
		enc := base64.NewEncoder(base64.StdEncoding, bw)
		if _, err := br.WriteTo(enc); err != nil {
			// The status is sent: cut the answer off, so the
			// client sees it incomplete rather than a short body.
			panic(http.ErrAbortHandler)
		}
		enc.Close()
		bw.WriteByte('"')
	}
	bw.WriteString("}\n")
	bw.Flush()
}

// RemoteDeadLetter fetches one dead letter, body included, from the
// gateway listening on addr.
func RemoteDeadLetter(ctx context.Context, addr string, token configopaque.String, id string) (*diskq.DeadLetter, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/ops/deadletters/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, fmt.Errorf("show %s: %w", id, err)
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	req.Header.Set(OperatorHeader, describeOperator(LocalOperator()))
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("show %s: %w", id, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		var dl diskq.DeadLetter
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(&dl); err != nil {
			return nil, fmt.Errorf("show %s: %w", id, err)
		}
		return &dl, nil
	case http.StatusNotFound:
		return nil, fmt.Errorf("show %s: %w", id, ErrNoSuchItem)
	case http.StatusUnauthorized:
		return nil, fmt.Errorf("show %s: the gateway refused the ops token (restarted since it was read?)", id)
	}
	// The gateway's reason (a dead letter it cannot read), as remoteOp
	// gives it.
	var res OpResult
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res) == nil && res.Error != "" {
		return nil, fmt.Errorf("show %s: %s", id, res.Error)
	}
	return nil, fmt.Errorf("show %s: gateway answered %s", id, resp.Status)
}
