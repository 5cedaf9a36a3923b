package artifacts

import (
	"context"

	"github.com/fluxcd/pkg/runtime/predicates"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// SetupWithManager wires the companion's watches. The OCIRepository watch is
// added by discovery once the API is served: the manager must start, and
// report ArtifactsVerified=Unknown, on clusters without Flux, and pick Flux
// up without a restart when it is installed later.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	kick := make(chan event.TypedGenericEvent[*v1alpha1.VerificationPolicy])
	c, err := ctrl.NewControllerManagedBy(mgr).
		Named("artifacts").
		For(&v1alpha1.VerificationPolicy{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicates.ReconcileRequestedPredicate{},
			trustDigestChanged(),
		))).
		// Our Secrets: a namespace's trust digest changed.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(targets.PolicyOfSecret)).
		WatchesRawSource(source.Channel(kick, &handler.TypedEnqueueRequestForObject[*v1alpha1.VerificationPolicy]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, concurrency)}).
		Build(r)
	if err != nil {
		return err
	}
	r.APIs.Watch(ocirepos.GVK, discovery.Handler{
		OnServed: func(ctx context.Context) error {
			if err := c.Watch(source.Kind(mgr.GetCache(), ocirepos.New(),
				handler.TypedEnqueueRequestsFromMapFunc(r.policiesForRepository))); err != nil {
				return err
			}
			ctrl.LoggerFrom(ctx).Info("the OCIRepository API is served: verifying governed OCIRepositories")
			return r.kickAll(ctx, kick)
		},
		OnNotServed: func(ctx context.Context) error {
			ctrl.LoggerFrom(ctx).Info("the OCIRepository API (source.toolkit.fluxcd.io/v1) is not served; artifact verification waits for it")
			return r.kickAll(ctx, kick)
		},
	})
	return nil
}

// policiesForRepository maps an OCIRepository to the policies whose Secret
// name it verifies with; Governs narrows it down in Reconcile.
func (r *Reconciler) policiesForRepository(ctx context.Context, u *unstructured.Unstructured) []reconcile.Request {
	repo, err := ocirepos.FromUnstructured(u)
	if err != nil {
		return nil
	}
	if !u.GetDeletionTimestamp().IsZero() {
		r.forget(u.GetNamespace(), u.GetName())
	}
	var list v1alpha1.VerificationPolicyList
	if err := r.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing VerificationPolicies for an OCIRepository event")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if ocirepos.UsesSecretName(repo, list.Items[i].SecretName()) {
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
