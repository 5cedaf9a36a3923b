package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/rollout"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// rolloutPlan says which namespaces get the desired configuration now and
// which keep the previous one.
type rolloutPlan struct {
	// held: nothing is written (preflight failed).
	held bool
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

// planRollout runs the preflight gate and places namespaces in stages. It
// updates obj.Status.Rollout and the RolloutHeld condition.
func (r *VerificationPolicyReconciler) planRollout(ctx context.Context, obj *v1alpha1.VerificationPolicy, rendered *trustconfig.Result,
	namespaces []corev1.Namespace, sel targets.Selection, existing map[string]*corev1.Secret) (*rolloutPlan, error) {
	plan := &rolloutPlan{desired: sel.Targeted, stage: -1}
	if !gated(obj) {
		obj.Status.Rollout = nil
		conditions.Delete(obj, v1alpha1.RolloutHeldCondition)
		return plan, nil
	}
	stable := obj.Status.TrustDigest
	if obj.Status.Rollout != nil && obj.Status.Rollout.StableDigest != "" {
		stable = obj.Status.Rollout.StableDigest
	}
	st := rollout.Begin(obj.Status.Rollout, rendered.TrustDigest, stable)
	obj.Status.Rollout = st
	plan.forced = obj.Annotations[v1alpha1.ForceRolloutAnnotation] == rendered.TrustDigest

	if obj.Spec.Rollout.Preflight && st.Preflight != v1alpha1.PreflightPassed && st.Preflight != v1alpha1.PreflightForced &&
		rendered.TrustDigest != stable {
		if plan.forced {
			st.Preflight = v1alpha1.PreflightForced
			r.EventRecorder.Eventf(obj, corev1.EventTypeWarning, "RolloutForced",
				"preflight skipped for %s by the %s annotation", shortDigest(rendered.TrustDigest), v1alpha1.ForceRolloutAnnotation)
		} else {
			regressions, err := r.preflight(ctx, obj, rendered, existing, st.Preflight == v1alpha1.PreflightFailed)
			if err != nil {
				return nil, err
			}
			if len(regressions) > 0 {
				msg := fmt.Sprintf("preflight: %d OCIRepositories that verify today would fail with trust configuration %s: %s; nothing was written (set the annotation %s: %s to roll out anyway)",
					len(regressions), shortDigest(rendered.TrustDigest), rollout.ListUpTo(regressions, 10), v1alpha1.ForceRolloutAnnotation, rendered.TrustDigest)
				if st.Preflight != v1alpha1.PreflightFailed || conditions.GetMessage(obj, v1alpha1.RolloutHeldCondition) != msg {
					r.EventRecorder.Event(obj, corev1.EventTypeWarning, v1alpha1.ReasonPreflightFailed, msg)
				}
				st.Preflight = v1alpha1.PreflightFailed
				conditions.MarkTrue(obj, v1alpha1.RolloutHeldCondition, v1alpha1.ReasonPreflightFailed, "%s", msg)
				plan.held = true
				return plan, nil
			}
			st.Preflight = v1alpha1.PreflightPassed
		}
	}
	conditions.Delete(obj, v1alpha1.RolloutHeldCondition)

	if obj.Spec.Rollout.Strategy != v1alpha1.RolloutStaged {
		st.Stages = nil
		return plan, nil
	}
	targeted := make([]corev1.Namespace, 0, len(sel.Targeted))
	want := toSet(sel.Targeted)
	for _, ns := range namespaces {
		if want[ns.Name] {
			targeted = append(targeted, ns)
		}
	}
	stages, err := rollout.Assign(obj.Spec.Rollout, targeted)
	if err != nil {
		return nil, err
	}
	rollout.Align(st, stages)
	plan.stages = stages
	cur := rollout.Current(st)
	if cur == len(stages) {
		return plan, nil
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
		stableTmpl, err := r.stableTemplate(ctx, obj, st.StableDigest, existing)
		if err != nil {
			return nil, err
		}
		plan.stable = stableTmpl
	}
	return plan, nil
}

// preflight returns the governed OCIRepositories that verify with the
// configuration in place today but would fail with the rendered one.
func (r *VerificationPolicyReconciler) preflight(ctx context.Context, obj *v1alpha1.VerificationPolicy, rendered *trustconfig.Result,
	existing map[string]*corev1.Secret, recheck bool) ([]string, error) {
	if r.Checker == nil || !r.Checker.APIServed() {
		return nil, nil
	}
	repos, _, err := r.Checker.Governed(ctx, obj)
	if err != nil {
		return nil, err
	}
	maxAge := cacheTTL(obj)
	if recheck {
		// Held: artifacts may have been re-signed under the same digest.
		maxAge = r.RolloutRecheckInterval
	}
	today := r.Checker.Check(ctx, obj, repos, secretsTrust(existing), true, maxAge)
	tomorrow := r.Checker.Check(ctx, obj, repos, renderedTrust(rendered), true, maxAge)
	var regressions []string
	for i := range repos {
		if today[i].state == "verified" && tomorrow[i].state == "failed" {
			regressions = append(regressions, fmt.Sprintf("%s: %s", key(repos[i]), tomorrow[i].reason))
		}
	}
	return regressions, nil
}

// advanceStage verifies the stage being rolled out (and those before it)
// with the desired configuration, and moves the rollout on or holds it.
// It returns how soon to look again.
func (r *VerificationPolicyReconciler) advanceStage(ctx context.Context, obj *v1alpha1.VerificationPolicy, plan *rolloutPlan, rendered *trustconfig.Result) (time.Duration, error) {
	st := obj.Status.Rollout
	cur := plan.stage
	name := plan.stages[cur].Name
	var failures, pending []string
	if r.Checker != nil && r.Checker.APIServed() {
		repos, _, err := r.Checker.Governed(ctx, obj)
		if err != nil {
			return 0, err
		}
		inScope := toSet(plan.desired)
		var scoped []*ocirepos.Repository
		for _, repo := range repos {
			if inScope[repo.Namespace] {
				scoped = append(scoped, repo)
			}
		}
		maxAge := cacheTTL(obj)
		if st.Stages[cur].State == v1alpha1.StageFailed {
			maxAge = r.RolloutRecheckInterval
		}
		for _, o := range r.Checker.Check(ctx, obj, scoped, renderedTrust(rendered), true, maxAge) {
			fluxFailed := o.repo.Fingerprint == rendered.FluxFingerprint && o.flux.Condition != nil && o.flux.Condition.Status == metav1.ConditionFalse
			switch {
			case o.state == "failed" || fluxFailed:
				reason := o.reason
				if fluxFailed && o.state != "failed" {
					reason = ReasonFluxFailed
				}
				failures = append(failures, fmt.Sprintf("%s: %s", key(o.repo), reason))
			case o.state == "pending":
				pending = append(pending, key(o.repo))
			}
		}
	}
	switch {
	case len(failures) > 0 && !plan.forced:
		wasFailed := st.Stages[cur].State == v1alpha1.StageFailed
		rollout.MarkFailed(st, cur, failures)
		msg := fmt.Sprintf("stage %q (%d/%d) fails with trust configuration %s: %s; later stages keep %s",
			name, cur+1, len(plan.stages), shortDigest(st.DesiredDigest), st.Stages[cur].Message, shortDigest(st.StableDigest))
		if !wasFailed {
			r.EventRecorder.Event(obj, corev1.EventTypeWarning, v1alpha1.ReasonStageFailed, msg)
		}
		conditions.MarkTrue(obj, v1alpha1.RolloutHeldCondition, v1alpha1.ReasonStageFailed, "%s", msg)
		return r.RolloutRecheckInterval, nil
	case len(pending) > 0:
		st.Stages[cur].Message = fmt.Sprintf("waiting for %d OCIRepositories to be verified: %s", len(pending), rollout.ListUpTo(pending, 10))
		return r.RolloutRecheckInterval, nil
	}
	msg := "every governed OCIRepository verifies"
	if len(failures) > 0 {
		msg = fmt.Sprintf("forced by the %s annotation despite: %s", v1alpha1.ForceRolloutAnnotation, rollout.ListUpTo(failures, 10))
	}
	rollout.MarkVerified(st, cur, r.Now(), msg)
	conditions.Delete(obj, v1alpha1.RolloutHeldCondition)
	r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, "StageVerified", "stage %q (%d/%d) verified with trust configuration %s",
		name, cur+1, len(plan.stages), shortDigest(st.DesiredDigest))
	// Move on to the next stage at once.
	return time.Millisecond, nil
}

// completeRollout records the desired configuration as the stable one and
// keeps a snapshot of it, for namespaces of not-yet-reached stages during the
// next rollout and after a restart.
func (r *VerificationPolicyReconciler) completeRollout(ctx context.Context, obj *v1alpha1.VerificationPolicy, rendered *trustconfig.Result) error {
	st := obj.Status.Rollout
	if st == nil || st.StableDigest == st.DesiredDigest {
		return nil
	}
	if obj.Spec.Rollout.Strategy == v1alpha1.RolloutStaged {
		if err := r.writeSnapshot(ctx, obj, rendered.Data, rendered.TrustDigest); err != nil {
			return err
		}
		r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, v1alpha1.ReasonRolloutComplete,
			"trust configuration %s reached all %d stages", shortDigest(st.DesiredDigest), len(st.Stages))
	}
	st.StableDigest = st.DesiredDigest
	return nil
}

// stableTemplate returns the template of the stable configuration from the
// snapshot, creating the snapshot from a deployed Secret holding it when
// there is none yet (a policy switched to Staged, or an upgrade).
func (r *VerificationPolicyReconciler) stableTemplate(ctx context.Context, obj *v1alpha1.VerificationPolicy, stable string, existing map[string]*corev1.Secret) (*targets.Template, error) {
	if stable == "" {
		return nil, nil
	}
	var snap corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: r.Sources.Namespace, Name: snapshotName(obj.Name)}, &snap)
	switch {
	case err == nil && snap.Annotations[v1alpha1.TrustDigestAnnotation] == stable && trustconfig.TrustDigest(snap.Data) == stable:
		return &targets.Template{Policy: obj, Data: snap.Data, TrustDigest: stable}, nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, err
	}
	for _, s := range existing {
		if trustconfig.TrustDigest(s.Data) == stable {
			if err := r.writeSnapshot(ctx, obj, s.Data, stable); err != nil {
				return nil, err
			}
			return &targets.Template{Policy: obj, Data: s.Data, TrustDigest: stable}, nil
		}
	}
	return nil, nil
}

// writeSnapshot keeps data in the trust namespace, owned by the policy.
func (r *VerificationPolicyReconciler) writeSnapshot(ctx context.Context, obj *v1alpha1.VerificationPolicy, data map[string][]byte, digest string) error {
	want := targets.Template{Policy: obj, Data: data, TrustDigest: digest}.Desired(r.Sources.Namespace)
	want.Name = snapshotName(obj.Name)
	want.Labels = map[string]string{
		v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
		v1alpha1.PolicyLabel:    obj.Name,
		v1alpha1.RoleLabel:      v1alpha1.RoleRolloutSnapshot,
	}
	want.Annotations = map[string]string{v1alpha1.TrustDigestAnnotation: digest}
	var cur corev1.Secret
	err := r.Get(ctx, client.ObjectKeyFromObject(want), &cur)
	switch {
	case apierrors.IsNotFound(err):
		return r.Create(ctx, want, client.FieldOwner(FieldOwner))
	case err != nil:
		return err
	case cur.Labels[v1alpha1.RoleLabel] != v1alpha1.RoleRolloutSnapshot:
		return fmt.Errorf("Secret %s/%s exists and is not this policy's rollout snapshot", cur.Namespace, cur.Name)
	}
	cur.Data = data
	cur.OwnerReferences = want.OwnerReferences
	maps.Copy(cur.Annotations, want.Annotations)
	return r.Update(ctx, &cur, client.FieldOwner(FieldOwner))
}

// snapshotName is the rollout snapshot Secret's name for a policy, hashed
// when the policy name is too long to prefix.
func snapshotName(policy string) string {
	const prefix = "vpol-rollout-"
	if len(prefix)+len(policy) <= 253 {
		return prefix + policy
	}
	sum := sha256.Sum256([]byte(policy))
	return prefix + policy[:200] + "-" + hex.EncodeToString(sum[:8])
}
