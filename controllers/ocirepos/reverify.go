package ocirepos

import (
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
)

const (
	// ReverifiedDigestAnnotation records, on an OCIRepository, the trust
	// digest of its namespace's Secret the operator last saw. Comparing it
	// with the current digest tells a trust change apart from first sight,
	// and survives manager restarts.
	ReverifiedDigestAnnotation = "verification.flux-notation.io/reverified-digest"
	// ReverifyRequestedAtAnnotation records when the operator asked Flux to
	// reconcile after a trust change, and the value it set in
	// reconcile.fluxcd.io/requestedAt. That annotation alone cannot tell:
	// users set it too (flux reconcile).
	ReverifyRequestedAtAnnotation = "verification.flux-notation.io/reverify-requested-at"
	// FluxBaselineAnnotation records Flux's SourceVerified condition as it
	// was when the operator asked Flux to reconcile (see Baseline): a
	// verdict that differs from it was produced after the request.
	FluxBaselineAnnotation = "verification.flux-notation.io/flux-verdict-at-request"
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

// ReverifyRequest is the operator's last reconcile request to Flux for a digest.
type ReverifyRequest struct {
	// At is when it was made; Token the requestedAt value it set.
	At    time.Time
	Token string
	// Baseline is Flux's SourceVerified then (see Baseline); empty for
	// requests recorded before it was.
	Baseline string
}

// RequestAnnotations returns the annotations that make and record a
// request made at now, with Flux's SourceVerified as it is in r.
func RequestAnnotations(r *Repository, now time.Time) map[string]string {
	token := now.UTC().Format(time.RFC3339Nano)
	c := apimeta.FindStatusCondition(r.Status.Conditions, sourcev1.SourceVerifiedCondition)
	return map[string]string{
		meta.ReconcileRequestAnnotation: token,
		ReverifyRequestedAtAnnotation:   token,
		FluxBaselineAnnotation:          Baseline(c),
	}
}

// LastRequest returns the operator's last request to Flux for the current
// digest, or the zero ReverifyRequest if it never had to ask.
func LastRequest(r *Repository, digest string) ReverifyRequest {
	if r.Annotations[ReverifiedDigestAnnotation] != digest {
		return ReverifyRequest{}
	}
	token := r.Annotations[ReverifyRequestedAtAnnotation]
	t, err := time.Parse(time.RFC3339Nano, token)
	if err != nil {
		return ReverifyRequest{}
	}
	return ReverifyRequest{At: t, Token: token, Baseline: r.Annotations[FluxBaselineAnnotation]}
}
