package verificationpolicy

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	helper "github.com/fluxcd/pkg/runtime/controller"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/internal/policystatus"
	"github.com/flux-notation/verification-operator/controllers/sources"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// FieldOwner names the sync reconciler in managedFields.
const FieldOwner = "verification-operator"

// Reconciler renders each VerificationPolicy's trust configuration and
// keeps a copy of it in every targeted namespace.
type Reconciler struct {
	client.Client
	EventRecorder kuberecorder.EventRecorder
	Metrics       helper.Metrics
	Sources       *sources.Resolver
	// Secrets reads the metadata of the Secrets the operator wrote: the
	// per-name informers of targets.Store (RBAC allows listing Secrets by
	// name only). Contents has their data, by trust digest.
	Secrets  client.Reader
	Contents *targets.Contents
	// SecretNames are the Secret names the operator may write
	// (--target-secret-names); a policy targeting another is refused.
	SecretNames []string
	Writer      *targets.Writer
	// Status writes the sync reconciler's share of status in one request.
	Status *policystatus.Writer
	// Checker verifies governed artifacts for the preflight and stage
	// gates; APIs says whether the OCIRepository API is served, and which
	// ClusterTrustBundle API is.
	Checker *checker.Checker
	APIs    *discovery.APIs
	// ConflictRetryInterval is how often namespaces with a foreign Secret in
	// the way are retried; such Secrets are outside our cache, so their
	// removal raises no event.
	ConflictRetryInterval time.Duration
	// RolloutRecheckInterval is how often a held or waiting rollout looks
	// again (artifacts may be re-signed under the same digest).
	RolloutRecheckInterval time.Duration
	// Now is the clock used for certificate validity warnings and stage
	// completion times.
	Now func() time.Time
}

// RBAC, least privilege; each rule says why it exists.
//
// Policies are watched, get a finalizer (update), and report status.
// +kubebuilder:rbac:groups=verification.flux-notation.io,resources=verificationpolicies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=verification.flux-notation.io,resources=verificationpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=verification.flux-notation.io,resources=verificationpolicies/finalizers,verbs=update
//
// Generated Secrets live in any target namespace, so their rules are
// cluster-wide, but only for the allowed names (--target-secret-names,
// which must match resourceNames here; the manager checks at startup that
// it does). Kubernetes authorizes list
// and watch by resourceNames when they carry the field selector
// metadata.name=<name>, which is how targets.Store watches them: no
// unrelated Secret can be read. create cannot be narrowed by name (the
// name is in the body), and reveals nothing. No patch: updates carry a
// resourceVersion precondition instead.
// +kubebuilder:rbac:groups="",resources=secrets,resourceNames=notation-config,verbs=get;list;watch;update;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create
//
// Namespaces are read to resolve target.namespaces and namespaceSelector.
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
//
// Events explain conflicts, rejected input and writes.
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
//
// Certificate sources are read from the trust namespace only: a Role, not a
// ClusterRole. Its namespace is rewritten by kustomize/OLM to the install
// namespace, which is the manager's POD_NAMESPACE and default trust namespace.
// +kubebuilder:rbac:groups="",namespace=verification-operator-system,resources=configmaps,verbs=get;list;watch
// The trust namespace also holds the rollout snapshots (Secrets named
// vpol-rollout-<policy>), which the manager creates, updates and deletes:
// the trust namespace is the operator's own.
// +kubebuilder:rbac:groups="",namespace=verification-operator-system,resources=secrets,verbs=get;list;watch;create;update;delete
//
// clusterTrustBundle sources: ClusterTrustBundles are cluster-scoped, so
// they are read (and watched, to re-render when a bundle changes or a
// signer's selection does) cluster-wide. Read only; they hold public trust
// anchors that every ServiceAccount may read by default where the API is
// served, but that default binding is not relied on.
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=clustertrustbundles,verbs=get;list;watch

// step is one named part of a sync pass. It returns stop to end the pass
// early (bad input, a held rollout), an error to have it retried.
type step struct {
	name string
	run  func(context.Context, *pass) (stop bool, err error)
}

// steps is the sync, in order (see the package documentation).
func (r *Reconciler) steps() []step {
	return []step{
		{"admit the Secret name", r.admitSecretName},
		{"render sources", r.renderSources},
		{"select targets", r.selectTargets},
		{"gate the rollout", r.gateRollout},
		{"write Secrets", r.writeSecrets},
		{"advance the stage", r.advanceStage},
		{"complete the rollout", r.completeRollout},
	}
}

// Reconcile syncs one VerificationPolicy.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &v1alpha1.VerificationPolicy{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			deletePolicyMetrics(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p := &pass{obj: obj, before: obj.DeepCopy()}

	if !obj.DeletionTimestamp.IsZero() {
		// The status of an object about to disappear is not written.
		return ctrl.Result{}, r.finalize(ctx, p)
	}
	defer func() {
		result, retErr = r.finish(ctx, p, retErr)
		r.Metrics.RecordReadiness(ctx, obj)
		r.Metrics.RecordReconciling(ctx, obj)
		r.Metrics.RecordStalled(ctx, obj)
		r.Metrics.RecordDuration(ctx, obj, start)
	}()

	if !controllerutil.ContainsFinalizer(obj, v1alpha1.FinalizerName) {
		// A metadata patch of its own: the status subresource ignores
		// metadata, and status is written once, in finish.
		controllerutil.AddFinalizer(obj, v1alpha1.FinalizerName)
		if err := r.Patch(ctx, obj, client.MergeFrom(p.before), client.FieldOwner(FieldOwner)); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding the finalizer: %w", err)
		}
		p.before = obj.DeepCopy()
	}
	r.Metrics.RecordSuspend(ctx, obj, obj.Spec.Suspend)
	if obj.Spec.Suspend {
		log.FromContext(ctx).V(1).Info("reconciliation is suspended")
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonSuspended,
			"reconciliation is suspended: existing Secrets are left as they are")
		conditions.Delete(obj, meta.ReconcilingCondition)
		p.end = suspended
		return ctrl.Result{}, nil
	}

	if obj.Generation != obj.Status.ObservedGeneration {
		conditions.MarkReconciling(obj, meta.ProgressingReason, "processing generation %d", obj.Generation)
	}
	for _, s := range r.steps() {
		stop, err := s.run(ctx, p)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("%s: %w", s.name, err)
		}
		if stop {
			break
		}
	}
	if p.pruneErr != nil {
		return ctrl.Result{}, fmt.Errorf("pruning Secrets no longer targeted: %w", p.pruneErr)
	}
	return ctrl.Result{RequeueAfter: p.requeue}, nil
}
