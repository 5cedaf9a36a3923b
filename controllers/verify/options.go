package verify

import (
	"net/http"
	"time"
)

// Options configure a Verifier. Zero values take the defaults.
type Options struct {
	// Timeout bounds all registry work of one verification. Default 30s.
	Timeout time.Duration
	// Concurrency bounds verifications talking to registries at once.
	// Default 8.
	Concurrency int
	// PerRegistryConcurrency bounds them per registry host, so one slow
	// registry cannot hold every slot. Default: half of Concurrency (with
	// host back-off, a dead registry holds at most that many, once).
	PerRegistryConcurrency int
	// HostBackoff is how long a registry that just proved unreachable is
	// answered Unavailable without being contacted. Default: Timeout.
	HostBackoff time.Duration
	// CacheSize bounds the number of cached verdicts. Default 4096.
	CacheSize int
	// FailedRecheck is how long a first Failed verdict is trusted; a
	// further failure in a row is trusted for twice that (never more than
	// the caller's maxAge), so a re-signed artifact is seen within
	// 2*FailedRecheck however long it failed. Default 30s.
	FailedRecheck time.Duration
	// MaxResponseBytes caps every registry response body. Default 4 MiB,
	// see limit.go.
	MaxResponseBytes int64
	// UserAgent is sent to registries. Default "verification-operator".
	UserAgent string
	// WrapTransport, for tests, wraps the HTTP transport of each
	// verification (after TLS is configured, before limits and retries).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Now, for tests, replaces time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.PerRegistryConcurrency <= 0 {
		o.PerRegistryConcurrency = max(1, o.Concurrency/2)
	}
	if o.HostBackoff <= 0 {
		o.HostBackoff = o.Timeout
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 4096
	}
	if o.FailedRecheck <= 0 {
		o.FailedRecheck = 30 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 4 << 20
	}
	if o.UserAgent == "" {
		o.UserAgent = "verification-operator"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
