package artifacts

import (
	"context"

	"github.com/fluxcd/pkg/runtime/predicates"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/helmcharts"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
)

// SetupWithManager wires the companion's watches. The watches on Flux's
// objects are added by discovery once their API is served: the manager must
// start, and report ArtifactsVerified=Unknown, on clusters without Flux, and
// pick Flux up without a restart when it is installed later.
//
// generated watches the Secrets we wrote (targets.Store.Sources): a
// namespace's trust digest changed.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, generated []source.Source, concurrency int) error {
	kick := make(chan event.TypedGenericEvent[*v1alpha1.VerificationPolicy])
	b := ctrl.NewControllerManagedBy(mgr).
		Named("artifacts").
		For(&v1alpha1.VerificationPolicy{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicates.ReconcileRequestedPredicate{},
			trustDigestChanged(),
		))).
		WatchesRawSource(source.Channel(kick, &handler.TypedEnqueueRequestForObject[*v1alpha1.VerificationPolicy]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, concurrency)})
	for _, src := range generated {
		b = b.WatchesRawSource(src)
	}
	c, err := b.Build(r)
	if err != nil {
		return err
	}
	// Each Flux API is watched from the moment discovery finds it served.
	watchWhenServed := func(gvk schema.GroupVersionKind, obj *unstructured.Unstructured, mapFn func(context.Context, *unstructured.Unstructured) []reconcile.Request) {
		r.APIs.Watch(gvk, discovery.Handler{
			OnServed: func(ctx context.Context) error {
				if err := c.Watch(source.Kind(mgr.GetCache(), obj, handler.TypedEnqueueRequestsFromMapFunc(mapFn))); err != nil {
					return err
				}
				ctrl.LoggerFrom(ctx).Info("a Flux API is served: verifying what it governs", "kind", gvk.Kind)
				return r.kickAll(ctx, kick)
			},
			OnNotServed: func(ctx context.Context) error {
				ctrl.LoggerFrom(ctx).Info("a Flux API is not served; its verification waits for it", "api", gvk.String())
				return r.kickAll(ctx, kick)
			},
		})
	}
	watchWhenServed(ocirepos.GVK, ocirepos.New(), r.policiesForRepository)
	watchWhenServed(helmcharts.GVK, helmcharts.New(), r.policiesForChart)
	watchWhenServed(helmcharts.RepositoryGVK, helmcharts.NewRepository(), r.everyPolicy)
	return nil
}

// policiesForRepository maps an OCIRepository to the policies whose Secret
// name it verifies with; Governed narrows it down in Reconcile.
func (r *Reconciler) policiesForRepository(ctx context.Context, u *unstructured.Unstructured) []reconcile.Request {
	repo, err := ocirepos.FromUnstructured(u)
	if err != nil {
		return nil
	}
	if !u.GetDeletionTimestamp().IsZero() {
		r.forget(checker.OCIRepository, u.GetNamespace(), u.GetName())
	}
	return r.policiesUsing(ctx, func(name string) bool { return ocirepos.UsesSecretName(repo, name) })
}

// policiesForChart maps a HelmChart to the policies whose Secret name it
// verifies with.
func (r *Reconciler) policiesForChart(ctx context.Context, u *unstructured.Unstructured) []reconcile.Request {
	chart, err := helmcharts.FromUnstructured(u)
	if err != nil {
		return nil
	}
	if !u.GetDeletionTimestamp().IsZero() {
		r.forget(checker.HelmChart, u.GetNamespace(), u.GetName())
	}
	return r.policiesUsing(ctx, func(name string) bool { return helmcharts.UsesSecretName(chart, name) })
}

// everyPolicy maps a HelmRepository event to every policy: its type, URL and
// access settings decide what its charts are verified against, and there
// are few of them.
func (r *Reconciler) everyPolicy(ctx context.Context, _ *unstructured.Unstructured) []reconcile.Request {
	return r.policiesUsing(ctx, func(string) bool { return true })
}

func (r *Reconciler) policiesUsing(ctx context.Context, uses func(secretName string) bool) []reconcile.Request {
	// The cache's own objects (no copies: this runs once per Flux object
	// event, thousands of times at start), read only.
	var list v1alpha1.VerificationPolicyList
	if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing VerificationPolicies for a Flux object event")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if uses(list.Items[i].SecretName()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

func (r *Reconciler) kickAll(ctx context.Context, kick chan<- event.TypedGenericEvent[*v1alpha1.VerificationPolicy]) error {
	var list v1alpha1.VerificationPolicyList
	if err := r.List(ctx, &list); err != nil {
		return err
	}
	for i := range list.Items {
		select {
		case kick <- event.TypedGenericEvent[*v1alpha1.VerificationPolicy]{Object: &list.Items[i]}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// trustDigestChanged passes policy updates whose rendered trust changed: the
// sync reconciler records it in status, which does not bump the generation.
func trustDigestChanged() predicate.Predicate {
	return policyUpdated(func(o, n *v1alpha1.VerificationPolicy) bool {
		return o.Status.TrustDigest != n.Status.TrustDigest
	})
}

// policyUpdated passes only policy updates for which changed holds.
func policyUpdated(changed func(old, new *v1alpha1.VerificationPolicy) bool) predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		DeleteFunc: func(event.DeleteEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*v1alpha1.VerificationPolicy)
			n, ok2 := e.ObjectNew.(*v1alpha1.VerificationPolicy)
			return ok1 && ok2 && changed(o, n)
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
