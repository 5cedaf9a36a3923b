package verificationpolicy

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/sources"
)

const (
	bundleNameIndex   = ".spec.certificates.clusterTrustBundle.name"
	bundleSignerIndex = ".spec.certificates.clusterTrustBundle.signerName"
)

// indexClusterTrustBundleSources indexes policies by the bundles they name
// and the signers whose bundles they select.
func indexClusterTrustBundleSources(ctx context.Context, idx client.FieldIndexer) error {
	if err := idx.IndexField(ctx, &v1alpha1.VerificationPolicy{}, bundleNameIndex, func(o client.Object) []string {
		return sources.ClusterTrustBundleNames(o.(*v1alpha1.VerificationPolicy).Spec.Certificates)
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &v1alpha1.VerificationPolicy{}, bundleSignerIndex, func(o client.Object) []string {
		return sources.ClusterTrustBundleSigners(o.(*v1alpha1.VerificationPolicy).Spec.Certificates)
	})
}

// watchClusterTrustBundles has discovery add a watch on ClusterTrustBundles
// once their API is served (v1, else v1beta1), and wake the policies with a
// clusterTrustBundle source whenever it learns something about the API:
// they wait for discovery after a start, and report the API missing until
// it appears.
func (r *Reconciler) watchClusterTrustBundles(mgr ctrl.Manager, c controller.Controller, kick chan<- event.TypedGenericEvent[*v1alpha1.VerificationPolicy]) {
	for _, gvk := range sources.ClusterTrustBundleVersions {
		r.APIs.Watch(gvk, discovery.Handler{
			OnServed: func(ctx context.Context) error {
				if gvk != sources.ClusterTrustBundleV1 && r.APIs.State(sources.ClusterTrustBundleV1) == discovery.Served {
					// v1 is watched (and read) already.
					return nil
				}
				if err := c.Watch(source.Kind(mgr.GetCache(), bundleObject(gvk),
					handler.TypedEnqueueRequestsFromMapFunc(r.policiesForBundle))); err != nil {
					return err
				}
				ctrl.LoggerFrom(ctx).Info("the ClusterTrustBundle API is served: watching bundles", "version", gvk.Version)
				return r.kickBundlePolicies(ctx, kick)
			},
			OnNotServed: func(ctx context.Context) error { return r.kickBundlePolicies(ctx, kick) },
		})
	}
}

func bundleObject(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// policiesForBundle maps a bundle created, changed or deleted to the
// policies that name it and those that select bundles of its signer (a
// label change may move it into or out of a selection; the signer name
// cannot change).
func (r *Reconciler) policiesForBundle(ctx context.Context, u *unstructured.Unstructured) []reconcile.Request {
	reqs := r.policiesUsing(ctx, bundleNameIndex, u.GetName())
	signer, _, err := sources.BundleFromUnstructured(u)
	if err != nil || signer == "" {
		return reqs
	}
	seen := make(map[string]bool, len(reqs))
	for _, q := range reqs {
		seen[q.Name] = true
	}
	for _, q := range r.policiesUsing(ctx, bundleSignerIndex, signer) {
		if !seen[q.Name] {
			reqs = append(reqs, q)
		}
	}
	return reqs
}

// kickBundlePolicies wakes every policy with a clusterTrustBundle source.
func (r *Reconciler) kickBundlePolicies(ctx context.Context, kick chan<- event.TypedGenericEvent[*v1alpha1.VerificationPolicy]) error {
	var list v1alpha1.VerificationPolicyList
	if err := r.List(ctx, &list); err != nil {
		return err
	}
	for i := range list.Items {
		if !sources.UsesClusterTrustBundles(list.Items[i].Spec.Certificates) {
			continue
		}
		select {
		case kick <- event.TypedGenericEvent[*v1alpha1.VerificationPolicy]{Object: &list.Items[i]}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
