package fluxverdict

import (
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// src is the view of an OCIRepository (Flux verifies only on changes).
func src() *Source { return &Source{Generation: 1} }

func withSourceVerified(r *Source, status metav1.ConditionStatus, at time.Time) *Source {
	r.Conditions = []metav1.Condition{{
		Type: sourcev1.SourceVerifiedCondition, Status: status, Reason: "Succeeded",
		LastTransitionTime: metav1.NewTime(at), ObservedGeneration: r.Generation,
	}}
	return r
}

func handled(r *Source, token string) *Source {
	r.LastHandledReconcileAt = token
	return r
}

// asked records on r a request for digest sha256:2 made at at, for a
// change first seen at seen, with baseline as Flux's verdict then.
func asked(r *Source, at, seen time.Time, baseline string) *Source {
	r.Annotations = map[string]string{
		ReverifiedDigestAnnotation:    "sha256:2",
		ReverifyRequestedAtAnnotation: at.Format(time.RFC3339Nano),
		ChangeSeenAnnotation:          seen.Format(time.RFC3339Nano),
		FluxBaselineAnnotation:        baseline,
	}
	return r
}

func TestReadFlux(t *testing.T) {
	// The change is seen at 11:59:59.6; the request is made in the next
	// second, as NotBefore has it.
	seen := time.Date(2026, 11, 1, 11, 59, 59, 600_000_000, time.UTC)
	requested := NotBefore(seen)
	token := requested.Format(time.RFC3339Nano)
	before, changeSecond, requestSecond, after := requested.Add(-time.Hour), seen.Truncate(time.Second), requested.Truncate(time.Second), requested.Add(time.Minute)
	const ours = "sha256:aaaa"
	trueBefore := Baseline(withSourceVerified(src(), metav1.ConditionTrue, before).Conditions[0].DeepCopy())
	falseBefore := Baseline(withSourceVerified(src(), metav1.ConditionFalse, before).Conditions[0].DeepCopy())
	ask := func(r *Source, baseline string) *Source { return asked(r, requested, seen, baseline) }
	recorded := func(r *Source, digest string) *Source {
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: digest}
		return r
	}
	cases := []struct {
		name                    string
		repo                    *Source
		wantVerified, wantStale bool
	}{
		{"no condition", ask(src(), "none"), false, false},
		{"failed", ask(withSourceVerified(src(), metav1.ConditionFalse, after), falseBefore), false, false},
		{"v1.10 current fingerprint", func() *Source {
			r := ask(withSourceVerified(src(), metav1.ConditionTrue, before), trueBefore)
			r.Fingerprint = ours
			return r
		}(), true, false},
		{"v1.10 older fingerprint", func() *Source {
			r := ask(withSourceVerified(src(), metav1.ConditionTrue, after), trueBefore)
			r.Fingerprint = "sha256:bbbb"
			return r
		}(), false, true},
		{"v1.9 never asked: unknown", recorded(withSourceVerified(src(), metav1.ConditionTrue, before), "sha256:2"), false, false},
		{"v1.9 a change not acted on yet: stale", recorded(withSourceVerified(src(), metav1.ConditionTrue, before), "sha256:1"), false, true},
		{"v1.9 asked, not handled yet: stale", ask(withSourceVerified(src(), metav1.ConditionTrue, before), trueBefore), false, true},
		{"v1.9 handled, the verdict it had when asked: stale", handled(ask(withSourceVerified(src(), metav1.ConditionTrue, before), trueBefore), token), false, true},
		{"v1.9 handled, failed before, verified in the second of the change: ambiguous, so stale",
			handled(ask(withSourceVerified(src(), metav1.ConditionTrue, changeSecond), falseBefore), token), false, true},
		{"v1.9 handled, failed before, verified in the second of the request: fresh",
			handled(ask(withSourceVerified(src(), metav1.ConditionTrue, requestSecond), falseBefore), token), true, false},
		{"v1.9 handled, removed and re-created in the second of the change: ambiguous, so stale",
			handled(ask(withSourceVerified(src(), metav1.ConditionTrue, changeSecond), "none"), token), false, true},
		{"v1.9 handled, removed and re-created in the second of the request: fresh",
			handled(ask(withSourceVerified(src(), metav1.ConditionTrue, requestSecond), "none"), token), true, false},
		{"v1.9 a newer request handled counts too", handled(ask(withSourceVerified(src(), metav1.ConditionTrue, after), falseBefore),
			requested.Add(time.Second).Format(time.RFC3339Nano)), true, false},
		{"v1.9 an older request handled does not", handled(ask(withSourceVerified(src(), metav1.ConditionTrue, after), falseBefore),
			requested.Add(-time.Second).Format(time.RFC3339Nano)), false, true},
		{"v1.9 no baseline recorded, same second as the request: ambiguous, so stale",
			handled(asked(withSourceVerified(src(), metav1.ConditionTrue, requestSecond), requested, requested, ""), token), false, true},
		{"v1.9 no baseline recorded, a later second: fresh",
			handled(asked(withSourceVerified(src(), metav1.ConditionTrue, requestSecond.Add(time.Second)), requested, requested, ""), token), true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			v := Read(*tc.repo, ours, "sha256:2")
			g.Expect(v.Verified).To(Equal(tc.wantVerified), "verified")
			g.Expect(v.Stale).To(Equal(tc.wantStale), "stale")
		})
	}
}

// With reverify: None the operator asks Flux nothing, yet a True from
// before the change is stale, until a reconcile someone else asks for
// (flux reconcile) shows a newer verdict.
func TestATrustChangeUnderNoneIsStale(t *testing.T) {
	g := NewWithT(t)
	seen := time.Date(2026, 11, 1, 12, 0, 0, 300_000_000, time.UTC)
	r := withSourceVerified(src(), metav1.ConditionTrue, seen.Add(-time.Hour))
	r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
	p := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyNone, seen, DefaultForceBackoff)
	g.Expect(p.Action).To(Equal(Mark))
	a := MarkAnnotations(*r, "sha256:2", seen)
	g.Expect(a).NotTo(HaveKey(meta.ReconcileRequestAnnotation), "nothing is asked of Flux")
	r.Annotations = a
	g.Expect(Read(*r, "", "sha256:2").Stale).To(BeTrue())
	g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyNone, seen.Add(time.Hour), DefaultForceBackoff)).To(Equal(Plan{}))

	user := seen.Add(time.Minute).Format(time.RFC3339Nano)
	handled(r, user)
	g.Expect(Read(*r, "", "sha256:2").Stale).To(BeTrue(), "reconciled, the same verdict")
	handled(withSourceVerified(r, metav1.ConditionTrue, seen.Add(time.Minute)), user)
	g.Expect(Read(*r, "", "sha256:2").Verified).To(BeTrue(), "a verdict Flux made after the change")
}

// A record of a new digest is not a request for it: what a request for the
// previous digest left is cleared, so it cannot vouch for a verdict.
func TestRecordClearsTheLastRequest(t *testing.T) {
	g := NewWithT(t)
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	r := handled(withSourceVerified(src(), metav1.ConditionTrue, at.Add(time.Minute)), at.Format(time.RFC3339Nano))
	r.Annotations = RequestAnnotations(*r, "sha256:1", at, 2, at)
	for k, v := range RecordAnnotations("sha256:2") {
		if v == "" {
			delete(r.Annotations, k)
		} else {
			r.Annotations[k] = v
		}
	}
	g.Expect(r.Annotations).To(Equal(map[string]string{ReverifiedDigestAnnotation: "sha256:2", meta.ReconcileRequestAnnotation: at.Format(time.RFC3339Nano)}),
		"the user-visible requestedAt stays; our bookkeeping goes")
	g.Expect(LastRequest(*r, "sha256:2").At.IsZero()).To(BeTrue())
	g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at.Add(time.Hour), DefaultForceBackoff)).To(Equal(Plan{}), "no force to follow up")
}

// Flux does not reconcile a suspended object: nothing is asked of it, and
// its verdict from before the change is stale.
func TestASuspendedSourceIsNotAsked(t *testing.T) {
	g := NewWithT(t)
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	r := withSourceVerified(src(), metav1.ConditionTrue, at.Add(-time.Hour))
	r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
	r.Suspended = true
	g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{}))
	g.Expect(PlanProof(*r, "sha256:1", v1alpha1.ReverifyForce)).To(Equal(Plan{}))
	g.Expect(Read(*r, "", "sha256:2").Stale).To(BeTrue())
	r.Suspended = false
	g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff).Action).To(Equal(Force), "asked once it resumes")
}

func TestNotBefore(t *testing.T) {
	g := NewWithT(t)
	for _, seen := range []time.Time{
		time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 1, 12, 0, 0, 999_999_999, time.UTC),
	} {
		nb := NotBefore(seen)
		g.Expect(nb.Truncate(time.Second)).To(Equal(seen.Truncate(time.Second).Add(time.Second)), "the next second")
		g.Expect(nb.Sub(nb.Truncate(time.Second))).To(Equal(250*time.Millisecond), "with a margin")
	}
}

// TestPlanReverify drives the decisions the companion makes for one
// OCIRepository, through the annotations it would write after each one.
func TestPlanReverify(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 123, time.UTC)
	verifiedEarlier := func() *Source {
		return withSourceVerified(src(), metav1.ConditionTrue, at.Add(-time.Hour))
	}
	// apply records the annotations of a plan's request on r, as the
	// companion's patch would, and returns r.
	// The change was seen in the second before the request (see
	// NotBefore).
	apply := func(r *Source, digest string, p Plan, now time.Time) *Source {
		a := RequestAnnotations(*r, digest, now, p.Attempt, now.Add(-time.Second))
		if r.Annotations == nil {
			r.Annotations = map[string]string{}
		}
		for k, v := range a {
			if v == "" {
				delete(r.Annotations, k)
			} else {
				r.Annotations[k] = v
			}
		}
		if p.Action == Force {
			r.Conditions = nil
		}
		return r
	}

	t.Run("first sight, then a change, per mode", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		g.Expect(PlanReverify(*r, "", v1alpha1.ReverifyForce, at, DefaultForceBackoff).Action).To(Equal(Nothing), "no Secret yet")
		g.Expect(PlanReverify(*r, "sha256:1", v1alpha1.ReverifyForce, at, DefaultForceBackoff).Action).To(Equal(Record), "first sight is no change")
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		g.Expect(PlanReverify(*r, "sha256:1", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{}))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyNone, at, DefaultForceBackoff).Action).To(Equal(Mark), "a change, noted")
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyRequestReconcile, at, DefaultForceBackoff).Action).To(Equal(Request))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{Action: Force, Attempt: 1, InFlight: true}), "in flight from the pass that makes it")
	})

	t.Run("Force on Flux v1.10+ only requests: the fingerprint changes", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		r.Fingerprint = "sha256:old"
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff).Action).To(Equal(Request))
	})

	t.Run("Force only requests when Flux verifies anyway", func(t *testing.T) {
		g := NewWithT(t)
		failed := withSourceVerified(src(), metav1.ConditionFalse, at)
		failed.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		g.Expect(PlanReverify(*failed, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff).Action).To(Equal(Request))
		none := src()
		none.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		g.Expect(PlanReverify(*none, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff).Action).To(Equal(Request))
	})

	t.Run("a force is in flight until Flux reports a new verdict, in the second of the force", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		p := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)
		apply(r, "sha256:2", p, at)
		g.Expect(r.Annotations).To(HaveKeyWithValue(FluxBaselineAnnotation, "none"))
		g.Expect(r.Annotations).To(HaveKeyWithValue(ForcedVerdictAnnotation, "True/Succeeded/2026-11-01T11:00:00Z"))
		g.Expect(r.Annotations).To(HaveKeyWithValue(ForceAttemptsAnnotation, "1"))
		token := r.Annotations[meta.ReconcileRequestAnnotation]

		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{Attempt: 1, InFlight: true}), "Flux has not reconciled")
		g.Expect(Read(*r, "", "sha256:2")).To(Equal(View{}), "no verdict: neither verified nor stale")
		handled(r, token)
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff).InFlight).To(BeTrue(), "reconciled, no verdict yet")

		// Flux verifies again in the very second of the force: fresh.
		withSourceVerified(r, metav1.ConditionFalse, at.Truncate(time.Second))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{Attempt: 1}))
		withSourceVerified(r, metav1.ConditionTrue, at.Truncate(time.Second))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{Attempt: 1}))
		v := Read(*r, "", "sha256:2")
		g.Expect(v.Verified).To(BeTrue())
		g.Expect(v.Stale).To(BeFalse())
	})

	t.Run("a True from the second of the change is forced again", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		apply(r, "sha256:2", PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff), at)
		handled(withSourceVerified(r, metav1.ConditionTrue, at.Add(-time.Second).Truncate(time.Second)), r.Annotations[meta.ReconcileRequestAnnotation])
		g.Expect(Read(*r, "", "sha256:2").Stale).To(BeTrue(), "it cannot be shown to be newer than the change")
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff).Retry).To(Equal(DefaultForceBackoff), "after the backoff")
		again := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at.Add(DefaultForceBackoff), DefaultForceBackoff)
		g.Expect(again).To(Equal(Plan{Action: Force, Attempt: 2, InFlight: true}))
		apply(r, "sha256:2", again, at.Add(DefaultForceBackoff))
		g.Expect(r.Annotations).To(HaveKeyWithValue(ChangeSeenAnnotation, at.Add(-time.Second).Format(time.RFC3339Nano)), "the second force keeps the time of the change")
	})

	t.Run("a request answered with a True from the change's second is forced under Force", func(t *testing.T) {
		g := NewWithT(t)
		r := withSourceVerified(src(), metav1.ConditionFalse, at.Add(-time.Hour))
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		p := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)
		g.Expect(p.Action).To(Equal(Request), "Flux verifies a False anyway")
		apply(r, "sha256:2", p, at)
		token := r.Annotations[meta.ReconcileRequestAnnotation]
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{}), "not answered yet")
		// Flux verified on its own in the second of the change, then
		// handled the request without verifying again.
		handled(withSourceVerified(r, metav1.ConditionTrue, at.Add(-time.Second).Truncate(time.Second)), token)
		g.Expect(Read(*r, "", "sha256:2").Stale).To(BeTrue())
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{Action: Force, Attempt: 1, InFlight: true}))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyRequestReconcile, at, DefaultForceBackoff)).To(Equal(Plan{}), "RequestReconcile reports it stale")
		// A True Flux produced in a later second needs nothing more.
		withSourceVerified(r, metav1.ConditionTrue, at)
		g.Expect(Read(*r, "", "sha256:2").Verified).To(BeTrue())
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{}))
	})

	t.Run("a force is not followed up once the mode is no longer Force", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		removed := r.Conditions[0]
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		apply(r, "sha256:2", PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff), at)
		r.Conditions = []metav1.Condition{removed}
		handled(r, r.Annotations[meta.ReconcileRequestAnnotation])
		later := at.Add(time.Hour)
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, later, DefaultForceBackoff).Action).To(Equal(Force))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyNone, later, DefaultForceBackoff)).To(Equal(Plan{}))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyRequestReconcile, later, DefaultForceBackoff)).To(Equal(Plan{}))
		g.Expect(Read(*r, "", "sha256:2").Stale).To(BeTrue(), "still judged: the old verdict is stale")
	})

	t.Run("the removed verdict written back is forced again, with backoff, then given up", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		removed := r.Conditions[0]
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		now := at
		p := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, now, DefaultForceBackoff)
		for attempt := 1; attempt <= MaxForceAttempts; attempt++ {
			g.Expect(p.Action).To(Equal(Force), "attempt %d", attempt)
			g.Expect(p.Attempt).To(Equal(attempt))
			apply(r, "sha256:2", p, now)
			g.Expect(r.Annotations).To(HaveKeyWithValue(ForcedVerdictAnnotation, Baseline(&removed)), "what was removed first is remembered")
			// Flux's in-flight reconcile writes the old verdict back, and
			// handles the request without verifying.
			r.Conditions = []metav1.Condition{removed}
			handled(r, r.Annotations[meta.ReconcileRequestAnnotation])
			v := Read(*r, "", "sha256:2")
			g.Expect(v.Stale).To(BeTrue(), "the old verdict is stale, not verified")
			if attempt == MaxForceAttempts {
				break
			}
			wait := DefaultForceBackoff << (attempt - 1)
			early := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, now.Add(wait-time.Millisecond), DefaultForceBackoff)
			g.Expect(early.Action).To(Equal(Nothing), "backoff before attempt %d", attempt+1)
			g.Expect(early.Retry).To(Equal(time.Millisecond))
			now = now.Add(wait)
			p = PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, now, DefaultForceBackoff)
		}
		final := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, now.Add(time.Hour), DefaultForceBackoff)
		g.Expect(final).To(Equal(Plan{Attempt: MaxForceAttempts, GaveUp: true}))
	})

	t.Run("a restarted manager neither repeats nor forgets a force", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		apply(r, "sha256:2", PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff), at)
		// Everything a new process knows is on the object.
		later := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at.Add(time.Hour), DefaultForceBackoff)
		g.Expect(later.Action).To(Equal(Nothing))
		g.Expect(later.InFlight).To(BeTrue())
	})

	t.Run("a request records what it can be compared with", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		a := RequestAnnotations(*r, "sha256:2", at, 0, at.Add(-time.Second))
		g.Expect(a).To(HaveKeyWithValue(meta.ReconcileRequestAnnotation, at.Format(time.RFC3339Nano)))
		g.Expect(a).To(HaveKeyWithValue(FluxBaselineAnnotation, "True/Succeeded/2026-11-01T11:00:00Z"))
		g.Expect(a).To(HaveKeyWithValue(ForceAttemptsAnnotation, ""), "a plain request clears force bookkeeping")
		r.Annotations = a
		r.Annotations[meta.ReconcileRequestAnnotation] = "set by a user, not us"
		req := LastRequest(*r, "sha256:2")
		g.Expect(req.At).To(Equal(at))
		g.Expect(req.Token).To(Equal(at.Format(time.RFC3339Nano)))
		g.Expect(req.ChangeSeen).To(Equal(at.Add(-time.Second)))
		g.Expect(LastRequest(*r, "sha256:3").At.IsZero()).To(BeTrue())
	})
}

// A HelmChart is verified on every reconcile: once Flux handled the request
// its verdict is fresh, changed or not, unless that reconcile failed before
// verifying (FetchFailed), which leaves the old verdict in place; and it is
// never forced.
func TestAChartVerdictIsFreshOnceHandled(t *testing.T) {
	g := NewWithT(t)
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	chart := func() *Source {
		s := withSourceVerified(&Source{Generation: 1, EveryReconcile: true}, metav1.ConditionTrue, at.Add(-time.Hour))
		s.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		return s
	}
	s := chart()
	p := PlanReverify(*s, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)
	g.Expect(p).To(Equal(Plan{Action: Request}), "a chart is never forced")
	s.Annotations = RequestAnnotations(*s, "sha256:2", at, 0, at)
	req := LastRequest(*s, "sha256:2")
	g.Expect(Read(*s, "", "sha256:2")).To(Equal(View{Stale: true, Condition: &s.Conditions[0]}), "not handled yet")

	handled(s, req.Token)
	v := Read(*s, "", "sha256:2")
	g.Expect(v.Verified).To(BeTrue(), "the same True, re-verified by the handled reconcile")
	g.Expect(v.Stale).To(BeFalse())

	s.Conditions = append(s.Conditions, metav1.Condition{Type: sourcev1.FetchFailedCondition, Status: metav1.ConditionTrue, Reason: "AuthenticationFailed"})
	v = Read(*s, "", "sha256:2")
	g.Expect(v.Stale).To(BeTrue(), "a fetch failure leaves an old verdict: not fresh")
	g.Expect(PlanReverify(*s, "sha256:2", v1alpha1.ReverifyForce, at, DefaultForceBackoff)).To(Equal(Plan{}), "and still not forced")
}

// TestPlanProof: an artifact the operator cannot verify itself gets one
// request per digest to show that Flux's True verdict is current, after
// which the force follow-up of PlanReverify takes over and the verdict
// reads as fresh.
func TestPlanProof(t *testing.T) {
	g := NewWithT(t)
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	const digest = "sha256:1"
	r := withSourceVerified(src(), metav1.ConditionTrue, at.Add(-time.Hour))

	g.Expect(PlanProof(*r, digest, v1alpha1.ReverifyForce)).To(Equal(Plan{}), "first sight is recorded first")
	r.Annotations = map[string]string{ReverifiedDigestAnnotation: digest}
	g.Expect(PlanProof(*r, digest, v1alpha1.ReverifyNone)).To(Equal(Plan{}), "None asks nothing of Flux")
	g.Expect(PlanProof(*r, digest, v1alpha1.ReverifyRequestReconcile)).To(Equal(Plan{Action: Request, InFlight: true}))
	plan := PlanProof(*r, digest, v1alpha1.ReverifyForce)
	g.Expect(plan).To(Equal(Plan{Action: Force, Attempt: 1, InFlight: true}))

	failed := withSourceVerified(src(), metav1.ConditionFalse, at.Add(-time.Hour))
	failed.Annotations = map[string]string{ReverifiedDigestAnnotation: digest}
	g.Expect(PlanProof(*failed, digest, v1alpha1.ReverifyForce)).To(Equal(Plan{}), "a failure is not proven, it is acted on")
	fingerprinted := withSourceVerified(src(), metav1.ConditionTrue, at.Add(-time.Hour))
	fingerprinted.Fingerprint = "sha256:fp"
	fingerprinted.Annotations = map[string]string{ReverifiedDigestAnnotation: digest}
	g.Expect(PlanProof(*fingerprinted, digest, v1alpha1.ReverifyForce)).To(Equal(Plan{}), "v1.10+ proves it with the fingerprint")

	// The force as the companion makes it, then Flux verifying again.
	for k, v := range RequestAnnotations(*r, digest, at, plan.Attempt, at.Add(-time.Second)) {
		r.Annotations[k] = v
	}
	r.Conditions = nil
	g.Expect(PlanProof(*r, digest, v1alpha1.ReverifyForce)).To(Equal(Plan{}), "asked once per digest")
	handled(withSourceVerified(r, metav1.ConditionTrue, at.Add(time.Second)), r.Annotations[ReverifyRequestedAtAnnotation])
	g.Expect(Read(*r, "", digest).Verified).To(BeTrue(), "Flux's new verdict is provably current")
	g.Expect(PlanReverify(*r, digest, v1alpha1.ReverifyForce, at.Add(2*time.Second), DefaultForceBackoff)).To(Equal(Plan{Attempt: 1}))
}
