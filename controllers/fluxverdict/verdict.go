package fluxverdict

import (
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Source is what the operator reads of a Flux source object (an
// OCIRepository, a HelmChart) to judge its verification.
type Source struct {
	// Annotations hold the operator's bookkeeping (see reverify.go).
	Annotations map[string]string
	// Conditions are the object's status conditions.
	Conditions []metav1.Condition
	Generation int64
	// LastHandledReconcileAt is status.lastHandledReconcileAt.
	LastHandledReconcileAt string
	// Fingerprint is status.sourceVerificationFingerprint (source-controller
	// v1.10+ OCIRepositories): the digest of the trust material Flux last
	// verified with.
	Fingerprint string
	// EveryReconcile: Flux verifies on every reconcile (HelmCharts: the chart
	// build always verifies), so a handled request gives a fresh verdict,
	// unless that reconcile failed before verifying (FetchFailed), and no
	// force is ever needed.
	EveryReconcile bool
	// Suspended: spec.suspend. Flux does not reconcile the object, so a
	// request would wait unanswered; the operator asks once it resumes.
	Suspended bool
}

// View is what Flux reports about a source's verification, judged against
// the trust material the operator wrote.
type View struct {
	// Verified: SourceVerified=True, provably from a verification with our
	// current material: Flux recorded our fingerprint (v1.10+), or it
	// produced the verdict after our request for the current digest.
	Verified bool
	// Stale: SourceVerified=True that cannot be shown to be that recent:
	// another fingerprint, a trust change not acted on yet, or (Flux <
	// v1.10) the verdict Flux had when we asked it to re-verify, unchanged,
	// or one whose time is not later than the change. source-controller up
	// to v1.9 keeps old results this way. A verdict whose freshness is
	// ambiguous is stale, never verified.
	Stale bool
	// Condition is Flux's SourceVerified condition, if any.
	Condition *metav1.Condition
}

// Read interprets s's status. fingerprint is the policy's FluxFingerprint;
// digest is the trust digest of the Secret in s's namespace ("" if there is
// none yet).
func Read(s Source, fingerprint, digest string) View {
	c := meta.FindStatusCondition(s.Conditions, sourcev1.SourceVerifiedCondition)
	v := View{Condition: c}
	if c == nil || c.Status != metav1.ConditionTrue {
		return v
	}
	switch recorded := s.Annotations[ReverifiedDigestAnnotation]; {
	case s.Fingerprint != "":
		v.Verified = s.Fingerprint == fingerprint
		v.Stale = !v.Verified
	case digest != "" && recorded != "" && recorded != digest:
		// The trust changed and the operator has not acted on it yet (it
		// waits for the next second, or Flux's object is suspended): the
		// verdict is from before the change.
		v.Stale = true
	default:
		if req := LastRequest(s, digest); !req.At.IsZero() {
			v.Verified = freshSince(s, c, req)
			v.Stale = !v.Verified
		}
	}
	return v
}

// freshSince tells whether Flux produced condition c after the request:
// Flux reports having handled our request (or a later one), which means a
// reconcile that started after it, and, for a kind that verifies on every
// reconcile, that reconcile did not fail before verifying. For a kind that
// verifies only on changes, c must also differ from the verdict Flux had
// when we asked (and, after a force, from the one removed), and its
// transition must fall in a later second than the trust change: condition
// times are truncated to the second, so a verdict from the change's own
// second could be from before it, and is never taken as fresh. (The
// operator makes its request in a later second than the change, see
// NotBefore, so a verdict Flux produces on the request passes.)
func freshSince(s Source, c *metav1.Condition, req ReverifyRequest) bool {
	if c == nil || !handledSince(s.LastHandledReconcileAt, req) {
		return false
	}
	if s.EveryReconcile {
		// Flux leaves an old SourceVerified in place when the build fails
		// before verifying, and takes some verification errors for fetch
		// errors: then nothing proves the verdict new.
		return !meta.IsStatusConditionTrue(s.Conditions, sourcev1.FetchFailedCondition)
	}
	if !c.LastTransitionTime.Time.After(req.ChangeSeen.Truncate(time.Second)) {
		return false
	}
	if req.Baseline == "" {
		// A request recorded before baselines were: the time is all there
		// is.
		return true
	}
	// After a force, the removed verdict coming back is Flux's in-flight
	// reconcile writing it back, not a new verification.
	return Baseline(c) != req.Baseline && (req.Forced == "" || Baseline(c) != req.Forced)
}

// handledSince reports whether Flux's status.lastHandledReconcileAt is our
// request's token or a later request (flux reconcile and the operator both
// write RFC 3339 times).
func handledSince(handled string, req ReverifyRequest) bool {
	if handled == "" {
		return false
	}
	if handled == req.Token {
		return true
	}
	t, err := time.Parse(time.RFC3339Nano, handled)
	return err == nil && !t.Before(req.At)
}

// Baseline describes a SourceVerified condition for comparison: its status,
// reason and transition time, or "none". Flux recreates the condition (new
// transition time) whenever it verifies after a failure or a removal.
func Baseline(c *metav1.Condition) string {
	if c == nil {
		return "none"
	}
	return string(c.Status) + "/" + c.Reason + "/" + c.LastTransitionTime.UTC().Format(time.RFC3339)
}
