package verify

import (
	"container/list"
	"sync"
	"time"
)

// cacheKey identifies a verdict. The repository is part of it although the
// digest alone names the content: signatures live next to the artifact in
// one repository, and trust policy scopes match repositories, so the same
// digest can verify in one repository and not in another.
type cacheKey struct {
	repository, digest, trust string
}

type cacheEntry struct {
	key    cacheKey
	result Result
}

// verdictCache is a least-recently-used cache of verdicts. Its size is
// bounded; entries do not expire by themselves, the caller's maxAge decides
// at lookup, because the right age depends on the caller's interval.
type verdictCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used
	items map[cacheKey]*list.Element
}

func newVerdictCache(max int) *verdictCache {
	return &verdictCache{max: max, order: list.New(), items: map[cacheKey]*list.Element{}}
}

// get returns the verdict for key if it was established less than maxAge
// before now.
func (c *verdictCache) get(key cacheKey, maxAge time.Duration, now time.Time) (Result, bool) {
	if maxAge <= 0 {
		return Result{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return Result{}, false
	}
	e := el.Value.(*cacheEntry)
	if now.Sub(e.result.CheckedAt) >= maxAge {
		return Result{}, false
	}
	c.order.MoveToFront(el)
	return e.result, true
}

func (c *verdictCache) put(key cacheKey, r Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value.(*cacheEntry).result = r
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key: key, result: r})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*cacheEntry).key)
	}
}

func (c *verdictCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
