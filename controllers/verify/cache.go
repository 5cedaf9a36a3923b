package verify

import (
	"container/list"
	"sync"
	"time"
)

// cacheKey identifies a verdict. The repository is part of it although the
// digest alone names the content: signatures live next to the artifact in
// one repository, and trust policy scopes match repositories, so the same
// digest can verify in one repository and not in another. The access
// settings are part of it too: a namespace whose credentials cannot read
// the artifact must not inherit another namespace's verdict (Flux there
// fails to pull).
type cacheKey struct {
	repository, digest, trust, access string
}

type cacheEntry struct {
	key    cacheKey
	result Result
	// failures counts the Failed verdicts in a row for key.
	failures int
}

// verdictCache is a least-recently-used cache of verdicts. Its size is
// bounded; entries do not expire by themselves, the caller's maxAge decides
// at lookup, because the right age depends on the caller's interval.
//
// A Failed verdict is trusted for less: failedRecheck after the first
// failure, then twice that for each further failure in a row, never more
// than maxAge. An artifact that fails is often fixed (re-signed under the
// same digest) soon after, or after hours, and users expect to see it
// verify within a minute either way; the doubling halves the registry
// requests of one that keeps failing, and stops there, since verdicts are
// shared by every namespace deploying an artifact, a failing one costs one
// verification a minute, not one per namespace.
type verdictCache struct {
	mu            sync.Mutex
	max           int
	failedRecheck time.Duration
	order         *list.List // front: most recently used
	items         map[cacheKey]*list.Element
}

func newVerdictCache(max int, failedRecheck time.Duration) *verdictCache {
	return &verdictCache{max: max, failedRecheck: failedRecheck, order: list.New(), items: map[cacheKey]*list.Element{}}
}

// failedAge is how long the failures-th Failed verdict in a row is trusted.
func (c *verdictCache) failedAge(failures int, maxAge time.Duration) time.Duration {
	age := c.failedRecheck
	if failures > 1 {
		age *= 2
	}
	return min(age, maxAge)
}

// get returns the verdict for key if it was established less than maxAge
// before now (less for Failed verdicts, see verdictCache).
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
	if e.result.Outcome == Failed {
		maxAge = c.failedAge(e.failures, maxAge)
	}
	if now.Sub(e.result.CheckedAt) >= maxAge {
		return Result{}, false
	}
	c.order.MoveToFront(el)
	return e.result, true
}

func (c *verdictCache) put(key cacheKey, r Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	failures := 0
	if r.Outcome == Failed {
		failures = 1
	}
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		if r.Outcome == Failed && e.result.Outcome == Failed {
			failures = e.failures + 1
		}
		e.result, e.failures = r, failures
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key: key, result: r, failures: failures})
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
