package verificationpolicy

import (
	"context"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// writeSecrets makes every namespace the plan names hold its Secret (the
// rendered configuration, or the previous one for stages not yet reached),
// prunes the stale ones, and records the outcome in status. A failed write
// in one namespace does not stop the others; it is retried with backoff.
// A new trust digest is announced in status (Reconciling) before the writes
// start, so a long rollout is visible while it runs.
//
// Conditions: SecretsSynced (Succeeded, SecretConflict, SyncFailed or
// NoTargetNamespaces); Reconciling while writing a new digest. Status:
// trustDigest, fluxFingerprint, certificates, namespaces, namespaceIssues.
func (r *Reconciler) writeSecrets(ctx context.Context, p *pass) (bool, error) {
	obj, rendered := p.obj, p.rendered
	if obj.Status.TrustDigest != rendered.TrustDigest {
		for _, w := range rendered.Warnings {
			r.EventRecorder.Event(obj, corev1.EventTypeWarning, w.Reason, w.Message)
		}
		conditions.MarkReconciling(obj, meta.ProgressingReason, "writing trust configuration %s to %d namespaces",
			text.ShortDigest(rendered.TrustDigest), len(p.selection.Targeted))
		if err := r.Status.Patch(ctx, p.before, obj); err != nil {
			return true, err
		}
		p.before = obj.DeepCopy()
	}

	tmpl := targets.Template{Policy: obj, Data: rendered.Data, TrustDigest: rendered.TrustDigest}
	outcomes := r.Writer.Sync(ctx, tmpl, p.plan.desired, p.existing)
	outcomes = append(outcomes, r.keepPrevious(ctx, p)...)
	p.pruneErr = r.Writer.Prune(ctx, p.stale)

	p.report = summarizeOutcomes(outcomes, p.selection)
	obj.Status.TrustDigest = rendered.TrustDigest
	obj.Status.FluxFingerprint = rendered.FluxFingerprint
	obj.Status.Certificates = rendered.Certificates
	obj.Status.Namespaces = p.report.counts
	obj.Status.NamespaceIssues = p.report.issues
	recordPolicyMetrics(obj)
	r.emitSyncEvents(obj, p.report, rendered.TrustDigest)
	p.requeueAfter(obj.GetRequeueAfter())

	rep := &p.report
	switch {
	case rep.failed > 0:
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonSyncFailed, "%s", rep.message())
		return true, fmt.Errorf("%d namespaces failed to sync", rep.failed)
	case rep.conflicted > 0:
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonSecretConflict, "%s", rep.message())
		// Foreign Secrets are outside our cache: their removal raises no event.
		p.requeueAfter(r.ConflictRetryInterval)
	case len(p.selection.Targeted) == 0:
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonNoTargetNamespaces,
			"no existing namespace matches the target")
	default:
		conditions.MarkTrue(obj, v1alpha1.SecretsSyncedCondition, meta.SucceededReason, "%s", rep.message())
	}
	return false, nil
}

// keepPrevious gives namespaces of stages not yet reached the stable
// configuration when they have none of ours (a namespace created or
// relabelled mid-rollout), and leaves the others as they are.
func (r *Reconciler) keepPrevious(ctx context.Context, p *pass) []targets.Outcome {
	var missing []string
	var outcomes []targets.Outcome
	for _, ns := range p.plan.previous {
		if p.existing[ns] != nil || p.plan.stable == nil {
			outcomes = append(outcomes, targets.Outcome{Namespace: ns, State: targets.Synced})
			continue
		}
		missing = append(missing, ns)
	}
	if len(missing) > 0 {
		outcomes = append(outcomes, r.Writer.Sync(ctx, *p.plan.stable, missing, p.existing)...)
	}
	return outcomes
}

func (r *Reconciler) emitSyncEvents(obj *v1alpha1.VerificationPolicy, rep syncReport, digest string) {
	if rep.wrote > 0 {
		r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, "SecretsWritten",
			"wrote trust configuration %s to %d namespaces (%d/%d synced)",
			text.ShortDigest(digest), rep.wrote, rep.counts.Synced, rep.counts.Targeted)
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
