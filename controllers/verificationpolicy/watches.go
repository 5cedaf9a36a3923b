package verificationpolicy

import (
	"context"

	"github.com/fluxcd/pkg/runtime/predicates"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/sources"
)

const (
	secretSourceIndex    = ".spec.certificates.secretRef.name"
	configMapSourceIndex = ".spec.certificates.configMapRef.name"
)

// SetupWithManager wires the watches. trustCache is a cache scoped to the
// trust namespace: it holds ConfigMaps, and only the metadata of Secrets, so
// a source Secret's change wakes us without its contents being cached.
// generated watches the Secrets we wrote (targets.Store.Sources): their
// drift or deletion is restored.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, trustCache cache.Cache, generated []source.Source, concurrency int) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.VerificationPolicy{}, secretSourceIndex, func(o client.Object) []string {
		return sources.SecretNames(o.(*v1alpha1.VerificationPolicy).Spec.Certificates)
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.VerificationPolicy{}, configMapSourceIndex, func(o client.Object) []string {
		return sources.ConfigMapNames(o.(*v1alpha1.VerificationPolicy).Spec.Certificates)
	}); err != nil {
		return err
	}

	if err := indexClusterTrustBundleSources(ctx, idx); err != nil {
		return err
	}

	secretMeta := &metav1.PartialObjectMetadata{}
	secretMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))

	kick := make(chan event.TypedGenericEvent[*v1alpha1.VerificationPolicy])
	b := ctrl.NewControllerManagedBy(mgr).
		Named("verificationpolicy").
		For(&v1alpha1.VerificationPolicy{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicates.ReconcileRequestedPredicate{},
			// The force-rollout annotation releases a held rollout.
			predicate.AnnotationChangedPredicate{},
		))).
		// Namespaces appearing, relabelled or terminating change the targets.
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.allPolicies),
			builder.WithPredicates(namespaceChanged())).
		WatchesRawSource(source.Kind(trustCache, &corev1.ConfigMap{},
			handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, cm *corev1.ConfigMap) []reconcile.Request {
				return r.policiesUsing(ctx, configMapSourceIndex, cm.Name)
			}))).
		WatchesRawSource(source.Kind(trustCache, secretMeta,
			handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, s *metav1.PartialObjectMetadata) []reconcile.Request {
				return r.policiesUsing(ctx, secretSourceIndex, s.Name)
			}))).
		// Policies woken when discovery learns about the ClusterTrustBundle API.
		WatchesRawSource(source.Channel(kick, &handler.TypedEnqueueRequestForObject[*v1alpha1.VerificationPolicy]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, concurrency)})
	for _, src := range generated {
		b = b.WatchesRawSource(src)
	}
	c, err := b.Build(r)
	if err != nil {
		return err
	}
	// ClusterTrustBundles are watched from the moment discovery finds their API.
	r.watchClusterTrustBundles(mgr, c, kick)
	return nil
}

func (r *Reconciler) allPolicies(ctx context.Context, _ client.Object) []reconcile.Request {
	// Names only: the cache's own objects, not copies.
	var list v1alpha1.VerificationPolicyList
	if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing VerificationPolicies for a namespace event")
		return nil
	}
	reqs := make([]reconcile.Request, len(list.Items))
	for i := range list.Items {
		reqs[i].Name = list.Items[i].Name
	}
	return reqs
}

func (r *Reconciler) policiesUsing(ctx context.Context, index, name string) []reconcile.Request {
	var list v1alpha1.VerificationPolicyList
	if err := r.List(ctx, &list, client.MatchingFields{index: name}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing VerificationPolicies for a source event", "source", name)
		return nil
	}
	reqs := make([]reconcile.Request, len(list.Items))
	for i := range list.Items {
		reqs[i].Name = list.Items[i].Name
	}
	return reqs
}

// namespaceChanged passes the namespace events that can change a target
// set: creation, deletion, label changes and the start of termination.
func namespaceChanged() predicate.Predicate {
	return predicate.Funcs{
		// The namespaces of the informer's initial list change nothing:
		// the controller reconciles every policy after the start anyway,
		// once all its watches have synced. Mapping each of them to every
		// policy listed the policies once per namespace: at 10,000
		// namespaces and 20 policies, 400 MB of copies in a restart's
		// first seconds (test/bench/RESULTS-large.md).
		CreateFunc: func(e event.CreateEvent) bool { return !e.IsInInitialList },
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldNS, ok1 := e.ObjectOld.(*corev1.Namespace)
			newNS, ok2 := e.ObjectNew.(*corev1.Namespace)
			if !ok1 || !ok2 {
				return true
			}
			return !equality.Semantic.DeepEqual(oldNS.Labels, newNS.Labels) ||
				oldNS.DeletionTimestamp.IsZero() != newNS.DeletionTimestamp.IsZero() ||
				oldNS.Status.Phase != newNS.Status.Phase
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
