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

func TestReadFlux(t *testing.T) {
	requested := time.Date(2026, 11, 1, 12, 0, 0, 500_000_000, time.UTC)
	token := requested.Format(time.RFC3339Nano)
	before, sameSecond, after := requested.Add(-time.Hour), requested.Truncate(time.Second), requested.Add(time.Minute)
	const ours = "sha256:aaaa"
	trueBefore := Baseline(withSourceVerified(src(), metav1.ConditionTrue, before).Conditions[0].DeepCopy())
	falseBefore := Baseline(withSourceVerified(src(), metav1.ConditionFalse, before).Conditions[0].DeepCopy())
	asked := func(baseline string) ReverifyRequest {
		return ReverifyRequest{At: requested, Token: token, Baseline: baseline}
	}
	cases := []struct {
		name                    string
		repo                    *Source
		req                     ReverifyRequest
		wantVerified, wantStale bool
	}{
		{"no condition", src(), asked("none"), false, false},
		{"failed", withSourceVerified(src(), metav1.ConditionFalse, after), asked(falseBefore), false, false},
		{"v1.10 current fingerprint", func() *Source {
			r := withSourceVerified(src(), metav1.ConditionTrue, before)
			r.Fingerprint = ours
			return r
		}(), asked(trueBefore), true, false},
		{"v1.10 older fingerprint", func() *Source {
			r := withSourceVerified(src(), metav1.ConditionTrue, after)
			r.Fingerprint = "sha256:bbbb"
			return r
		}(), asked(trueBefore), false, true},
		{"v1.9 never asked: unknown", withSourceVerified(src(), metav1.ConditionTrue, before), ReverifyRequest{}, false, false},
		{"v1.9 asked, not handled yet: stale", withSourceVerified(src(), metav1.ConditionTrue, before), asked(trueBefore), false, true},
		{"v1.9 handled, the verdict it had when asked: stale", handled(withSourceVerified(src(), metav1.ConditionTrue, before), token), asked(trueBefore), false, true},
		{"v1.9 handled, failed before, verified in the same second as the request: fresh",
			handled(withSourceVerified(src(), metav1.ConditionTrue, sameSecond), token), asked(falseBefore), true, false},
		{"v1.9 handled, removed before the request and re-created in the same second: fresh",
			handled(withSourceVerified(src(), metav1.ConditionTrue, sameSecond), token), asked("none"), true, false},
		{"v1.9 a newer request handled counts too", handled(withSourceVerified(src(), metav1.ConditionTrue, after),
			requested.Add(time.Second).Format(time.RFC3339Nano)), asked(falseBefore), true, false},
		{"v1.9 an older request handled does not", handled(withSourceVerified(src(), metav1.ConditionTrue, after),
			requested.Add(-time.Second).Format(time.RFC3339Nano)), asked(falseBefore), false, true},
		{"v1.9 no baseline recorded, same second: ambiguous, so stale",
			handled(withSourceVerified(src(), metav1.ConditionTrue, sameSecond), token), ReverifyRequest{At: requested, Token: token}, false, true},
		{"v1.9 no baseline recorded, a later second: fresh",
			handled(withSourceVerified(src(), metav1.ConditionTrue, sameSecond.Add(time.Second)), token), ReverifyRequest{At: requested, Token: token}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			v := Read(*tc.repo, ours, tc.req)
			g.Expect(v.Verified).To(Equal(tc.wantVerified), "verified")
			g.Expect(v.Stale).To(Equal(tc.wantStale), "stale")
		})
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
	apply := func(r *Source, digest string, p Plan, now time.Time) *Source {
		a := RequestAnnotations(*r, digest, now, p.Attempt)
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
		g.Expect(PlanReverify(*r, "", v1alpha1.ReverifyForce, at).Action).To(Equal(Nothing), "no Secret yet")
		g.Expect(PlanReverify(*r, "sha256:1", v1alpha1.ReverifyForce, at).Action).To(Equal(Record), "first sight is no change")
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		g.Expect(PlanReverify(*r, "sha256:1", v1alpha1.ReverifyForce, at)).To(Equal(Plan{}))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyNone, at).Action).To(Equal(Record))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyRequestReconcile, at).Action).To(Equal(Request))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at)).To(Equal(Plan{Action: Force, Attempt: 1}))
	})

	t.Run("Force on Flux v1.10+ only requests: the fingerprint changes", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		r.Fingerprint = "sha256:old"
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at).Action).To(Equal(Request))
	})

	t.Run("Force only requests when Flux verifies anyway", func(t *testing.T) {
		g := NewWithT(t)
		failed := withSourceVerified(src(), metav1.ConditionFalse, at)
		failed.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		g.Expect(PlanReverify(*failed, "sha256:2", v1alpha1.ReverifyForce, at).Action).To(Equal(Request))
		none := src()
		none.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		g.Expect(PlanReverify(*none, "sha256:2", v1alpha1.ReverifyForce, at).Action).To(Equal(Request))
	})

	t.Run("a force is in flight until Flux reports a new verdict, even in the same second", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		p := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at)
		apply(r, "sha256:2", p, at)
		g.Expect(r.Annotations).To(HaveKeyWithValue(FluxBaselineAnnotation, "none"))
		g.Expect(r.Annotations).To(HaveKeyWithValue(ForcedVerdictAnnotation, "True/Succeeded/2026-11-01T11:00:00Z"))
		g.Expect(r.Annotations).To(HaveKeyWithValue(ForceAttemptsAnnotation, "1"))
		token := r.Annotations[meta.ReconcileRequestAnnotation]

		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at)).To(Equal(Plan{Attempt: 1, InFlight: true}), "Flux has not reconciled")
		g.Expect(Read(*r, "", LastRequest(*r, "sha256:2"))).To(Equal(View{}), "no verdict: neither verified nor stale")
		handled(r, token)
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at).InFlight).To(BeTrue(), "reconciled, no verdict yet")

		// Flux verifies again in the very second of the force: fresh.
		withSourceVerified(r, metav1.ConditionFalse, at.Truncate(time.Second))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at)).To(Equal(Plan{Attempt: 1}))
		withSourceVerified(r, metav1.ConditionTrue, at.Truncate(time.Second))
		g.Expect(PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at)).To(Equal(Plan{Attempt: 1}))
		v := Read(*r, "", LastRequest(*r, "sha256:2"))
		g.Expect(v.Verified).To(BeTrue())
		g.Expect(v.Stale).To(BeFalse())
	})

	t.Run("the removed verdict written back is forced again, with backoff, then given up", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		removed := r.Conditions[0]
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		now := at
		p := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, now)
		for attempt := 1; attempt <= MaxForceAttempts; attempt++ {
			g.Expect(p.Action).To(Equal(Force), "attempt %d", attempt)
			g.Expect(p.Attempt).To(Equal(attempt))
			apply(r, "sha256:2", p, now)
			g.Expect(r.Annotations).To(HaveKeyWithValue(ForcedVerdictAnnotation, Baseline(&removed)), "what was removed first is remembered")
			// Flux's in-flight reconcile writes the old verdict back, and
			// handles the request without verifying.
			r.Conditions = []metav1.Condition{removed}
			handled(r, r.Annotations[meta.ReconcileRequestAnnotation])
			v := Read(*r, "", LastRequest(*r, "sha256:2"))
			g.Expect(v.Stale).To(BeTrue(), "the old verdict is stale, not verified")
			if attempt == MaxForceAttempts {
				break
			}
			wait := forceBackoff << (attempt - 1)
			early := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, now.Add(wait-time.Millisecond))
			g.Expect(early.Action).To(Equal(Nothing), "backoff before attempt %d", attempt+1)
			g.Expect(early.Retry).To(Equal(time.Millisecond))
			now = now.Add(wait)
			p = PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, now)
		}
		final := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, now.Add(time.Hour))
		g.Expect(final).To(Equal(Plan{Attempt: MaxForceAttempts, GaveUp: true}))
	})

	t.Run("a restarted manager neither repeats nor forgets a force", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		r.Annotations = map[string]string{ReverifiedDigestAnnotation: "sha256:1"}
		apply(r, "sha256:2", PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at), at)
		// Everything a new process knows is on the object.
		later := PlanReverify(*r, "sha256:2", v1alpha1.ReverifyForce, at.Add(time.Hour))
		g.Expect(later.Action).To(Equal(Nothing))
		g.Expect(later.InFlight).To(BeTrue())
	})

	t.Run("a request records what it can be compared with", func(t *testing.T) {
		g := NewWithT(t)
		r := verifiedEarlier()
		a := RequestAnnotations(*r, "sha256:2", at, 0)
		g.Expect(a).To(HaveKeyWithValue(meta.ReconcileRequestAnnotation, at.Format(time.RFC3339Nano)))
		g.Expect(a).To(HaveKeyWithValue(FluxBaselineAnnotation, "True/Succeeded/2026-11-01T11:00:00Z"))
		g.Expect(a).To(HaveKeyWithValue(ForceAttemptsAnnotation, ""), "a plain request clears force bookkeeping")
		r.Annotations = a
		r.Annotations[meta.ReconcileRequestAnnotation] = "set by a user, not us"
		req := LastRequest(*r, "sha256:2")
		g.Expect(req.At).To(Equal(at))
		g.Expect(req.Token).To(Equal(at.Format(time.RFC3339Nano)))
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
	p := PlanReverify(*s, "sha256:2", v1alpha1.ReverifyForce, at)
	g.Expect(p).To(Equal(Plan{Action: Request}), "a chart is never forced")
	s.Annotations = RequestAnnotations(*s, "sha256:2", at, 0)
	req := LastRequest(*s, "sha256:2")
	g.Expect(Read(*s, "", req)).To(Equal(View{Stale: true, Condition: &s.Conditions[0]}), "not handled yet")

	handled(s, req.Token)
	v := Read(*s, "", req)
	g.Expect(v.Verified).To(BeTrue(), "the same True, re-verified by the handled reconcile")
	g.Expect(v.Stale).To(BeFalse())

	s.Conditions = append(s.Conditions, metav1.Condition{Type: sourcev1.FetchFailedCondition, Status: metav1.ConditionTrue, Reason: "AuthenticationFailed"})
	v = Read(*s, "", req)
	g.Expect(v.Stale).To(BeTrue(), "a fetch failure leaves an old verdict: not fresh")
	g.Expect(PlanReverify(*s, "sha256:2", v1alpha1.ReverifyForce, at)).To(Equal(Plan{}), "and still not forced")
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
	for k, v := range RequestAnnotations(*r, digest, at, plan.Attempt) {
		r.Annotations[k] = v
	}
	r.Conditions = nil
	g.Expect(PlanProof(*r, digest, v1alpha1.ReverifyForce)).To(Equal(Plan{}), "asked once per digest")
	handled(withSourceVerified(r, metav1.ConditionTrue, at.Add(time.Second)), r.Annotations[ReverifyRequestedAtAnnotation])
	g.Expect(Read(*r, "", LastRequest(*r, digest)).Verified).To(BeTrue(), "Flux's new verdict is provably current")
	g.Expect(PlanReverify(*r, digest, v1alpha1.ReverifyForce, at.Add(2*time.Second))).To(Equal(Plan{Attempt: 1}))
}
