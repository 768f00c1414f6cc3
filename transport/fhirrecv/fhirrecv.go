// Package fhirrecv is a small in-process FHIR transaction receiver: the
// far end of `ferry demo` and of the gateway's end-to-end Go tests. It
// applies transaction Bundles the way a FHIR server does for the
// interactions ferry emits (conditional update `PUT Type?identifier=...`,
// conditional create `ifNoneExist`, plain POST and PUT Type/id, and PATCH
// with a JSON Patch of top-level members), keeps the resources in memory,
// and answers a transaction-response, a refused transaction leaving
// nothing, or a batch-response, where an entry fails alone. It also takes the create of one resource, POST
// [base]/<type> with an If-None-Exist header (IHE MHD ITI-105 Simplified
// Publish), answered 201 or, when found, 200, with a Location and no
// body. It is not an exchange: CI uses a real FHIR server
// (Medplum) for that.
package fhirrecv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Receiver stores what it was sent. Its zero value is not usable; call New.
type Receiver struct {
	mu        sync.Mutex
	resources map[string]map[string]json.RawMessage // type → logical key → resource
	bundles   int
	requests  int
	nextID    int
	// FailWith, when non-zero, makes every POST answer this status (with
	// Retry-After: 1 for 429/503) without storing anything.
	failWith int
	// undo, while a transaction is applied, is what its writes replaced,
	// latest last, so that a refused transaction leaves nothing behind.
	undo []change
	inTx bool
}

// change is one write of a transaction: typ's map made (key ""), or
// the resource under key set, prev and existed being what it replaced.
type change struct {
	typ, key string
	prev     json.RawMessage
	existed  bool
}

// set stores res under typ and key, remembering what it replaced while a
// transaction is applied.
func (r *Receiver) set(typ, key string, res json.RawMessage) {
	m := r.resources[typ]
	if m == nil {
		m = map[string]json.RawMessage{}
		r.resources[typ] = m
		if r.inTx {
			r.undo = append(r.undo, change{typ: typ})
		}
	}
	if r.inTx {
		prev, existed := m[key]
		r.undo = append(r.undo, change{typ: typ, key: key, prev: prev, existed: existed})
	}
	m[key] = res
}

// rollback undoes the writes of the transaction being applied.
func (r *Receiver) rollback() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		switch c := r.undo[i]; {
		case c.key == "":
			delete(r.resources, c.typ)
		case c.existed:
			r.resources[c.typ][c.key] = c.prev
		default:
			delete(r.resources[c.typ], c.key)
		}
	}
	r.undo = nil
}

// New returns an empty receiver.
func New() *Receiver {
	return &Receiver{resources: map[string]map[string]json.RawMessage{}}
}

// SetFailure makes the receiver answer status to every transaction until
// it is called with 0.
func (r *Receiver) SetFailure(status int) {
	r.mu.Lock()
	r.failWith = status
	r.mu.Unlock()
}

// Counts returns the number of stored resources per type.
func (r *Receiver) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for t, m := range r.resources {
		out[t] = len(m)
	}
	return out
}

// Bundles returns how many transactions were applied.
func (r *Receiver) Bundles() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bundles
}

// Resources returns the stored resources of one type, in key order.
func (r *Receiver) Resources(typ string) []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.resources[typ]))
	for k := range r.resources[typ] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]json.RawMessage, 0, len(keys))
	for _, k := range keys {
		out = append(out, r.resources[typ][k])
	}
	return out
}

type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Request  struct {
			Method      string `json:"method"`
			URL         string `json:"url"`
			IfNoneExist string `json:"ifNoneExist"`
		} `json:"request"`
	} `json:"entry"`
}

type response struct {
	Status   string         `json:"status"`
	Location string         `json:"location,omitempty"`
	Outcome  map[string]any `json:"outcome,omitempty"`
}

// ServeHTTP accepts POST [base] with a transaction or batch Bundle, and
// POST [base]/<type> with a resource of that type.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests++
	fail := r.failWith
	r.mu.Unlock()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		outcome(w, http.StatusMethodNotAllowed, "only POST of a transaction Bundle is supported")
		return
	}
	if fail != 0 {
		if fail == http.StatusTooManyRequests || fail == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		outcome(w, fail, "receiver is set to fail")
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 256<<20))
	if err != nil {
		outcome(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.ResourceType == "" {
		outcome(w, http.StatusBadRequest, "body is not a FHIR resource")
		return
	}
	if typ := path.Base(req.URL.Path); head.ResourceType != "Bundle" || typ == "Bundle" {
		if typ != head.ResourceType {
			outcome(w, http.StatusBadRequest, fmt.Sprintf("a %s is created at [base]/%s, not at %s", head.ResourceType, head.ResourceType, req.URL.Path))
			return
		}
		r.mu.Lock()
		key, created := r.apply(typ, http.MethodPost, "", req.Header.Get("If-None-Exist"), body)
		r.mu.Unlock()
		if key == "" {
			outcome(w, http.StatusBadRequest, "If-None-Exist is not a search")
			return
		}
		w.Header().Set("Location", req.URL.Path+"/"+url.PathEscape(key))
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		w.WriteHeader(status)
		return
	}
	var b bundle
	if err := json.Unmarshal(body, &b); err != nil {
		outcome(w, http.StatusBadRequest, "body is not a FHIR Bundle")
		return
	}
	if b.Type != "transaction" && b.Type != "batch" {
		outcome(w, http.StatusBadRequest, "Bundle.type must be transaction or batch, got "+strconv.Quote(b.Type))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// A transaction is applied whole or not at all (FHIR R4
	// http.html#transaction): a refused one is undone.
	r.inTx = b.Type == "transaction"
	nextID := r.nextID
	defer func() { r.inTx, r.undo = false, nil }()
	resps := make([]response, len(b.Entry))
	// failed answers entry i's failure: a transaction's refuses it whole,
	// undone (and is true); a batch's fails that entry alone, answered in
	// its response entry, the others applied (FHIR R4
	// http.html#transaction).
	failed := func(i, status int, msg string) bool {
		if b.Type == "transaction" {
			r.rollback()
			r.nextID = nextID
			outcome(w, status, fmt.Sprintf("entry %d: %s", i, msg))
			return true
		}
		resps[i] = response{Status: strconv.Itoa(status) + " " + http.StatusText(status), Outcome: outcomeOf(msg)}
		return false
	}
	for i, e := range b.Entry {
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal(e.Resource, &head); err != nil || head.ResourceType == "" {
			if failed(i, http.StatusBadRequest, "no resource") {
				return
			}
			continue
		}
		if e.Request.Method == http.MethodPatch {
			typ, key, status, msg := r.patch(e.Request.URL, e.Resource)
			if status != http.StatusOK {
				if failed(i, status, msg) {
					return
				}
				continue
			}
			resps[i] = response{Status: "200 OK", Location: typ + "/" + key}
			continue
		}
		typ := head.ResourceType
		key, created := r.apply(typ, e.Request.Method, e.Request.URL, e.Request.IfNoneExist, e.Resource)
		if key == "" {
			if failed(i, http.StatusBadRequest, "unsupported request "+e.Request.Method+" "+e.Request.URL) {
				return
			}
			continue
		}
		status := "200 OK"
		if created {
			status = "201 Created"
		}
		resps[i] = response{Status: status, Location: typ + "/" + key}
	}
	r.bundles++
	out := map[string]any{"resourceType": "Bundle", "type": b.Type + "-response"}
	entries := make([]map[string]any, len(resps))
	for i, rs := range resps {
		entries[i] = map[string]any{"response": rs}
	}
	out["entry"] = entries
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(out)
}

// logicalKey is the logical key a request URL names: "id:<id>" for Type/id,
// "q:<query>" for a conditional Type?query (the key a conditional PUT
// stores under), and the resource type.
func logicalKey(u string) (typ, key string, ok bool) {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		q, err := url.ParseQuery(u[i+1:])
		if err != nil {
			return "", "", false
		}
		return u[:i], "q:" + q.Encode(), true
	}
	if j := strings.IndexByte(u, '/'); j >= 0 {
		return u[:j], "id:" + u[j+1:], true
	}
	return "", "", false
}

// patch applies a JSON Patch (RFC 6902) carried in a Binary to the stored
// resource u names. It knows the operations on top-level members ("add",
// "replace", "remove", "test"), which is what ferry sends. It returns the
// HTTP status: 200, 404 when nothing is stored under u, 400 for a patch it
// cannot read, 422 when a test fails or a path is not top-level.
func (r *Receiver) patch(u string, res json.RawMessage) (typ, k string, status int, msg string) {
	typ, k, ok := logicalKey(u)
	if !ok {
		return "", "", http.StatusBadRequest, "unsupported PATCH url " + u
	}
	var bin struct {
		ContentType string `json:"contentType"`
		Data        []byte `json:"data"`
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(res, &bin); err != nil || bin.ContentType != "application/json-patch+json" {
		return typ, k, http.StatusBadRequest, "PATCH entry is not a Binary with a JSON Patch"
	}
	if err := json.Unmarshal(bin.Data, &ops); err != nil {
		return typ, k, http.StatusBadRequest, "JSON Patch: " + err.Error()
	}
	stored, found := r.resources[typ][k]
	if !found {
		return typ, k, http.StatusNotFound, typ + " " + u + " not found"
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(stored, &doc); err != nil {
		return typ, k, http.StatusInternalServerError, err.Error()
	}
	for _, op := range ops {
		name := strings.TrimPrefix(op.Path, "/")
		if !strings.HasPrefix(op.Path, "/") || strings.ContainsAny(name, "/~") || name == "" {
			return typ, k, http.StatusUnprocessableEntity, "path " + op.Path + " is not a top-level member"
		}
		switch op.Op {
		case "add", "replace":
			if _, has := doc[name]; op.Op == "replace" && !has {
				return typ, k, http.StatusUnprocessableEntity, "replace of absent " + op.Path
			}
			doc[name] = op.Value
		case "remove":
			delete(doc, name)
		case "test":
			var a, b any
			_ = json.Unmarshal(doc[name], &a)
			_ = json.Unmarshal(op.Value, &b)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				return typ, k, http.StatusUnprocessableEntity, "test of " + op.Path + " failed"
			}
		default:
			return typ, k, http.StatusUnprocessableEntity, "unsupported op " + op.Op
		}
	}
	patched, err := json.Marshal(doc)
	if err != nil {
		return typ, k, http.StatusInternalServerError, err.Error()
	}
	r.set(typ, k, patched)
	return typ, k, http.StatusOK, ""
}

// apply stores one resource and returns its logical key and whether it was
// new. Conditional forms key on the search criteria, so re-sending the same
// entry updates (or, for ifNoneExist, leaves) the one stored resource.
func (r *Receiver) apply(typ, method, u, ifNoneExist string, res json.RawMessage) (string, bool) {
	m := r.resources[typ]
	var key string
	switch method {
	case http.MethodPut:
		_, k, ok := logicalKey(u)
		if !ok {
			return "", false
		}
		key = k
	case http.MethodPost:
		if ifNoneExist != "" {
			q, err := url.ParseQuery(ifNoneExist)
			if err != nil {
				return "", false
			}
			key = "q:" + q.Encode()
			if _, ok := m[key]; ok {
				return key, false
			}
		} else {
			r.nextID++
			key = "n:" + strconv.Itoa(r.nextID)
		}
	default:
		return "", false
	}
	_, existed := m[key]
	r.set(typ, key, res)
	return key, !existed
}

func outcome(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(outcomeOf(msg))
}

func outcomeOf(msg string) map[string]any {
	return map[string]any{
		"resourceType": "OperationOutcome",
		"issue":        []map[string]any{{"severity": "error", "code": "processing", "diagnostics": msg}},
	}
}
