package blobspace

import (
	"container/list"
	"sync"
	"time"
)

// The data key cache (see the package doc): an unwrapped data key is
// kept for dataKeyTTL, at most dataKeyCacheSize of them, and while it is,
// its KMS key's state alone is checked, at most every keyCheckInterval.
const (
	dataKeyCacheSize = 4096
	dataKeyTTL       = 5 * time.Minute
	keyCheckInterval = 5 * time.Second
)

// keyCache holds unwrapped data keys, by wrapped key, and the last seen
// state of each KMS key (see dataKeyTTL).
type keyCache struct {
	mu     sync.Mutex
	keys   map[string]*list.Element // of *cachedKey
	lru    list.List                // most recently used first
	states map[string]keyState      // by key ARN
}

type cachedKey struct {
	wrapped string
	plain   []byte
	added   time.Time
}

type keyState struct {
	err     error // nil: usable
	checked time.Time
}

func newKeyCache() *keyCache {
	return &keyCache{keys: map[string]*list.Element{}, states: map[string]keyState{}}
}

// get returns a copy of a cached data key, which the caller may clear.
func (c *keyCache) get(wrapped []byte, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.keys[string(wrapped)]
	if !ok {
		return nil, false
	}
	k := e.Value.(*cachedKey)
	if now.Sub(k.added) >= dataKeyTTL {
		c.remove(e)
		return nil, false
	}
	c.lru.MoveToFront(e)
	return append([]byte(nil), k.plain...), true
}

func (c *keyCache) put(wrapped, plain []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.keys[string(wrapped)]; ok {
		c.remove(e)
	}
	k := &cachedKey{wrapped: string(wrapped), plain: append([]byte(nil), plain...), added: now}
	c.keys[k.wrapped] = c.lru.PushFront(k)
	for c.lru.Len() > dataKeyCacheSize {
		c.remove(c.lru.Back())
	}
}

func (c *keyCache) remove(e *list.Element) {
	k := c.lru.Remove(e).(*cachedKey)
	clear(k.plain)
	delete(c.keys, k.wrapped)
}

// state returns a key's state if it was checked within keyCheckInterval.
func (c *keyCache) state(arn string, now time.Time) (keyState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.states[arn]
	if !ok || now.Sub(s.checked) >= keyCheckInterval || now.Before(s.checked) {
		return keyState{}, false
	}
	return s, true
}

func (c *keyCache) setState(arn string, err error, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.states) >= dataKeyCacheSize {
		clear(c.states) // keys in use are few; this bounds the map all the same
	}
	c.states[arn] = keyState{err: err, checked: now}
}

// forgetState drops what was last seen of a key's state.
func (c *keyCache) forgetState(arn string) {
	c.mu.Lock()
	delete(c.states, arn)
	c.mu.Unlock()
}
