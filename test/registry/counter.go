package registry

import (
	"net/http"
	"sync/atomic"
)

// counter counts the requests a handler receives, so tests can prove that a
// cached verification made none.
type counter struct {
	next http.Handler
	n    atomic.Int64
}

func newCounter(next http.Handler) *counter { return &counter{next: next} }

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.next.ServeHTTP(w, r)
}

func (c *counter) requests() int64 { return c.n.Load() }

func (c *counter) reset() { c.n.Store(0) }
