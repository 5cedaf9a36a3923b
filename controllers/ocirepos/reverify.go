package ocirepos

import (
	"time"
)

const (
	// ReverifiedDigestAnnotation records, on an OCIRepository, the trust
	// digest of its namespace's Secret the operator last saw. Comparing it
	// with the current digest tells a trust change apart from first sight,
	// and survives manager restarts.
	ReverifiedDigestAnnotation = "verification.flux-notation.io/reverified-digest"
	// ReverifyRequestedAtAnnotation records when the operator asked Flux to
	// reconcile after a trust change. reconcile.fluxcd.io/requestedAt cannot
	// tell: users set it too (flux reconcile).
	ReverifyRequestedAtAnnotation = "verification.flux-notation.io/reverify-requested-at"
)

// Action is what to do about an OCIRepository's bookkeeping for a digest.
type Action int

const (
	// Nothing: the digest was seen before.
	Nothing Action = iota
	// Record: first sight; note the digest, there is no change to announce.
	Record
	// Request: the digest changed; ask Flux to reconcile.
	Request
)

// NextAction tells what to do for r now that its Secret has digest.
func NextAction(r *Repository, digest string) Action {
	seen := r.Annotations[ReverifiedDigestAnnotation]
	switch {
	case digest == "" || seen == digest:
		return Nothing
	case seen == "":
		return Record
	default:
		return Request
	}
}

// RequestedAt returns when the operator asked Flux to reconcile r for the
// current digest, or zero if it never had to.
func RequestedAt(r *Repository, digest string) time.Time {
	if r.Annotations[ReverifiedDigestAnnotation] != digest {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, r.Annotations[ReverifyRequestedAtAnnotation])
	if err != nil {
		return time.Time{}
	}
	return t
}
