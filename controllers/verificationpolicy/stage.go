package verificationpolicy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/rollout"
)

// advanceStage, during a staged rollout, verifies the stage being rolled
// out (and those before it) with the desired configuration, and moves the
// rollout on, or holds it. While stages remain, the pass ends here.
//
// Conditions: RolloutHeld (True with StageFailed, or removed);
// SecretsSynced=False and Reconciling=True with RolloutProgressing while
// stages remain, or with the hold's reason. Status: rollout.stages.
func (r *Reconciler) advanceStage(ctx context.Context, p *pass) (bool, error) {
	plan, obj := p.plan, p.obj
	if plan.stage < 0 {
		return false, nil
	}
	after, err := r.checkStage(ctx, p)
	if err != nil {
		return true, err
	}
	p.requeueAfter(after)
	st := obj.Status.Rollout
	if rollout.Current(st) == len(st.Stages) && !conditions.IsTrue(obj, v1alpha1.RolloutHeldCondition) {
		return false, nil
	}
	if conditions.IsTrue(obj, v1alpha1.RolloutHeldCondition) {
		r.hold(p)
		p.requeueAfter(after)
		return true, nil
	}
	cur := rollout.Current(st)
	msg := fmt.Sprintf("rolling out %s: stage %d/%d (%s) %s", text.ShortDigest(st.DesiredDigest), cur+1, len(st.Stages),
		st.Stages[cur].Name, strings.ToLower(string(st.Stages[cur].State)))
	conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, v1alpha1.ReasonRolloutProgressing, "%s", msg)
	conditions.MarkReconciling(obj, v1alpha1.ReasonRolloutProgressing, "%s", msg)
	p.end = rollingOut
	return true, nil
}

// checkStage verifies the governed OCIRepositories of the stages rolled out
// so far with the desired configuration, and marks the current stage
// Verified, Failed (holding the rollout) or still waiting. It returns how
// soon to look again.
func (r *Reconciler) checkStage(ctx context.Context, p *pass) (time.Duration, error) {
	obj, plan := p.obj, p.plan
	st := obj.Status.Rollout
	cur := plan.stage
	name := plan.stages[cur].Name
	var failures, pending []string
	// forcedHere are the failures in the current stage's own namespaces:
	// with the force-rollout annotation, they make it Forced; failures of
	// earlier stages were accepted when those were forced.
	var forcedHere []string
	here := text.Set(plan.stages[cur].Namespaces)
	{
		repos, err := p.governedArtifacts(ctx, r)
		if err != nil {
			return 0, err
		}
		inScope := text.Set(plan.desired)
		var scoped []*checker.Artifact
		for _, a := range repos {
			if inScope[a.Namespace()] {
				scoped = append(scoped, a)
			}
		}
		o := checker.Options{Enabled: true, MaxAge: checker.CacheTTL(obj)}
		if st.Stages[cur].State == v1alpha1.StageFailed {
			o.MaxAge = r.RolloutRecheckInterval
		}
		for _, oc := range r.Checker.Check(ctx, obj, scoped, checker.Rendered(p.rendered), o) {
			fluxFailed := oc.Artifact.Fingerprint() == p.rendered.FluxFingerprint && oc.Flux.Condition != nil && oc.Flux.Condition.Status == metav1.ConditionFalse
			switch {
			case oc.State == checker.Failed || fluxFailed:
				reason := oc.Reason
				if fluxFailed && oc.State != checker.Failed {
					reason = v1alpha1.ReasonFluxFailed
				}
				failures = append(failures, fmt.Sprintf("%s: %s", describe(oc.Artifact), reason))
				if here[oc.Artifact.Namespace()] {
					forcedHere = append(forcedHere, fmt.Sprintf("%s: %s", describe(oc.Artifact), reason))
				}
			case oc.State == checker.Pending:
				pending = append(pending, describe(oc.Artifact))
			}
		}
	}
	switch {
	case len(failures) > 0 && !plan.forced:
		wasFailed := st.Stages[cur].State == v1alpha1.StageFailed
		rollout.MarkFailed(st, cur, failures)
		msg := fmt.Sprintf("stage %q (%d/%d) fails with trust configuration %s: %s; later stages keep %s",
			name, cur+1, len(plan.stages), text.ShortDigest(st.DesiredDigest), st.Stages[cur].Message, text.ShortDigest(st.StableDigest))
		if !wasFailed {
			r.EventRecorder.Event(obj, corev1.EventTypeWarning, v1alpha1.ReasonStageFailed, msg)
		}
		conditions.MarkTrue(obj, v1alpha1.RolloutHeldCondition, v1alpha1.ReasonStageFailed, "%s", msg)
		return r.RolloutRecheckInterval, nil
	case len(pending) > 0:
		st.Stages[cur].Message = fmt.Sprintf("waiting for %d artifacts to be verified: %s", len(pending), text.Join(pending, 10, "; ", ""))
		return r.RolloutRecheckInterval, nil
	}
	conditions.Delete(obj, v1alpha1.RolloutHeldCondition)
	if len(forcedHere) > 0 {
		// Forced through: done, but not Verified, and the failures stay in
		// the stage's message.
		msg := fmt.Sprintf("forced by the %s annotation despite %d failing artifacts: %s",
			v1alpha1.ForceRolloutAnnotation, len(forcedHere), text.Join(forcedHere, 10, "; ", ""))
		rollout.MarkForced(st, cur, r.Now(), msg)
		r.EventRecorder.Eventf(obj, corev1.EventTypeWarning, v1alpha1.ReasonStageForced, "stage %q (%d/%d) %s",
			name, cur+1, len(plan.stages), msg)
		return time.Millisecond, nil
	}
	rollout.MarkVerified(st, cur, r.Now(), "every governed artifact verifies")
	r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, "StageVerified", "stage %q (%d/%d) verified with trust configuration %s",
		name, cur+1, len(plan.stages), text.ShortDigest(st.DesiredDigest))
	// Move on to the next stage at once.
	return time.Millisecond, nil
}

// completeRollout, once a gated rollout reached every namespace without
// conflicts, records the desired configuration as the stable one and, for
// a staged rollout, keeps a snapshot of it: namespaces of stages not yet
// reached get it during the next rollout, also after a restart.
//
// Status: rollout.stableDigest. Event: RolloutComplete.
func (r *Reconciler) completeRollout(ctx context.Context, p *pass) (bool, error) {
	obj := p.obj
	st := obj.Status.Rollout
	if !gated(obj) || p.report.conflicted > 0 || st == nil || st.StableDigest == st.DesiredDigest {
		return false, nil
	}
	if obj.Spec.Rollout.Strategy == v1alpha1.RolloutStaged {
		if err := r.writeSnapshot(ctx, obj, p.rendered.Data, p.rendered.TrustDigest); err != nil {
			return true, fmt.Errorf("recording the completed rollout: %w", err)
		}
		r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, v1alpha1.ReasonRolloutComplete,
			"trust configuration %s reached all %d stages", text.ShortDigest(st.DesiredDigest), len(st.Stages))
	}
	st.StableDigest = st.DesiredDigest
	return false, nil
}
