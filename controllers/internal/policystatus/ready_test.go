package policystatus

import (
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

func cond(t string, s metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: t + " says " + reason}
}

func TestSetReadyFollowsTheConditionsTable(t *testing.T) {
	T, F, U := metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown
	synced := cond(v1alpha1.SecretsSyncedCondition, T, meta.SucceededReason)
	cases := []struct {
		name       string
		conditions []metav1.Condition
		status     metav1.ConditionStatus
		reason     string
		from       string // the condition whose message Ready copies
	}{
		{"synced", []metav1.Condition{synced}, T, meta.SucceededReason, v1alpha1.SecretsSyncedCondition},
		{"stalled wins over everything", []metav1.Condition{synced,
			cond(meta.StalledCondition, T, v1alpha1.ReasonInvalidTrustPolicy),
			cond(v1alpha1.ArtifactsVerifiedCondition, F, "VerificationFailed")},
			F, v1alpha1.ReasonInvalidTrustPolicy, meta.StalledCondition},
		{"a held rollout is a failure", []metav1.Condition{synced, cond(v1alpha1.RolloutHeldCondition, T, v1alpha1.ReasonPreflightFailed)},
			F, v1alpha1.ReasonPreflightFailed, v1alpha1.RolloutHeldCondition},
		{"a staged rollout under way is progress", []metav1.Condition{
			cond(v1alpha1.SecretsSyncedCondition, F, v1alpha1.ReasonRolloutProgressing),
			cond(v1alpha1.ArtifactsVerifiedCondition, F, "VerificationFailed")},
			U, v1alpha1.ReasonRolloutProgressing, v1alpha1.SecretsSyncedCondition},
		{"a failed sync before failed artifacts", []metav1.Condition{
			cond(v1alpha1.SecretsSyncedCondition, F, v1alpha1.ReasonSecretConflict),
			cond(v1alpha1.ArtifactsVerifiedCondition, F, "VerificationFailed")},
			F, v1alpha1.ReasonSecretConflict, v1alpha1.SecretsSyncedCondition},
		{"failed artifacts", []metav1.Condition{synced, cond(v1alpha1.ArtifactsVerifiedCondition, F, "VerificationFailed")},
			F, "VerificationFailed", v1alpha1.ArtifactsVerifiedCondition},
		{"pending artifacts do not make Ready unknown", []metav1.Condition{synced, cond(v1alpha1.ArtifactsVerifiedCondition, U, "VerificationPending")},
			T, meta.SucceededReason, v1alpha1.SecretsSyncedCondition},
		{"a reconcile error being retried", []metav1.Condition{synced, cond(meta.ReconcilingCondition, T, meta.ProgressingWithRetryReason)},
			F, meta.FailedReason, meta.ReconcilingCondition},
		{"work in progress", []metav1.Condition{synced, cond(meta.ReconcilingCondition, T, meta.ProgressingReason)},
			U, meta.ProgressingReason, meta.ReconcilingCondition},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := &v1alpha1.VerificationPolicy{}
			obj.Status.Conditions = tc.conditions
			SetReady(obj)
			ready := conditions.Get(obj, meta.ReadyCondition)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(tc.status))
			g.Expect(ready.Reason).To(Equal(tc.reason))
			g.Expect(ready.Message).To(Equal(conditions.GetMessage(obj, tc.from)))
		})
	}
}

func TestSetReadyLeavesReadyAloneWhenNothingWasReconciled(t *testing.T) {
	g := NewWithT(t)
	obj := &v1alpha1.VerificationPolicy{}
	obj.Status.Conditions = []metav1.Condition{cond(v1alpha1.ArtifactsVerifiedCondition, metav1.ConditionUnknown, "OCIRepositoryAPINotFound")}
	SetReady(obj)
	g.Expect(conditions.Has(obj, meta.ReadyCondition)).To(BeFalse())
}
