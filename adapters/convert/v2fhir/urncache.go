package v2fhir

import (
	"encoding/binary"
	"sync"
)

// urnCache remembers the sender-scoped strings every message rebuilds: the
// minted identifier systems ("urn:ferry:ghh-lab:obx"), endpoints and the
// sanitised sender scopes. A site has a handful of senders, so the same
// few dozen strings recur in every message; building them anew cost about
// a tenth of a conversion's allocations. The cache is shared by all
// converters (the key holds every input, Base included) and bounded: past
// urnCacheMax entries new strings are built and not kept, so a stream of
// unique sender names cannot grow it.
type urnCache struct {
	mu sync.RWMutex
	m  map[string]string
}

const urnCacheMax = 4096

var urns = urnCache{m: make(map[string]string)}

// get returns build(), from the cache when it was built before from the
// same parts. kind tells apart the different recipes; each part is
// length-prefixed in the key, so no two part lists share a key whatever
// bytes a message puts in them.
func (c *urnCache) get(kind byte, build func() string, parts ...string) string {
	var stack [160]byte
	key := append(stack[:0], kind)
	for _, p := range parts {
		key = binary.AppendUvarint(key, uint64(len(p)))
		key = append(key, p...)
	}
	c.mu.RLock()
	s, ok := c.m[string(key)] // no allocation for the lookup
	n := len(c.m)
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = build()
	if n < urnCacheMax {
		c.mu.Lock()
		if len(c.m) < urnCacheMax {
			c.m[string(key)] = s
		}
		c.mu.Unlock()
	}
	return s
}

// Recipes (the kind byte of urnCache.get).
const (
	urnSystem    = 's' // base:scope:kind
	urnMessage   = 'm' // base:msgScope:msh-10
	urnAuthority = 'a' // base:id:sanitise(ns)
	urnNamespace = 'n' // base:sanitise(ns):kind
	urnEndpoint  = 'e' // base:kind:sanitise(name)
	urnScope     = 'c' // sanitise(fac)
	urnMsgScope  = 'g' // sanitise(app).sanitise(fac)
)
