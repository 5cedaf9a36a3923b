package controllers

import (
	"fmt"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// maxIssues bounds status lists so a policy over thousands of namespaces
// keeps a small status.
const maxIssues = 20

// syncReport aggregates the per-namespace outcomes of one sync.
type syncReport struct {
	counts                    v1alpha1.NamespaceCounts
	issues                    []v1alpha1.NamespaceIssue
	outcomes                  []targets.Outcome
	wrote, conflicted, failed int
	missing                   int
}

func summarizeOutcomes(outcomes []targets.Outcome, sel targets.Selection) syncReport {
	rep := syncReport{outcomes: outcomes, missing: len(sel.Missing)}
	for _, o := range outcomes {
		if o.Wrote {
			rep.wrote++
		}
		switch o.State {
		case targets.Synced:
			rep.counts.Synced++
		case targets.Conflicted:
			rep.conflicted++
			rep.addIssue(o.Namespace, o.Reason, o.Message)
		case targets.Failed:
			rep.failed++
			rep.addIssue(o.Namespace, o.Reason, o.Message)
		}
	}
	for _, ns := range sel.Missing {
		rep.addIssue(ns, v1alpha1.ReasonNamespaceNotFound, "namespace is listed in target.namespaces but does not exist; it gets the Secret when it is created")
	}
	for _, ns := range sel.Terminating {
		rep.addIssue(ns, v1alpha1.ReasonTerminating, "namespace is terminating; it is skipped")
	}
	rep.counts.Targeted = int32(len(outcomes))
	rep.counts.Conflicted = int32(rep.conflicted)
	rep.counts.Failed = int32(rep.failed)
	rep.counts.Summary = fmt.Sprintf("%d/%d", rep.counts.Synced, rep.counts.Targeted)
	return rep
}

// addIssue keeps the first maxIssues issues; outcomes arrive sorted, so the
// list is stable between reconciles and does not cause status churn.
func (r *syncReport) addIssue(ns, reason, msg string) {
	if len(r.issues) < maxIssues {
		r.issues = append(r.issues, v1alpha1.NamespaceIssue{Namespace: ns, Reason: reason, Message: msg})
	}
}

func (r *syncReport) message() string {
	msg := fmt.Sprintf("%d/%d namespaces synced", r.counts.Synced, r.counts.Targeted)
	var parts []string
	if r.conflicted > 0 {
		parts = append(parts, fmt.Sprintf("%d conflicted", r.conflicted))
	}
	if r.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", r.failed))
	}
	if r.missing > 0 {
		parts = append(parts, fmt.Sprintf("%d listed namespaces missing", r.missing))
	}
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, ", ") + "; see status.namespaceIssues)"
	}
	return msg
}

// listNamespaces names up to five namespaces in state, for event messages.
func (r *syncReport) listNamespaces(state targets.State) string {
	var names []string
	n := 0
	for _, o := range r.outcomes {
		if o.State != state {
			continue
		}
		n++
		if len(names) < 5 {
			names = append(names, o.Namespace)
		}
	}
	s := strings.Join(names, ", ")
	if n > len(names) {
		s += fmt.Sprintf(" and %d more", n-len(names))
	}
	return s
}

// summarize derives Ready from the other conditions, kstatus style: Stalled
// wins, then a failed SecretsSynced, then work in progress.
func summarize(obj *v1alpha1.VerificationPolicy, reconcileErr error) {
	// Ready copies the first condition that explains the object's state,
	// with the status Ready takes for it.
	from := func(condType string, status metav1.ConditionStatus) {
		c := conditions.Get(obj, condType)
		switch status {
		case metav1.ConditionFalse:
			conditions.MarkFalse(obj, meta.ReadyCondition, c.Reason, "%s", c.Message)
		case metav1.ConditionUnknown:
			conditions.MarkUnknown(obj, meta.ReadyCondition, c.Reason, "%s", c.Message)
		default:
			conditions.MarkTrue(obj, meta.ReadyCondition, meta.SucceededReason, "%s", c.Message)
		}
	}
	switch {
	case conditions.IsTrue(obj, meta.StalledCondition):
		from(meta.StalledCondition, metav1.ConditionFalse)
	case conditions.IsTrue(obj, v1alpha1.RolloutHeldCondition):
		from(v1alpha1.RolloutHeldCondition, metav1.ConditionFalse)
	case conditions.GetReason(obj, v1alpha1.SecretsSyncedCondition) == v1alpha1.ReasonRolloutProgressing:
		// A staged rollout under way is progress, not failure.
		from(v1alpha1.SecretsSyncedCondition, metav1.ConditionUnknown)
	case conditions.IsFalse(obj, v1alpha1.SecretsSyncedCondition):
		from(v1alpha1.SecretsSyncedCondition, metav1.ConditionFalse)
	case conditions.IsFalse(obj, v1alpha1.ArtifactsVerifiedCondition):
		from(v1alpha1.ArtifactsVerifiedCondition, metav1.ConditionFalse)
	case reconcileErr != nil:
		conditions.MarkFalse(obj, meta.ReadyCondition, meta.FailedReason, "%s", reconcileErr.Error())
	case conditions.IsTrue(obj, meta.ReconcilingCondition):
		from(meta.ReconcilingCondition, metav1.ConditionUnknown)
	case conditions.IsTrue(obj, v1alpha1.SecretsSyncedCondition):
		from(v1alpha1.SecretsSyncedCondition, metav1.ConditionTrue)
	}
}
