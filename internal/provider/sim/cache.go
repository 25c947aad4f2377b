package sim

import (
	"container/list"
	"sync"
)

// cacheCapacity is how many prompt prefixes a Provider remembers.
const cacheCapacity = 10_000

// cacheKey identifies a cached prompt prefix.
type cacheKey struct {
	model string
	hash  uint64
}

// prefixCache remembers the most recently used prompt prefixes.
type prefixCache struct {
	mu    sync.Mutex
	order *list.List // of cacheKey, most recently used first
	index map[cacheKey]*list.Element
}

func newPrefixCache() *prefixCache {
	return &prefixCache{order: list.New(), index: make(map[cacheKey]*list.Element)}
}

// seen reports whether k was already cached, and caches it.
func (c *prefixCache) seen(k cacheKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[k]; ok {
		c.order.MoveToFront(e)
		return true
	}
	c.index[k] = c.order.PushFront(k)
	if c.order.Len() > cacheCapacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.index, oldest.Value.(cacheKey))
	}
	return false
}
