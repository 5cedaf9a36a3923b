package artifacts

import (
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

const (
	// maxIssues bounds status.ociRepositoryIssues.
	maxIssues = 20
	// maxIssueMessage bounds one issue's message, in bytes.
	maxIssueMessage = 512
)

// report aggregates outcomes into status, the ArtifactsVerified condition
// and events on the OCIRepositories.
func (r *Reconciler) report(obj *v1alpha1.VerificationPolicy, outcomes []checker.Outcome, rv reverifyResult) {
	var counts v1alpha1.OCIRepositoryCounts
	var issues []v1alpha1.OCIRepositoryIssue
	addIssue := func(o checker.Outcome, reason, msg string) {
		if len(issues) < maxIssues {
			issues = append(issues, v1alpha1.OCIRepositoryIssue{Namespace: o.Repo.Namespace, Name: o.Repo.Name, Reason: reason, Message: text.Truncate(msg, maxIssueMessage)})
		}
	}
	var failed []string
	for _, o := range outcomes {
		counts.Matched++
		switch o.State {
		case checker.Verified:
			counts.Verified++
		case checker.Failed:
			counts.Failed++
			failed = append(failed, fmt.Sprintf("%s (%s)", o.Key(), o.Reason))
			addIssue(o, o.Reason, o.Message)
		default:
			counts.Pending++
			addIssue(o, o.Reason, o.Message)
		}
		if o.Flux.Verified {
			counts.FluxVerified++
		}
		plan := rv.plans[o.Key()]
		if plan.InFlight {
			counts.ForcesInFlight++
		}
		switch {
		case plan.GaveUp:
			addIssue(o, v1alpha1.ReasonFluxReverifyFailed, fmt.Sprintf(
				"after %d forced re-verifications Flux still reports the SourceVerified condition it had before the trust change", plan.Attempt))
			if o.Flux.Stale {
				counts.FluxStale++
			}
		case o.Flux.Stale:
			counts.FluxStale++
			if o.State != checker.Failed {
				addIssue(o, v1alpha1.ReasonFluxStale, "Flux reports SourceVerified=True that cannot be shown to be newer than the last trust change; "+
					"source-controller before v1.10 re-verifies only on a new revision or generation (spec.ociRepositories.reverify: Force makes it)")
			}
		}
		r.emitOutcomeEvent(o)
	}
	obj.Status.OCIRepositories = counts
	obj.Status.OCIRepositoryIssues = issues

	stale := ""
	if counts.FluxStale > 0 {
		stale = fmt.Sprintf("; Flux's result is stale for %d", counts.FluxStale)
	}
	if counts.ForcesInFlight > 0 {
		stale += fmt.Sprintf("; waiting for Flux to re-verify %d", counts.ForcesInFlight)
	}
	switch {
	case counts.Failed > 0:
		conditions.MarkFalse(obj, v1alpha1.ArtifactsVerifiedCondition, v1alpha1.ReasonArtifactsFailed,
			"%d of %d OCIRepositories fail verification: %s%s", counts.Failed, counts.Matched, text.Join(failed, 5, ", ", ""), stale)
	case counts.Pending > 0:
		conditions.MarkUnknown(obj, v1alpha1.ArtifactsVerifiedCondition, v1alpha1.ReasonArtifactsPending,
			"%d of %d OCIRepositories verified, %d pending%s", counts.Verified, counts.Matched, counts.Pending, stale)
	case counts.Matched == 0:
		conditions.MarkTrue(obj, v1alpha1.ArtifactsVerifiedCondition, meta.SucceededReason,
			"no OCIRepository in the target namespaces verifies with Secret %q", obj.SecretName())
	default:
		conditions.MarkTrue(obj, v1alpha1.ArtifactsVerifiedCondition, meta.SucceededReason,
			"%d/%d OCIRepositories verified%s", counts.Verified, counts.Matched, stale)
	}
}

// emitOutcomeEvent puts our verdict next to Flux's own events on the
// OCIRepository, once per change.
func (r *Reconciler) emitOutcomeEvent(o checker.Outcome) {
	if o.Ours == nil {
		return
	}
	k := o.Key()
	prev, seen := r.lastOutcome.Load(k)
	cur := string(o.Ours.Outcome) + "/" + o.Ours.Reason + "/" + o.Ours.Digest
	r.lastOutcome.Store(k, cur)
	if seen && prev == cur {
		return
	}
	u := ocirepos.New()
	u.SetNamespace(o.Repo.Namespace)
	u.SetName(o.Repo.Name)
	u.SetUID(o.Repo.UID)
	u.SetResourceVersion(o.Repo.ResourceVersion)
	switch o.Ours.Outcome {
	case verify.Failed:
		r.EventRecorder.Eventf(u, corev1.EventTypeWarning, "VerificationFailed",
			"verification-operator: %s: %s", o.Ours.Reason, text.Truncate(o.Ours.Message, maxIssueMessage))
	case verify.Verified:
		if seen {
			r.EventRecorder.Eventf(u, corev1.EventTypeNormal, "VerificationSucceeded",
				"verification-operator: verified the signature of %s with the current trust configuration", o.Ours.Digest)
		}
	}
}
