// Package fhirrecv is a small in-process FHIR transaction receiver: the
// far end of `ferry demo` and of the gateway's end-to-end Go tests. It
// applies transaction Bundles the way a FHIR server does for the
// interactions ferry emits (conditional update `PUT Type?identifier=...`,
// conditional create `ifNoneExist`, plain POST and PUT Type/id), keeps the
// resources in memory, and answers a transaction-response. It is not an
// exchange: CI uses a real FHIR server (Medplum) for that.
package fhirrecv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	Status   string `json:"status"`
	Location string `json:"location,omitempty"`
}

// ServeHTTP accepts POST [base] with a transaction or batch Bundle.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests++
	fail := r.failWith
	r.mu.Unlock()
	if req.Method != http.MethodPost {
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
	var b bundle
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" {
		outcome(w, http.StatusBadRequest, "body is not a FHIR Bundle")
		return
	}
	if b.Type != "transaction" && b.Type != "batch" {
		outcome(w, http.StatusBadRequest, "Bundle.type must be transaction or batch, got "+strconv.Quote(b.Type))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	resps := make([]response, len(b.Entry))
	for i, e := range b.Entry {
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal(e.Resource, &head); err != nil || head.ResourceType == "" {
			outcome(w, http.StatusBadRequest, fmt.Sprintf("entry %d has no resource", i))
			return
		}
		typ := head.ResourceType
		key, created := r.apply(typ, e.Request.Method, e.Request.URL, e.Request.IfNoneExist, e.Resource)
		if key == "" {
			outcome(w, http.StatusBadRequest, fmt.Sprintf("entry %d: unsupported request %s %s", i, e.Request.Method, e.Request.URL))
			return
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

// apply stores one resource and returns its logical key and whether it was
// new. Conditional forms key on the search criteria, so re-sending the same
// entry updates (or, for ifNoneExist, leaves) the one stored resource.
func (r *Receiver) apply(typ, method, u, ifNoneExist string, res json.RawMessage) (string, bool) {
	m := r.resources[typ]
	if m == nil {
		m = map[string]json.RawMessage{}
		r.resources[typ] = m
	}
	var key string
	switch method {
	case http.MethodPut:
		if i := strings.IndexByte(u, '?'); i >= 0 {
			q, err := url.ParseQuery(u[i+1:])
			if err != nil {
				return "", false
			}
			key = "q:" + q.Encode()
		} else if j := strings.IndexByte(u, '/'); j >= 0 {
			key = "id:" + u[j+1:]
		} else {
			return "", false
		}
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
	m[key] = res
	return key, !existed
}

func outcome(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"resourceType": "OperationOutcome",
		"issue":        []map[string]any{{"severity": "error", "code": "processing", "diagnostics": msg}},
	})
}
