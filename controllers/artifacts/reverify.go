package artifacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
)

// +kubebuilder:rbac:groups=source.toolkit.fluxcd.io,resources=ocirepositories/status,verbs=get;patch
// (reverify: Force removes the SourceVerified condition, and only it, from
// an OCIRepository whose namespace's trust changed, guarded by the
// resourceVersion read, so that source-controller before v1.10 verifies the
// unchanged revision again; Flux recomputes its conditions on that
// reconcile.)

// reverifyResult is what the requests of one pass left to watch.
type reverifyResult struct {
	// plans by artifact ID, for the report.
	plans map[string]fluxverdict.Plan
	// retry is the soonest a pending force may have to be repeated.
	retry time.Duration
}

// reverify makes Flux re-verify, once per trust change of a namespace's
// Secret, each governed artifact there, as the policy's reverify mode says
// (see fluxverdict.PlanReverify), and follows up on forces in flight. First
// sight only records the digest: nothing changed that Flux must hear about.
func (r *Reconciler) reverify(ctx context.Context, artifacts []*checker.Artifact, secrets map[string]*metav1.PartialObjectMetadata, mode v1alpha1.ReverifyMode) (reverifyResult, error) {
	res := reverifyResult{plans: map[string]fluxverdict.Plan{}}
	var errs []error
	now := r.Now()
	r.changes.forgetOlderThan(now.Add(-changeMemory))
	for _, a := range artifacts {
		s := secrets[a.Namespace()]
		if s == nil {
			continue
		}
		digest := s.Annotations[v1alpha1.TrustDigestAnnotation]
		plan := r.when(a, digest, fluxverdict.PlanReverify(a.Flux, digest, mode, now, r.ForceBackoff), now)
		res.plans[a.ID()] = plan
		res.retryIn(plan.Retry)
		if err := r.act(ctx, a, plan, digest, now); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// retryIn notes that a pass is due within d (0: none).
func (res *reverifyResult) retryIn(d time.Duration) {
	if d > 0 && (res.retry == 0 || d < res.retry) {
		res.retry = d
	}
}

// changeMemory bounds how long a change seen is remembered for an artifact
// whose request was never made (it went away, or its plan changed).
const changeMemory = 5 * time.Minute

// changesSeen is when each artifact's current trust digest was first seen,
// until the first request for it is made.
type changesSeen struct {
	mu sync.Mutex
	m  map[string]changeSeen
}

type changeSeen struct {
	digest string
	at     time.Time
	// baseline is Flux's SourceVerified then (fluxverdict.Baseline).
	baseline string
}

// seen returns when digest was first seen for id, and Flux's verdict then,
// noting now and baseline if it is new.
func (c *changesSeen) seen(id, digest string, now time.Time, baseline string) changeSeen {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok && e.digest == digest {
		return e
	}
	if c.m == nil {
		c.m = map[string]changeSeen{}
	}
	e := changeSeen{digest: digest, at: now, baseline: baseline}
	c.m[id] = e
	return e
}

func (c *changesSeen) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

func (c *changesSeen) forgetOlderThan(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.m {
		if e.at.Before(t) {
			delete(c.m, id)
		}
	}
}

// when holds back the first request of a trust change until
// fluxverdict.NotBefore: a verdict Flux gives in the change's own second
// cannot count as current, so asking in that second would mostly earn a
// second request. Until then the plan only waits (a held force counts as in
// flight). plan.Seen is when the change was first seen, and plan.Baseline
// Flux's verdict then: Flux may verify on its own while the request waits
// (it retries a failure with backoff), and a verdict it makes after the
// change must not become the baseline it is compared with.
func (r *Reconciler) when(a *checker.Artifact, digest string, plan fluxverdict.Plan, now time.Time) fluxverdict.Plan {
	switch {
	case plan.Action == fluxverdict.Mark:
		plan.Seen = now
		return plan
	case plan.Action != fluxverdict.Request && (plan.Action != fluxverdict.Force || plan.Attempt > 1):
		// Nothing to ask, or a repeated force (its backoff is longer).
		return plan
	case a.Flux.EveryReconcile || a.Flux.Fingerprint != "":
		// The proof is not a time: Flux verifies on every reconcile, or
		// records the fingerprint of what it verified with.
		plan.Seen = now
		return plan
	}
	baseline := fluxverdict.Baseline(apimeta.FindStatusCondition(a.Flux.Conditions, sourcev1.SourceVerifiedCondition))
	seen := r.changes.seen(a.ID(), digest, now, baseline)
	plan.Seen, plan.Baseline = seen.at, seen.baseline
	if wait := fluxverdict.NotBefore(plan.Seen).Sub(now); wait > 0 {
		return fluxverdict.Plan{Attempt: plan.Attempt, InFlight: plan.InFlight || plan.Action == fluxverdict.Force, Retry: wait}
	}
	return plan
}

// proveFluxVerdicts asks Flux, once per trust digest, to verify again the
// artifacts whose outcome is Flux's verdict alone (verification delegated
// or disabled, registry credentials the operator may not read) while that
// verdict cannot be shown to be current: otherwise they would stay Pending
// until the next trust change. It reports whether it asked anything.
func (r *Reconciler) proveFluxVerdicts(ctx context.Context, outcomes []checker.Outcome, secrets map[string]*metav1.PartialObjectMetadata, mode v1alpha1.ReverifyMode, res *reverifyResult) (bool, error) {
	var errs []error
	asked := false
	now := r.Now()
	for _, o := range outcomes {
		a, s := o.Artifact, secrets[o.Artifact.Namespace()]
		if !o.FluxOnly || o.Flux.Verified || o.Flux.Stale || s == nil {
			continue
		}
		digest := s.Annotations[v1alpha1.TrustDigestAnnotation]
		plan := fluxverdict.PlanProof(a.Flux, digest, mode)
		if plan.Action == fluxverdict.Nothing {
			continue
		}
		plan = r.when(a, digest, plan, now)
		res.plans[a.ID()] = plan
		res.retryIn(plan.Retry)
		if err := r.act(ctx, a, plan, digest, now); err != nil {
			errs = append(errs, err)
			continue
		}
		asked = asked || plan.Action != fluxverdict.Nothing
	}
	return asked, errors.Join(errs...)
}

// act carries out plan for a, whose namespace's Secret has digest.
func (r *Reconciler) act(ctx context.Context, a *checker.Artifact, plan fluxverdict.Plan, digest string, now time.Time) error {
	var annotations map[string]string
	write := func() error { return r.annotate(ctx, a, annotations) }
	switch plan.Action {
	case fluxverdict.Nothing:
		return nil
	case fluxverdict.Record:
		annotations = fluxverdict.RecordAnnotations(digest)
	case fluxverdict.Mark:
		annotations = fluxverdict.MarkAnnotations(a.Flux, digest, plan.Seen)
	case fluxverdict.Request:
		annotations = fluxverdict.RequestAnnotations(a.Flux, digest, now, 0, plan.Seen)
		if plan.Baseline != "" {
			annotations[fluxverdict.FluxBaselineAnnotation] = plan.Baseline
		}
	case fluxverdict.Force:
		annotations = fluxverdict.RequestAnnotations(a.Flux, digest, now, plan.Attempt, plan.Seen)
		if err := r.removeSourceVerified(ctx, a); err != nil {
			return fmt.Errorf("forcing %s %s to verify again: %w", a.Kind, a.Key(), err)
		}
		// The condition is gone: its record must follow, or the next pass
		// would take the missing condition for Flux's own doing and the
		// force for a plain request. A write in between (Flux's, or a
		// user's) is no reason to give up: retry on the newer object.
		// (Other annotations are retried on the next pass, with its read.)
		write = func() error {
			return retry.RetryOnConflict(retry.DefaultRetry, func() error {
				err := r.annotate(ctx, a, annotations)
				if apierrors.IsConflict(err) {
					// From the API server: the cache may not have the newer
					// object yet.
					if getErr := r.Checker.APIReader.Get(ctx, client.ObjectKeyFromObject(a.Object), a.Object); getErr != nil {
						return getErr
					}
				}
				return err
			})
		}
	}
	if err := write(); err != nil {
		return fmt.Errorf("annotating %s %s: %w", a.Kind, a.Key(), err)
	}
	r.changes.forget(a.ID())
	return nil
}

// removeSourceVerified removes the SourceVerified condition, and nothing
// else, from a's status. The JSON patch tests the resourceVersion read and
// the condition's place, so nothing Flux wrote since is undone; on a
// conflict the force is retried from a newer read. a is updated to the
// patched object's resourceVersion and conditions.
func (r *Reconciler) removeSourceVerified(ctx context.Context, a *checker.Artifact) error {
	i := slices.IndexFunc(a.Flux.Conditions, func(c metav1.Condition) bool { return c.Type == sourcev1.SourceVerifiedCondition })
	if i < 0 {
		return nil
	}
	path := fmt.Sprintf("/status/conditions/%d", i)
	body, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": a.Object.GetResourceVersion()},
		{"op": "test", "path": path + "/type", "value": sourcev1.SourceVerifiedCondition},
		{"op": "remove", "path": path},
	})
	if err != nil {
		return err
	}
	u := target(a)
	if err := r.Client.Status().Patch(ctx, u, client.RawPatch(types.JSONPatchType, body), client.FieldOwner(FieldOwner)); err != nil {
		return err
	}
	a.Object.SetResourceVersion(u.GetResourceVersion())
	a.Flux.Conditions = slices.Delete(slices.Clone(a.Flux.Conditions), i, i+1)
	return nil
}

// annotate merges annotations into a's ("" removes a key), guarded by the
// resourceVersion read: a baseline recorded is exactly Flux's verdict at the
// moment of the request. A conflict (Flux wrote meanwhile) is retried on the
// next pass, with the newer read.
func (r *Reconciler) annotate(ctx context.Context, a *checker.Artifact, annotations map[string]string) error {
	patch := map[string]any{}
	for k, v := range annotations {
		if v == "" {
			patch[k] = nil
		} else {
			patch[k] = v
		}
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": patch, "resourceVersion": a.Object.GetResourceVersion()}})
	if err != nil {
		return err
	}
	u := target(a)
	if err := r.Patch(ctx, u, client.RawPatch(types.MergePatchType, body), client.FieldOwner(FieldOwner)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	a.Object.SetResourceVersion(u.GetResourceVersion())
	merged := maps.Clone(a.Flux.Annotations)
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range annotations {
		if v == "" {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	a.Flux.Annotations = merged
	return nil
}

// target is an empty object naming a, to patch.
func target(a *checker.Artifact) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(a.Kind.GVK())
	u.SetNamespace(a.Namespace())
	u.SetName(a.Name())
	return u
}
