package artifacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
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
	for _, a := range artifacts {
		s := secrets[a.Namespace()]
		if s == nil {
			continue
		}
		digest := s.Annotations[v1alpha1.TrustDigestAnnotation]
		plan := fluxverdict.PlanReverify(a.Flux, digest, mode, now)
		res.plans[a.ID()] = plan
		if plan.Retry > 0 && (res.retry == 0 || plan.Retry < res.retry) {
			res.retry = plan.Retry
		}
		if err := r.act(ctx, a, plan, digest, now); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
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
		if err := r.act(ctx, a, plan, digest, now); err != nil {
			errs = append(errs, err)
			continue
		}
		res.plans[a.ID()] = plan
		asked = true
	}
	return asked, errors.Join(errs...)
}

// act carries out plan for a, whose namespace's Secret has digest.
func (r *Reconciler) act(ctx context.Context, a *checker.Artifact, plan fluxverdict.Plan, digest string, now time.Time) error {
	var annotations map[string]string
	switch plan.Action {
	case fluxverdict.Nothing:
		return nil
	case fluxverdict.Record:
		annotations = map[string]string{fluxverdict.ReverifiedDigestAnnotation: digest}
	case fluxverdict.Request:
		annotations = fluxverdict.RequestAnnotations(a.Flux, digest, now, 0)
	case fluxverdict.Force:
		annotations = fluxverdict.RequestAnnotations(a.Flux, digest, now, plan.Attempt)
		if err := r.removeSourceVerified(ctx, a); err != nil {
			return fmt.Errorf("forcing %s %s to verify again: %w", a.Kind, a.Key(), err)
		}
	}
	if err := r.annotate(ctx, a, annotations); err != nil {
		return fmt.Errorf("annotating %s %s: %w", a.Kind, a.Key(), err)
	}
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
