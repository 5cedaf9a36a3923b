package artifacts

import (
	"fmt"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

const (
	// maxIssues bounds status.artifactIssues.
	maxIssues = 20
	// maxIssueMessage bounds one issue's message, in bytes.
	maxIssueMessage = 512
)

// tally is the counts of one kind, or of all, with the failures named.
type tally struct {
	counts v1alpha1.ArtifactCounts
	failed []string
	// gaveUp counts the artifacts Flux did not re-verify after
	// fluxverdict.MaxForceAttempts forces.
	gaveUp int
}

func (t *tally) add(o checker.Outcome, plan fluxverdict.Plan) {
	t.counts.Matched++
	switch o.State {
	case checker.Verified:
		t.counts.Verified++
	case checker.Failed:
		t.counts.Failed++
	default:
		t.counts.Pending++
	}
	if o.Flux.Verified {
		t.counts.FluxVerified++
	}
	if o.Flux.Stale {
		t.counts.FluxStale++
	}
	// A force made (or about to be) that Flux has not answered; a plain
	// request is not a force.
	if plan.InFlight && plan.Attempt > 0 {
		t.counts.ForcesInFlight++
	}
	if plan.GaveUp {
		t.gaveUp++
	}
}

// report aggregates outcomes into status (per kind and in all), the
// ArtifactsVerified condition and events on the Flux objects.
func (r *Reconciler) report(obj *v1alpha1.VerificationPolicy, outcomes []checker.Outcome, rv reverifyResult) {
	var all tally
	byKind := map[checker.Kind]*tally{}
	for _, k := range checker.Kinds {
		byKind[k] = &tally{}
	}
	var issues []v1alpha1.ArtifactIssue
	fluxOnly := 0
	addIssue := func(o checker.Outcome, reason, msg string) {
		if len(issues) < maxIssues {
			a := o.Artifact
			issues = append(issues, v1alpha1.ArtifactIssue{Kind: string(a.Kind), Namespace: a.Namespace(), Name: a.Name(),
				Reason: reason, Message: text.Truncate(msg, maxIssueMessage)})
		}
	}
	for _, o := range outcomes {
		plan := rv.plans[o.Artifact.ID()]
		all.add(o, plan)
		byKind[o.Artifact.Kind].add(o, plan)
		if o.State == checker.Failed {
			all.failed = append(all.failed, fmt.Sprintf("%s %s (%s)", o.Artifact.Kind, o.Artifact.Key(), o.Reason))
			byKind[o.Artifact.Kind].failed = append(byKind[o.Artifact.Kind].failed, fmt.Sprintf("%s (%s)", o.Artifact.Key(), o.Reason))
		}
		gaveUp := ""
		if plan.GaveUp {
			gaveUp = fmt.Sprintf("after %d forced re-verifications Flux still reports a SourceVerified condition "+
				"that cannot be shown to be newer than the trust change", plan.Attempt)
		}
		switch {
		case o.State != checker.Verified && gaveUp != "":
			// Our verdict leads; that Flux's does not follow is said too.
			addIssue(o, o.Reason, o.Message+"; "+gaveUp)
		case o.State != checker.Verified:
			addIssue(o, o.Reason, o.Message)
		case gaveUp != "":
			addIssue(o, v1alpha1.ReasonFluxReverifyFailed, gaveUp)
		case o.Reason == v1alpha1.ReasonRegistryCredentialsNotPermitted:
			// Verified, by Flux alone: listed so that an install without the
			// registry-credentials grant is visible, not silent.
			fluxOnly++
			addIssue(o, o.Reason, o.Message)
		case o.Flux.Stale:
			addIssue(o, v1alpha1.ReasonFluxStale, staleMessage(o.Artifact))
		}
		r.emitOutcomeEvent(o)
	}
	obj.Status.Artifacts = all.counts
	obj.Status.OCIRepositories = byKind[checker.OCIRepository].counts
	obj.Status.HelmCharts = byKind[checker.HelmChart].counts
	obj.Status.ArtifactIssues = issues
	for _, k := range checker.Kinds {
		recordArtifactMetrics(obj.Name, string(k), byKind[k].counts)
	}

	// Name what is counted: one kind by its name, several as artifacts.
	noun, failed := "artifacts", all.failed
	var kinds []string
	for _, k := range checker.Kinds {
		if byKind[k].counts.Matched > 0 {
			kinds = append(kinds, k.Plural())
			noun, failed = k.Plural(), byKind[k].failed
		}
	}
	if len(kinds) > 1 {
		noun, failed = "artifacts", all.failed
	}
	c := all.counts
	tail := ""
	if c.FluxStale > 0 {
		tail = fmt.Sprintf("; Flux's result is stale for %d", c.FluxStale)
	}
	if c.ForcesInFlight > 0 {
		tail += fmt.Sprintf("; waiting for Flux to re-verify %d", c.ForcesInFlight)
	}
	if all.gaveUp > 0 {
		tail += fmt.Sprintf("; Flux did not re-verify %d after %d forced re-verifications", all.gaveUp, fluxverdict.MaxForceAttempts)
	}
	if fluxOnly > 0 {
		tail += fmt.Sprintf("; %d verified by Flux alone (registry credentials not permitted)", fluxOnly)
	}
	switch {
	case c.Failed > 0:
		conditions.MarkFalse(obj, v1alpha1.ArtifactsVerifiedCondition, v1alpha1.ReasonArtifactsFailed,
			"%d of %d %s fail verification: %s%s", c.Failed, c.Matched, noun, text.Join(failed, 5, ", ", ""), tail)
	case c.Pending > 0:
		conditions.MarkUnknown(obj, v1alpha1.ArtifactsVerifiedCondition, v1alpha1.ReasonArtifactsPending,
			"%d of %d %s verified, %d pending%s", c.Verified, c.Matched, noun, c.Pending, tail)
	case c.Matched == 0:
		conditions.MarkTrue(obj, v1alpha1.ArtifactsVerifiedCondition, meta.SucceededReason,
			"no OCIRepository or HelmChart in the target namespaces verifies with Secret %q", obj.SecretName())
	default:
		conditions.MarkTrue(obj, v1alpha1.ArtifactsVerifiedCondition, meta.SucceededReason,
			"%d/%d %s verified%s%s", c.Verified, c.Matched, noun, kindsNote(kinds), tail)
	}
}

// staleMessage says why Flux's True for a is not taken as current, and
// what makes it so, for a's kind.
func staleMessage(a *checker.Artifact) string {
	const head = "Flux reports SourceVerified=True that cannot be shown to be newer than the last trust change; "
	switch {
	case a.Flux.Suspended:
		return head + "the " + string(a.Kind) + " is suspended, so Flux does not verify it again until it is resumed"
	case a.Kind == checker.HelmChart:
		return head + "source-controller verifies a chart on every reconcile, but leaves the old SourceVerified in place when the " +
			"reconcile fails before or while verifying (FetchFailed; it takes some verification errors for authentication errors)"
	default:
		return head + "source-controller before v1.10 re-verifies an OCIRepository only on a new revision or generation " +
			"(spec.ociRepositories.reverify: Force makes it)"
	}
}

// kindsNote says which kinds "artifacts" are made of.
func kindsNote(kinds []string) string {
	if len(kinds) < 2 {
		return ""
	}
	return " (" + strings.Join(kinds, " and ") + ")"
}

// emitOutcomeEvent puts our verdict next to Flux's own events on the Flux
// object, once per change.
func (r *Reconciler) emitOutcomeEvent(o checker.Outcome) {
	if o.Ours == nil {
		return
	}
	a := o.Artifact
	prev, seen := r.lastOutcome.Load(a.ID())
	cur := string(o.Ours.Outcome) + "/" + o.Ours.Reason + "/" + o.Ours.Digest
	r.lastOutcome.Store(a.ID(), cur)
	if seen && prev == cur {
		return
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(a.Kind.GVK())
	u.SetNamespace(a.Namespace())
	u.SetName(a.Name())
	u.SetUID(a.Object.GetUID())
	u.SetResourceVersion(a.Object.GetResourceVersion())
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
