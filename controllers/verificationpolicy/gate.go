package verificationpolicy

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/rollout"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// discoveryRecheck is how soon a gate that waits for API discovery looks
// again; discovery runs right after the manager starts.
const discoveryRecheck = time.Second

// rolloutPlan says which namespaces get the desired configuration now and
// which keep the previous one.
type rolloutPlan struct {
	// desired namespaces get the rendered configuration.
	desired []string
	// previous namespaces (stages not yet reached) keep what they hold; the
	// ones without our Secret get the stable snapshot, when there is one.
	previous []string
	stable   *targets.Template
	// stage is the index of the stage being rolled out, or -1.
	stage  int
	stages []rollout.Stage
	forced bool
}

// gated reports whether the policy's rollout goes through the gates.
func gated(obj *v1alpha1.VerificationPolicy) bool {
	return obj.Spec.Rollout.Preflight || obj.Spec.Rollout.Strategy == v1alpha1.RolloutStaged
}

// gateRollout runs the preflight of a gated rollout and places the targeted
// namespaces in stages (p.plan). A failed preflight stops the pass: nothing
// is written or pruned, and status keeps describing what is deployed. While
// the manager does not yet know whether the OCIRepository API is served
// (just after a start), a gate that would need it waits rather than
// passing.
//
// Conditions: RolloutHeld (True with PreflightFailed, or removed), and
// SecretsSynced=False with the hold's reason; Reconciling while waiting
// for discovery. Status: rollout.
func (r *Reconciler) gateRollout(ctx context.Context, p *pass) (bool, error) {
	obj, rendered := p.obj, p.rendered
	p.plan = &rolloutPlan{desired: p.selection.Targeted, stage: -1}
	if !gated(obj) {
		obj.Status.Rollout = nil
		conditions.Delete(obj, v1alpha1.RolloutHeldCondition)
		return false, nil
	}
	stable := obj.Status.TrustDigest
	if obj.Status.Rollout != nil && obj.Status.Rollout.StableDigest != "" {
		stable = obj.Status.Rollout.StableDigest
	}
	if rendered.TrustDigest != stable && checker.AnyUnknown(r.APIs) {
		conditions.MarkReconciling(obj, v1alpha1.ReasonWaitingForAPIDiscovery,
			"waiting to learn whether Flux's OCIRepository and HelmChart APIs are served before gating trust configuration %s", text.ShortDigest(rendered.TrustDigest))
		p.end = waiting
		p.requeueAfter(discoveryRecheck)
		return true, nil
	}
	st := rollout.Begin(obj.Status.Rollout, rendered.TrustDigest, stable)
	obj.Status.Rollout = st
	p.plan.forced = obj.Annotations[v1alpha1.ForceRolloutAnnotation] == rendered.TrustDigest

	if obj.Spec.Rollout.Preflight && st.Preflight != v1alpha1.PreflightPassed && st.Preflight != v1alpha1.PreflightForced &&
		rendered.TrustDigest != stable {
		if p.plan.forced {
			st.Preflight = v1alpha1.PreflightForced
			r.EventRecorder.Eventf(obj, corev1.EventTypeWarning, "RolloutForced",
				"preflight skipped for %s by the %s annotation", text.ShortDigest(rendered.TrustDigest), v1alpha1.ForceRolloutAnnotation)
		} else {
			regressions, unchecked, err := r.preflight(ctx, p, st.Preflight == v1alpha1.PreflightFailed)
			if err != nil {
				return true, err
			}
			if len(regressions) > 0 {
				msg := fmt.Sprintf("preflight: %d artifacts that verify today would fail with trust configuration %s: %s; nothing was written (set the annotation %s: %s to roll out anyway)",
					len(regressions), text.ShortDigest(rendered.TrustDigest), text.Join(regressions, 10, "; ", ""), v1alpha1.ForceRolloutAnnotation, rendered.TrustDigest)
				if st.Preflight != v1alpha1.PreflightFailed || conditions.GetMessage(obj, v1alpha1.RolloutHeldCondition) != msg {
					r.EventRecorder.Event(obj, corev1.EventTypeWarning, v1alpha1.ReasonPreflightFailed, msg)
				}
				st.Preflight = v1alpha1.PreflightFailed
				conditions.MarkTrue(obj, v1alpha1.RolloutHeldCondition, v1alpha1.ReasonPreflightFailed, "%s", msg)
				r.hold(p)
				return true, nil
			}
			if len(unchecked) > 0 && st.Preflight != v1alpha1.PreflightPassed {
				// Not a failure, but not a pass for them either: say so.
				r.EventRecorder.Eventf(obj, corev1.EventTypeWarning, "PreflightIncomplete",
					"preflight could not verify %d artifacts with trust configuration %s itself, and Flux's verdict is about the configuration in place: %s",
					len(unchecked), text.ShortDigest(rendered.TrustDigest), text.Join(unchecked, 10, "; ", ""))
			}
			st.Preflight = v1alpha1.PreflightPassed
		}
	}
	conditions.Delete(obj, v1alpha1.RolloutHeldCondition)

	if obj.Spec.Rollout.Strategy != v1alpha1.RolloutStaged {
		st.Stages = nil
		return false, nil
	}
	return false, r.planStages(ctx, p, st)
}

// hold ends the pass on a held rollout, re-checked periodically (artifacts
// may be re-signed under the same digest).
func (r *Reconciler) hold(p *pass) {
	c := conditions.Get(p.obj, v1alpha1.RolloutHeldCondition)
	conditions.MarkFalse(p.obj, v1alpha1.SecretsSyncedCondition, c.Reason, "%s", c.Message)
	p.end = held // finish removes Reconciling
	p.requeueAfter(r.RolloutRecheckInterval)
}

// planStages assigns the targeted namespaces to stages and decides which
// get the desired configuration now.
func (r *Reconciler) planStages(ctx context.Context, p *pass, st *v1alpha1.RolloutStatus) error {
	want := text.Set(p.selection.Targeted)
	targeted := make([]corev1.Namespace, 0, len(p.selection.Targeted))
	for _, ns := range p.namespaces {
		if want[ns.Name] {
			targeted = append(targeted, ns)
		}
	}
	stages, err := rollout.Assign(p.obj.Spec.Rollout, targeted)
	if err != nil {
		return err
	}
	rollout.Align(st, stages)
	plan := p.plan
	plan.stages = stages
	cur := rollout.Current(st)
	if cur == len(stages) {
		return nil
	}
	plan.stage = cur
	plan.desired = nil
	for i, s := range stages {
		if i <= cur {
			plan.desired = append(plan.desired, s.Namespaces...)
		} else {
			plan.previous = append(plan.previous, s.Namespaces...)
		}
	}
	rollout.MarkProgressing(st, cur)
	if len(plan.previous) > 0 {
		stable, err := r.stableTemplate(ctx, p.obj, st.StableDigest, p.existing)
		if err != nil {
			return err
		}
		plan.stable = stable
	}
	return nil
}

// preflight returns the governed artifacts that verify with the
// configuration in place today but would fail with the rendered one, and
// those it could not verify itself (Flux's verdict is all there is for
// them, and it is about today's configuration).
func (r *Reconciler) preflight(ctx context.Context, p *pass, recheck bool) (regressions, unchecked []string, err error) {
	repos, err := p.governedArtifacts(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	o := checker.Options{Enabled: true, MaxAge: checker.CacheTTL(p.obj)}
	if recheck {
		// Held: artifacts may have been re-signed under the same digest.
		o.MaxAge = r.RolloutRecheckInterval
	}
	today := r.Checker.Check(ctx, p.obj, repos, checker.InPlace(ctx, r.Contents, p.existing), o)
	tomorrow := r.Checker.Check(ctx, p.obj, repos, checker.Rendered(p.rendered), o)
	for i := range repos {
		switch {
		case tomorrow[i].FluxOnly:
			unchecked = append(unchecked, fmt.Sprintf("%s: %s", describe(repos[i]), tomorrow[i].Reason))
		case today[i].State == checker.Verified && tomorrow[i].State == checker.Failed:
			regressions = append(regressions, fmt.Sprintf("%s: %s", describe(repos[i]), tomorrow[i].Reason))
		}
	}
	return regressions, unchecked, nil
}

// describe names an artifact in gate messages: OCIRepositories as
// "<namespace>/<name>", as they always were, other kinds with their kind.
func describe(a *checker.Artifact) string {
	if a.Kind == checker.OCIRepository {
		return a.Key()
	}
	return string(a.Kind) + " " + a.Key()
}
