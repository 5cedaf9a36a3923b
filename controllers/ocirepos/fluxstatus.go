package ocirepos

import (
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FluxView is what Flux reports about an OCIRepository's verification,
// judged against the trust material the operator wrote.
type FluxView struct {
	// Verified: SourceVerified=True with the fingerprint of our current
	// material: Flux checked the artifact against exactly this Secret.
	Verified bool
	// Stale: SourceVerified=True, but from before our last trust change
	// (another fingerprint, or none and no transition since we asked Flux
	// to re-verify). source-controller up to v1.9 keeps old results this way.
	Stale bool
	// Condition is Flux's SourceVerified condition, if any.
	Condition *metav1.Condition
}

// ReadFlux interprets r's status. fingerprint is the policy's
// FluxFingerprint; requestedAt is when the operator last asked Flux to
// re-verify after a trust change (zero if never).
func ReadFlux(r *Repository, fingerprint string, requestedAt time.Time) FluxView {
	c := meta.FindStatusCondition(r.Status.Conditions, sourcev1.SourceVerifiedCondition)
	v := FluxView{Condition: c}
	if c == nil || c.Status != metav1.ConditionTrue {
		return v
	}
	switch {
	case r.Fingerprint != "":
		v.Verified = r.Fingerprint == fingerprint
		v.Stale = !v.Verified
	case !requestedAt.IsZero():
		// No fingerprint (Flux < v1.10): a True condition that has not
		// transitioned since our request predates the new trust material.
		// Condition times have a resolution of one second.
		v.Stale = c.LastTransitionTime.Time.Before(requestedAt.Truncate(time.Second))
	}
	return v
}
