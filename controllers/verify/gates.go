package verify

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// gates bound the registry work in flight: per registry host, so a registry
// that hangs can hold at most PerRegistryConcurrency slots, and overall.
// The host slot is taken first, so a request queued behind a slow registry
// waits without holding a global slot that a healthy registry could use.
//
// A host whose last request failed to connect or timed out is "down" for
// HostBackoff: requests for it fail at once instead of each waiting out the
// timeout in turn, which would make a pass over N artifacts of a dead
// registry take N / PerRegistryConcurrency timeouts.
type gates struct {
	global  chan struct{}
	perHost int
	backoff time.Duration
	now     func() time.Time

	mu    sync.Mutex
	hosts map[string]*hostGate
}

type hostGate struct {
	slots     chan struct{}
	downUntil time.Time
	downCause string
}

// hostDownError is returned while a host is in back-off.
type hostDownError struct {
	host, cause string
	until       time.Time
}

func (e *hostDownError) Error() string {
	return fmt.Sprintf("registry %s was unreachable moments ago (%s); not retried before %s", e.host, e.cause, e.until.UTC().Format(time.RFC3339))
}

func newGates(o Options) *gates {
	return &gates{
		global:  make(chan struct{}, o.Concurrency),
		perHost: o.PerRegistryConcurrency,
		backoff: o.HostBackoff,
		now:     o.Now,
		hosts:   map[string]*hostGate{},
	}
}

func (g *gates) host(name string) *hostGate {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.hosts[name]
	if !ok {
		h = &hostGate{slots: make(chan struct{}, g.perHost)}
		g.hosts[name] = h
	}
	return h
}

// acquire waits for a slot for host and a global slot. It fails with
// ctx's error, or with a *hostDownError when host is in back-off (checked
// before and after waiting, since the host may have failed meanwhile).
func (g *gates) acquire(ctx context.Context, host string) (release func(), err error) {
	h := g.host(host)
	if err := g.checkDown(host, h); err != nil {
		return nil, err
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := g.checkDown(host, h); err != nil {
		<-h.slots
		return nil, err
	}
	select {
	case g.global <- struct{}{}:
	case <-ctx.Done():
		<-h.slots
		return nil, ctx.Err()
	}
	return func() {
		<-g.global
		<-h.slots
	}, nil
}

func (g *gates) checkDown(name string, h *hostGate) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.now().Before(h.downUntil) {
		return &hostDownError{host: name, cause: h.downCause, until: h.downUntil}
	}
	return nil
}

// markDown starts host's back-off.
func (g *gates) markDown(name, cause string) {
	h := g.host(name)
	g.mu.Lock()
	defer g.mu.Unlock()
	h.downUntil = g.now().Add(g.backoff)
	h.downCause = cause
}

// markUp ends host's back-off after it answered.
func (g *gates) markUp(name string) {
	h := g.host(name)
	g.mu.Lock()
	defer g.mu.Unlock()
	h.downUntil = time.Time{}
	h.downCause = ""
}
