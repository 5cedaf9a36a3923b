package policystatus

import (
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// readyRule says: when condition matches, Ready takes status, with the
// condition's reason (or reason, if set) and its message.
type readyRule struct {
	condition string
	matches   func(*metav1.Condition) bool
	status    metav1.ConditionStatus
	reason    string
}

func isStatus(s metav1.ConditionStatus) func(*metav1.Condition) bool {
	return func(c *metav1.Condition) bool { return c.Status == s }
}

func hasReason(reason string) func(*metav1.Condition) bool {
	return func(c *metav1.Condition) bool { return c.Reason == reason }
}

func isTrueWithReason(reason string) func(*metav1.Condition) bool {
	return func(c *metav1.Condition) bool { return c.Status == metav1.ConditionTrue && c.Reason == reason }
}

// readyRules is the conditions table, kstatus style: the first rule that
// matches explains the policy's state. Stalled wins; a held rollout is a
// failure; a staged rollout under way is progress; then failed syncs and
// failed artifacts; then a reconcile error being retried; then work in
// progress; and only then success.
var readyRules = []readyRule{
	{meta.StalledCondition, isStatus(metav1.ConditionTrue), metav1.ConditionFalse, ""},
	{v1alpha1.RolloutHeldCondition, isStatus(metav1.ConditionTrue), metav1.ConditionFalse, ""},
	{v1alpha1.SecretsSyncedCondition, hasReason(v1alpha1.ReasonRolloutProgressing), metav1.ConditionUnknown, ""},
	{v1alpha1.SecretsSyncedCondition, isStatus(metav1.ConditionFalse), metav1.ConditionFalse, ""},
	{v1alpha1.ArtifactsVerifiedCondition, isStatus(metav1.ConditionFalse), metav1.ConditionFalse, ""},
	{meta.ReconcilingCondition, isTrueWithReason(meta.ProgressingWithRetryReason), metav1.ConditionFalse, meta.FailedReason},
	{meta.ReconcilingCondition, isStatus(metav1.ConditionTrue), metav1.ConditionUnknown, ""},
	{v1alpha1.SecretsSyncedCondition, isStatus(metav1.ConditionTrue), metav1.ConditionTrue, meta.SucceededReason},
}

// SetReady derives Ready from the other conditions. It reads nothing else,
// so whichever reconciler writes a condition can recompute Ready in the
// same request. With no rule matching (nothing reconciled yet) Ready is
// left as it is.
func SetReady(obj *v1alpha1.VerificationPolicy) {
	for _, rule := range readyRules {
		c := conditions.Get(obj, rule.condition)
		if c == nil || !rule.matches(c) {
			continue
		}
		reason := rule.reason
		if reason == "" {
			reason = c.Reason
		}
		switch rule.status {
		case metav1.ConditionFalse:
			conditions.MarkFalse(obj, meta.ReadyCondition, reason, "%s", c.Message)
		case metav1.ConditionUnknown:
			conditions.MarkUnknown(obj, meta.ReadyCondition, reason, "%s", c.Message)
		default:
			conditions.MarkTrue(obj, meta.ReadyCondition, reason, "%s", c.Message)
		}
		return
	}
}
