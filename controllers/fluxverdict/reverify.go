package fluxverdict

import (
	"strconv"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// Bookkeeping annotations on a Flux source object. They live on the object,
// not in memory, so a restarted manager neither repeats nor forgets a
// request.
const (
	// ReverifiedDigestAnnotation records the trust digest of its namespace's
	// Secret the operator last acted on. Comparing it with the current
	// digest tells a trust change apart from first sight.
	ReverifiedDigestAnnotation = "verification.flux-notation.io/reverified-digest"
	// ReverifyRequestedAtAnnotation records when the operator asked Flux to
	// reconcile after a trust change, and the value it set in
	// reconcile.fluxcd.io/requestedAt. That annotation alone cannot tell:
	// users set it too (flux reconcile).
	ReverifyRequestedAtAnnotation = "verification.flux-notation.io/reverify-requested-at"
	// FluxBaselineAnnotation records Flux's SourceVerified condition as it
	// was when the operator asked Flux to reconcile (see Baseline; "none"
	// after a force removed it): a verdict that differs from it was
	// produced after the request.
	FluxBaselineAnnotation = "verification.flux-notation.io/flux-verdict-at-request"
	// ForcedVerdictAnnotation records the SourceVerified condition a force
	// removed (see Baseline). Seeing it again means Flux's reconcile that
	// was in flight wrote the old verdict back: the force is repeated.
	ForcedVerdictAnnotation = "verification.flux-notation.io/forced-verdict"
	// ForceAttemptsAnnotation counts the forces made for the current digest.
	ForceAttemptsAnnotation = "verification.flux-notation.io/force-attempts"
	// ChangeSeenAnnotation records when the operator first saw the current
	// trust digest for this object: a SourceVerified=True counts as current
	// only if its transition falls in a later second. Repeated forces keep
	// it, so a verdict Flux reports late (or with a clock a little behind
	// ours) still passes once a later force is answered.
	ChangeSeenAnnotation = "verification.flux-notation.io/trust-change-seen-at"
)

// requestAnnotations are the keys a request writes besides the digest, all
// cleared when a digest is recorded without a request.
var requestAnnotations = []string{ReverifyRequestedAtAnnotation, FluxBaselineAnnotation, ForcedVerdictAnnotation, ForceAttemptsAnnotation, ChangeSeenAnnotation}

const (
	// MaxForceAttempts bounds the forces for one trust digest.
	MaxForceAttempts = 5
	// DefaultForceBackoff is the usual wait before the second force (it
	// doubles after): long enough for a reconcile of Flux's that was in
	// flight when the verdict was removed to finish and be seen.
	DefaultForceBackoff = 2 * time.Second
)

// Action is what to do about an OCIRepository now that its Secret has a
// given trust digest.
type Action int

const (
	// Nothing: no change to act on, or a request in flight.
	Nothing Action = iota
	// Record: note the digest on first sight, with nothing to ask of Flux.
	Record
	// Mark: note a trust change without asking Flux (reverify: None): Flux's
	// True from before stays stale until Flux shows a newer verdict (after
	// a reconcile someone else requests).
	Mark
	// Request: set reconcile.fluxcd.io/requestedAt.
	Request
	// Force: remove SourceVerified from status, then request a reconcile.
	Force
)

// Plan is the next step for one source, with what is known about the last
// one.
type Plan struct {
	Action Action
	// Attempt is the force about to be made (Force), or made so far.
	Attempt int
	// InFlight: a force for the current digest awaits Flux's new verdict.
	InFlight bool
	// GaveUp: MaxForceAttempts forces and Flux still reports the verdict it
	// had before them.
	GaveUp bool
	// Retry is when a pending force may be repeated, or a held request
	// made.
	Retry time.Duration
	// Seen is when the trust change acted on was first seen, and Baseline
	// Flux's SourceVerified then (the caller sets them; see NotBefore). A
	// request records Baseline as the verdict to compare with.
	Seen     time.Time
	Baseline string
}

// PlanReverify decides, for s whose Secret now has digest, what to ask of
// Flux in mode at now. A force Flux answered with the old verdict is made
// again backoff after it, then after twice as long each time.
func PlanReverify(s Source, digest string, mode v1alpha1.ReverifyMode, now time.Time, backoff time.Duration) Plan {
	seen := s.Annotations[ReverifiedDigestAnnotation]
	switch {
	case digest == "" || s.Suspended:
		// A suspended object is not reconciled: asking now would wait
		// unanswered. The change is acted on once it resumes, and Read
		// counts the verdict stale meanwhile.
		return Plan{}
	case seen == "":
		return Plan{Action: Record}
	case seen != digest:
		switch {
		case mode == v1alpha1.ReverifyNone:
			return Plan{Action: Mark}
		case mode == v1alpha1.ReverifyForce && !s.EveryReconcile && s.Fingerprint == "" && !isRemovalMoot(s):
			// Flux before v1.10 keeps an old OCIRepository
			// SourceVerified=True on a requested reconcile: remove it so
			// Flux verifies again. In flight from this pass on, as every
			// later pass reads it from the annotations the force writes: a
			// status written by this pass must not say otherwise.
			return Plan{Action: Force, Attempt: 1, InFlight: true}
		default:
			// v1.10+ records a fingerprint and re-verifies when it changes;
			// HelmCharts verify on every reconcile.
			return Plan{Action: Request}
		}
	}
	attempts, _ := strconv.Atoi(s.Annotations[ForceAttemptsAnnotation])
	if mode != v1alpha1.ReverifyForce {
		// The user chose not to force, or turned forcing off since: no
		// follow-up (Read still judges the last request).
		return Plan{}
	}
	req := LastRequest(s, digest)
	c := apimeta.FindStatusCondition(s.Conditions, sourcev1.SourceVerifiedCondition)
	if attempts == 0 {
		// A plain request, made because Flux would verify anyway (its
		// verdict was False or absent). If Flux answered with a True that
		// cannot be shown to be newer than the change (it verified on its
		// own in the change's second, before the request was recorded),
		// Force makes it provable; Flux would not verify that True again.
		switch {
		case s.EveryReconcile || s.Fingerprint != "" || req.At.IsZero() || c == nil || c.Status != metav1.ConditionTrue:
			return Plan{}
		case c.ObservedGeneration != s.Generation || !handledSince(s.LastHandledReconcileAt, req) || freshSince(s, c, req):
			return Plan{}
		}
		return Plan{Action: Force, Attempt: 1, InFlight: true}
	}
	answered := handledSince(s.LastHandledReconcileAt, req) && c != nil
	switch {
	case freshSince(s, c, req), answered && c.Status != metav1.ConditionTrue:
		// A new verdict, or a failure, which is never stale.
		return Plan{Attempt: attempts}
	case !answered:
		// Flux has not reconciled since, or has but not verified yet.
		return Plan{Attempt: attempts, InFlight: true}
	case attempts >= MaxForceAttempts:
		return Plan{Attempt: attempts, GaveUp: true}
	}
	// Flux reconciled after the force and shows the removed verdict (a
	// reconcile in flight when it was removed wrote it back) or a True that
	// cannot be shown to be newer than the change: force again.
	wait := backoff << (attempts - 1)
	if elapsed := now.Sub(req.At); elapsed < wait {
		return Plan{Attempt: attempts, InFlight: true, Retry: wait - elapsed}
	}
	return Plan{Action: Force, Attempt: attempts + 1, InFlight: true}
}

// PlanProof decides, for s whose verdict the operator must take from Flux
// alone (it cannot verify s itself), how to make Flux show that its
// SourceVerified=True is from the current trust: Flux before v1.10 records
// no fingerprint, and a verdict seen before any request proves nothing.
// It asks once per digest, as a trust change would (mode decides how);
// PlanReverify follows up from there. It asks nothing when the digest is
// not recorded yet (PlanReverify's first sight does that in the same pass),
// when the operator already asked for this digest, or when Flux's verdict
// is not True (a False verdict is acted on as it is).
func PlanProof(s Source, digest string, mode v1alpha1.ReverifyMode) Plan {
	c := apimeta.FindStatusCondition(s.Conditions, sourcev1.SourceVerifiedCondition)
	switch {
	case digest == "" || s.Suspended || s.Annotations[ReverifiedDigestAnnotation] != digest || mode == v1alpha1.ReverifyNone:
		return Plan{}
	case s.Fingerprint != "" || c == nil || c.Status != metav1.ConditionTrue:
		return Plan{}
	case s.Annotations[ForceAttemptsAnnotation] != "" || !LastRequest(s, digest).At.IsZero():
		return Plan{}
	case mode == v1alpha1.ReverifyForce && !s.EveryReconcile && !isRemovalMoot(s):
		return Plan{Action: Force, Attempt: 1, InFlight: true}
	default:
		return Plan{Action: Request, InFlight: true}
	}
}

// isRemovalMoot reports whether Flux will verify on its next reconcile
// anyway: SourceVerified is absent, False, or from another generation.
func isRemovalMoot(s Source) bool {
	c := apimeta.FindStatusCondition(s.Conditions, sourcev1.SourceVerifiedCondition)
	return c == nil || c.Status == metav1.ConditionFalse || c.ObservedGeneration != s.Generation
}

// ReverifyRequest is the operator's last request to Flux for a digest.
type ReverifyRequest struct {
	// At is when it was made; Token the requestedAt value it set.
	At    time.Time
	Token string
	// ChangeSeen is when the operator first saw the digest (At for
	// requests recorded before it was).
	ChangeSeen time.Time
	// Baseline is Flux's SourceVerified then (see Baseline); empty for
	// requests recorded before it was.
	Baseline string
	// Forced is the SourceVerified condition the last force removed; empty
	// when the request did not force.
	Forced string
}

// NotBefore is the earliest time to make the first request for a trust
// change the operator saw at seen: in the next second, with a margin.
// Condition times have one-second resolution and a verdict counts as
// current only from a later second than the change (see freshSince), so a
// request in the change's own second would often be answered with a
// verdict that cannot count, and have to be made again. The margin absorbs
// a small clock difference between the operator and source-controller.
func NotBefore(seen time.Time) time.Time {
	return seen.Truncate(time.Second).Add(time.Second + 250*time.Millisecond)
}

// RecordAnnotations returns the annotations that note digest on first
// sight, clearing any request recorded for another digest: it is not a
// request for this one.
func RecordAnnotations(digest string) map[string]string {
	a := map[string]string{ReverifiedDigestAnnotation: digest}
	for _, k := range requestAnnotations {
		a[k] = ""
	}
	return a
}

// MarkAnnotations returns the annotations that note a trust change to
// digest, seen at seen, without asking Flux anything (reverify: None). They
// have the shape of a request that Flux has not handled, so Flux's verdict
// counts as stale until a reconcile someone else asks for produces a newer
// one.
func MarkAnnotations(s Source, digest string, seen time.Time) map[string]string {
	a := RequestAnnotations(s, digest, seen, 0, seen)
	delete(a, meta.ReconcileRequestAnnotation)
	return a
}

// RequestAnnotations returns the annotations that make and record a
// request for digest made at now, for a change first seen at seen, with
// Flux's SourceVerified as it is in s. A force (attempt > 0) records that
// the condition was removed, which one, and the attempt; a repeated force
// keeps the first one's time of the change.
func RequestAnnotations(s Source, digest string, now time.Time, attempt int, seen time.Time) map[string]string {
	token := now.UTC().Format(time.RFC3339Nano)
	c := apimeta.FindStatusCondition(s.Conditions, sourcev1.SourceVerifiedCondition)
	a := map[string]string{
		ReverifiedDigestAnnotation:      digest,
		meta.ReconcileRequestAnnotation: token,
		ReverifyRequestedAtAnnotation:   token,
		FluxBaselineAnnotation:          Baseline(c),
		ForcedVerdictAnnotation:         "",
		ForceAttemptsAnnotation:         "",
		ChangeSeenAnnotation:            seen.UTC().Format(time.RFC3339Nano),
	}
	if attempt > 1 && s.Annotations[ReverifiedDigestAnnotation] == digest && s.Annotations[ChangeSeenAnnotation] != "" {
		a[ChangeSeenAnnotation] = s.Annotations[ChangeSeenAnnotation]
	}
	if attempt > 0 {
		a[FluxBaselineAnnotation] = Baseline(nil)
		a[ForceAttemptsAnnotation] = strconv.Itoa(attempt)
		if c != nil {
			a[ForcedVerdictAnnotation] = Baseline(c)
		} else {
			// A repeated force of a condition already gone: keep what the
			// first force removed.
			a[ForcedVerdictAnnotation] = s.Annotations[ForcedVerdictAnnotation]
		}
	}
	return a
}

// LastRequest returns the operator's last request to Flux for the current
// digest, or the zero ReverifyRequest if it never had to ask.
func LastRequest(s Source, digest string) ReverifyRequest {
	if s.Annotations[ReverifiedDigestAnnotation] != digest {
		return ReverifyRequest{}
	}
	token := s.Annotations[ReverifyRequestedAtAnnotation]
	t, err := time.Parse(time.RFC3339Nano, token)
	if err != nil {
		return ReverifyRequest{}
	}
	req := ReverifyRequest{At: t, Token: token, ChangeSeen: t, Baseline: s.Annotations[FluxBaselineAnnotation], Forced: s.Annotations[ForcedVerdictAnnotation]}
	if seen, err := time.Parse(time.RFC3339Nano, s.Annotations[ChangeSeenAnnotation]); err == nil && seen.Before(t) {
		req.ChangeSeen = seen
	}
	return req
}
