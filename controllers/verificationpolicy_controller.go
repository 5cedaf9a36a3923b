// Package controllers holds the operator's reconcilers. Domain logic lives in
// sub-packages (trustconfig renders, sources resolves, targets writes); the
// reconcilers only sequence those steps and report status.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	helper "github.com/fluxcd/pkg/runtime/controller"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/internal/policystatus"
	"github.com/flux-notation/verification-operator/controllers/rollout"
	"github.com/flux-notation/verification-operator/controllers/sources"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// FieldOwner names the operator in managedFields and status patches.
const FieldOwner = "verification-operator"

// VerificationPolicyReconciler renders each VerificationPolicy's trust
// configuration and keeps a copy of it in every targeted namespace.
type VerificationPolicyReconciler struct {
	client.Client
	EventRecorder kuberecorder.EventRecorder
	Metrics       helper.Metrics
	Sources       *sources.Resolver
	Writer        *targets.Writer
	// ConflictRetryInterval is how often namespaces with a foreign Secret in
	// the way are retried; such Secrets are outside our cache, so their
	// removal raises no event.
	ConflictRetryInterval time.Duration
	// Now is the clock used for certificate validity warnings.
	Now func() time.Time
	// Checker verifies governed artifacts for the preflight and stage gates.
	Checker *ArtifactChecker
	// Status writes the sync reconciler's share of status in one request.
	Status *policystatus.Writer
	// RolloutRecheckInterval is how often a held or waiting rollout looks
	// again (artifacts may be re-signed under the same digest).
	RolloutRecheckInterval time.Duration
}

// RBAC, least privilege; each rule says why it exists.
//
// Policies are watched, get a finalizer (update), and report status.
// +kubebuilder:rbac:groups=verification.flux-notation.io,resources=verificationpolicies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=verification.flux-notation.io,resources=verificationpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=verification.flux-notation.io,resources=verificationpolicies/finalizers,verbs=update
//
// Generated Secrets live in any target namespace, so Secret writes are
// cluster-wide. RBAC cannot be narrowed by label: list/watch are requested
// with our managed-by label selector (the cache holds only our Secrets), and
// get is used only on the Secret name a policy targets, to tell whether one
// that is in the way is ours. No patch: updates carry a resourceVersion
// precondition instead.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
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
// +kubebuilder:rbac:groups="",namespace=verification-operator-system,resources=secrets,verbs=get;list;watch

// Reconcile syncs one VerificationPolicy.
func (r *VerificationPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	obj := &v1alpha1.VerificationPolicy{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			deletePolicyMetrics(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	before := obj.DeepCopy()
	defer func() {
		if !obj.DeletionTimestamp.IsZero() {
			// finalize removed the finalizer (a metadata patch); the
			// status of an object about to disappear is not written.
			return
		}
		switch {
		case retErr != nil:
			// Retried with backoff: Ready says why (policystatus.SetReady).
			conditions.MarkReconciling(obj, meta.ProgressingWithRetryReason, "%s", retErr.Error())
		case conditions.GetReason(obj, meta.ReconcilingCondition) == meta.ProgressingWithRetryReason:
			conditions.Delete(obj, meta.ReconcilingCondition)
		}
		if err := r.Status.Patch(ctx, before, obj); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
		r.Metrics.RecordReadiness(ctx, obj)
		r.Metrics.RecordReconciling(ctx, obj)
		r.Metrics.RecordStalled(ctx, obj)
		r.Metrics.RecordDuration(ctx, obj, start)
	}()

	if !obj.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, obj, before)
	}
	if !controllerutil.ContainsFinalizer(obj, v1alpha1.FinalizerName) {
		// A metadata patch of its own: the status subresource ignores
		// metadata, and status is written once, at the end.
		controllerutil.AddFinalizer(obj, v1alpha1.FinalizerName)
		if err := r.Patch(ctx, obj, client.MergeFrom(before), client.FieldOwner(FieldOwner)); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding the finalizer: %w", err)
		}
		before = obj.DeepCopy()
	}
	r.Metrics.RecordSuspend(ctx, obj, obj.Spec.Suspend)
	if obj.Spec.Suspend {
		log.FromContext(ctx).V(1).Info("reconciliation is suspended")
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonSuspended,
			"reconciliation is suspended: existing Secrets are left as they are")
		conditions.Delete(obj, meta.ReconcilingCondition)
		return ctrl.Result{}, nil
	}
	return r.reconcile(ctx, obj, before)
}

func (r *VerificationPolicyReconciler) reconcile(ctx context.Context, obj *v1alpha1.VerificationPolicy, before *v1alpha1.VerificationPolicy) (ctrl.Result, error) {
	if obj.Generation != obj.Status.ObservedGeneration {
		conditions.MarkReconciling(obj, meta.ProgressingReason, "processing generation %d", obj.Generation)
	}

	rendered, err := r.render(ctx, obj)
	if err != nil {
		return r.rejectInput(ctx, obj, err)
	}

	// Namespaces are only read: take the cache's objects without copying
	// thousands of them on every reconcile.
	var nsList corev1.NamespaceList
	if err := r.List(ctx, &nsList, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing namespaces: %w", err)
	}
	selection, err := targets.Select(obj.Spec.Target, nsList.Items)
	if err != nil {
		return r.rejectInput(ctx, obj, &sources.Error{
			Reason: v1alpha1.ReasonInvalidSpec, Field: "target.namespaceSelector", Message: err.Error(),
		})
	}

	existing, stale, err := r.ownedSecrets(ctx, obj, selection)
	if err != nil {
		return ctrl.Result{}, err
	}

	plan, err := r.planRollout(ctx, obj, rendered, nsList.Items, selection, existing)
	if err != nil {
		return ctrl.Result{}, err
	}
	if plan.held {
		// The preflight refused the new configuration: nothing is written
		// or pruned, and status keeps describing what is deployed.
		c := conditions.Get(obj, v1alpha1.RolloutHeldCondition)
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, c.Reason, "%s", c.Message)
		conditions.Delete(obj, meta.ReconcilingCondition)
		conditions.Delete(obj, meta.StalledCondition)
		obj.Status.ObservedGeneration = obj.Generation
		markHandled(obj)
		return ctrl.Result{RequeueAfter: r.RolloutRecheckInterval}, nil
	}

	digestChanged := obj.Status.TrustDigest != rendered.TrustDigest
	if digestChanged {
		for _, w := range rendered.Warnings {
			r.EventRecorder.Event(obj, corev1.EventTypeWarning, w.Reason, w.Message)
		}
		// Make the in-flight rollout visible before the writes start.
		conditions.MarkReconciling(obj, meta.ProgressingReason, "writing trust configuration %s to %d namespaces",
			shortDigest(rendered.TrustDigest), len(selection.Targeted))
		if err := r.Status.Patch(ctx, before, obj); err != nil {
			return ctrl.Result{}, err
		}
		*before = *obj.DeepCopy()
	}

	tmpl := targets.Template{Policy: obj, Data: rendered.Data, TrustDigest: rendered.TrustDigest}
	outcomes := r.Writer.Sync(ctx, tmpl, plan.desired, existing)
	outcomes = append(outcomes, r.keepPrevious(ctx, plan, existing)...)
	pruneErr := r.Writer.Prune(ctx, stale)

	report := summarizeOutcomes(outcomes, selection)
	obj.Status.TrustDigest = rendered.TrustDigest
	obj.Status.FluxFingerprint = rendered.FluxFingerprint
	obj.Status.Certificates = rendered.Certificates
	obj.Status.Namespaces = report.counts
	obj.Status.NamespaceIssues = report.issues
	recordPolicyMetrics(obj)
	r.emitSyncEvents(obj, report, rendered.TrustDigest)

	conditions.Delete(obj, meta.StalledCondition)
	requeue := obj.GetRequeueAfter()
	if plan.stage >= 0 && report.failed == 0 {
		after, err := r.advanceStage(ctx, obj, plan, rendered)
		if err != nil {
			return ctrl.Result{}, err
		}
		requeue = min(requeue, after)
		if st := obj.Status.Rollout; rollout.Current(st) < len(st.Stages) || conditions.IsTrue(obj, v1alpha1.RolloutHeldCondition) {
			cur := rollout.Current(st)
			if held := conditions.Get(obj, v1alpha1.RolloutHeldCondition); held != nil && held.Status == metav1.ConditionTrue {
				conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, held.Reason, "%s", held.Message)
				conditions.Delete(obj, meta.ReconcilingCondition)
			} else {
				msg := fmt.Sprintf("rolling out %s: stage %d/%d (%s) %s", shortDigest(st.DesiredDigest), cur+1, len(st.Stages),
					st.Stages[cur].Name, strings.ToLower(string(st.Stages[cur].State)))
				conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonRolloutProgressing, "%s", msg)
				conditions.MarkReconciling(obj, v1alpha1.ReasonRolloutProgressing, "%s", msg)
			}
			obj.Status.ObservedGeneration = obj.Generation
			markHandled(obj)
			if pruneErr != nil {
				return ctrl.Result{}, fmt.Errorf("pruning Secrets no longer targeted: %w", pruneErr)
			}
			return ctrl.Result{RequeueAfter: requeue}, nil
		}
	}
	switch {
	case report.failed > 0:
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonSyncFailed, "%s", report.message())
		return ctrl.Result{}, fmt.Errorf("%d namespaces failed to sync", report.failed)
	case report.conflicted > 0:
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonSecretConflict, "%s", report.message())
	case len(selection.Targeted) == 0:
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonNoTargetNamespaces,
			"no existing namespace matches the target")
	default:
		conditions.MarkTrue(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonSucceeded, "%s", report.message())
	}
	if pruneErr != nil {
		return ctrl.Result{}, fmt.Errorf("pruning Secrets no longer targeted: %w", pruneErr)
	}

	if gated(obj) && report.conflicted == 0 {
		if err := r.completeRollout(ctx, obj, rendered); err != nil {
			return ctrl.Result{}, fmt.Errorf("recording the completed rollout: %w", err)
		}
	}
	conditions.Delete(obj, meta.ReconcilingCondition)
	obj.Status.ObservedGeneration = obj.Generation
	markHandled(obj)
	if report.conflicted > 0 {
		return ctrl.Result{RequeueAfter: min(r.ConflictRetryInterval, requeue)}, nil
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// render resolves the sources and renders the Secret data.
func (r *VerificationPolicyReconciler) render(ctx context.Context, obj *v1alpha1.VerificationPolicy) (*trustconfig.Result, error) {
	srcs, err := r.Sources.Resolve(ctx, obj.Spec.Certificates)
	if err != nil {
		return nil, err
	}
	return trustconfig.Render(trustconfig.Input{
		Statements: obj.Spec.TrustPolicies,
		Sources:    srcs,
		Now:        r.Now(),
	})
}

// rejectInput reports input that cannot be rendered. Nothing is written and
// nothing is pruned: the Secrets of the last good configuration stay.
func (r *VerificationPolicyReconciler) rejectInput(ctx context.Context, obj *v1alpha1.VerificationPolicy, err error) (ctrl.Result, error) {
	reason, field, msg, ok := inputError(err)
	if !ok {
		// Not the user's input: an API error reading a source. Retry.
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, meta.FailedReason, "%s", err.Error())
		return ctrl.Result{}, err
	}
	text := fmt.Sprintf("%s: %s; the Secrets of the last good configuration are left in place", field, msg)
	conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, reason, "%s", text)
	r.EventRecorder.Event(obj, corev1.EventTypeWarning, reason, text)
	log.FromContext(ctx).Info("rejected input", "reason", reason, "field", field)

	if stalledBySpec(obj, field) {
		// Only a spec change can fix this: stop retrying until one happens.
		conditions.MarkStalled(obj, reason, "%s", text)
		conditions.Delete(obj, meta.ReconcilingCondition)
		obj.Status.ObservedGeneration = obj.Generation
		markHandled(obj)
		return ctrl.Result{}, nil
	}
	// A source Secret or ConfigMap can fix it; their watches will wake us.
	conditions.Delete(obj, meta.StalledCondition)
	markHandled(obj)
	return ctrl.Result{RequeueAfter: obj.GetRequeueAfter()}, nil
}

// ownedSecrets returns this policy's Secrets in targeted namespaces, keyed by
// namespace, and those that are no longer wanted (namespace no longer
// targeted, or the Secret name changed). Secrets in terminating namespaces
// are neither: the namespace's deletion removes them.
func (r *VerificationPolicyReconciler) ownedSecrets(ctx context.Context, obj *v1alpha1.VerificationPolicy, sel targets.Selection) (map[string]*corev1.Secret, []*corev1.Secret, error) {
	list, err := listGeneratedSecrets(ctx, r.Client, obj.Name)
	if err != nil {
		return nil, nil, err
	}
	targeted := toSet(sel.Targeted)
	terminating := toSet(sel.Terminating)
	existing := make(map[string]*corev1.Secret, len(list.Items))
	var stale []*corev1.Secret
	for i := range list.Items {
		s := &list.Items[i]
		switch {
		case s.Labels[v1alpha1.RoleLabel] != "":
			// Our own bookkeeping (the rollout snapshot), not a target.
		case terminating[s.Namespace]:
		case targeted[s.Namespace] && s.Name == obj.SecretName():
			existing[s.Namespace] = s
		default:
			stale = append(stale, s)
		}
	}
	return existing, stale, nil
}

// finalize removes or releases the generated Secrets, then the finalizer.
func (r *VerificationPolicyReconciler) finalize(ctx context.Context, obj, before *v1alpha1.VerificationPolicy) error {
	if !controllerutil.ContainsFinalizer(obj, v1alpha1.FinalizerName) {
		return nil
	}
	list, err := listGeneratedSecrets(ctx, r.Client, obj.Name)
	if err != nil {
		return err
	}
	var secrets, bookkeeping []*corev1.Secret
	for i := range list.Items {
		if list.Items[i].Labels[v1alpha1.RoleLabel] != "" {
			bookkeeping = append(bookkeeping, &list.Items[i])
			continue
		}
		secrets = append(secrets, &list.Items[i])
	}
	if err := r.Writer.Prune(ctx, bookkeeping); err != nil {
		return fmt.Errorf("deleting the rollout snapshot: %w", err)
	}
	if obj.Spec.Target.DeletionPolicy == v1alpha1.DeletionPolicyOrphan {
		if err := r.Writer.Release(ctx, secrets); err != nil {
			return fmt.Errorf("releasing generated Secrets: %w", err)
		}
		r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, "SecretsOrphaned",
			"left %d Secrets in place without operator ownership (deletionPolicy Orphan)", len(secrets))
	} else {
		if err := r.Writer.Prune(ctx, secrets); err != nil {
			return fmt.Errorf("deleting generated Secrets: %w", err)
		}
		r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, "SecretsDeleted",
			"deleted %d generated Secrets", len(secrets))
	}
	controllerutil.RemoveFinalizer(obj, v1alpha1.FinalizerName)
	if err := r.Patch(ctx, obj, client.MergeFrom(before), client.FieldOwner(FieldOwner)); err != nil {
		return client.IgnoreNotFound(err)
	}
	deletePolicyMetrics(obj.Name)
	return nil
}

func (r *VerificationPolicyReconciler) emitSyncEvents(obj *v1alpha1.VerificationPolicy, rep syncReport, digest string) {
	if rep.wrote > 0 {
		r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, "SecretsWritten",
			"wrote trust configuration %s to %d namespaces (%d/%d synced)",
			shortDigest(digest), rep.wrote, rep.counts.Synced, rep.counts.Targeted)
	}
	if rep.conflicted > 0 {
		r.EventRecorder.Eventf(obj, corev1.EventTypeWarning, v1alpha1.ReasonSecretConflict,
			"%d namespaces hold a Secret named %q that this policy does not own: %s",
			rep.conflicted, obj.SecretName(), rep.listNamespaces(targets.Conflicted))
	}
	if rep.failed > 0 {
		r.EventRecorder.Eventf(obj, corev1.EventTypeWarning, v1alpha1.ReasonSyncFailed,
			"%d namespaces could not be written: %s", rep.failed, rep.listNamespaces(targets.Failed))
	}
}

// inputError unpacks the errors that mean "the user's input is bad".
func inputError(err error) (reason, field, msg string, ok bool) {
	var srcErr *sources.Error
	if errors.As(err, &srcErr) {
		return srcErr.Reason, srcErr.Field, srcErr.Message, true
	}
	var renderErr *trustconfig.Error
	if errors.As(err, &renderErr) {
		return renderErr.Reason, renderErr.Field, renderErr.Message, true
	}
	return "", "", "", false
}

// stalledBySpec tells whether the offending field lives in the policy itself
// (inline certificates, trust policies, selectors) rather than in a source
// object whose watch will wake us when it is fixed.
func stalledBySpec(obj *v1alpha1.VerificationPolicy, field string) bool {
	for _, c := range obj.Spec.Certificates {
		if field == "certificates["+c.Name+"]" {
			return c.Inline != ""
		}
	}
	return !strings.HasPrefix(field, "certificates[")
}

func markHandled(obj *v1alpha1.VerificationPolicy) {
	if v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok {
		obj.Status.SetLastHandledReconcileRequest(v)
	}
}

func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

func toSet(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, i := range items {
		m[i] = true
	}
	return m
}

// keepPrevious gives namespaces of stages not yet reached the stable
// configuration when they have none of ours (a namespace created or
// relabelled mid-rollout), and leaves the others as they are.
func (r *VerificationPolicyReconciler) keepPrevious(ctx context.Context, plan *rolloutPlan, existing map[string]*corev1.Secret) []targets.Outcome {
	var missing []string
	var outcomes []targets.Outcome
	for _, ns := range plan.previous {
		if existing[ns] != nil || plan.stable == nil {
			outcomes = append(outcomes, targets.Outcome{Namespace: ns, State: targets.Synced})
			continue
		}
		missing = append(missing, ns)
	}
	if len(missing) > 0 {
		outcomes = append(outcomes, r.Writer.Sync(ctx, *plan.stable, missing, existing)...)
	}
	return outcomes
}
