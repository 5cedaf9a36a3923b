package rollout

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
)

// Begin returns the rollout status for desired: the current one when it is
// already rolling out desired (resuming after a restart), else a fresh
// rollout from the first stage. A new desired digest in the middle of a
// rollout restarts it: stages already given the superseded digest must
// prove the newer one too.
func Begin(cur *v1alpha1.RolloutStatus, desired, stable string) *v1alpha1.RolloutStatus {
	if cur != nil && cur.DesiredDigest == desired {
		return cur
	}
	return &v1alpha1.RolloutStatus{DesiredDigest: desired, StableDigest: stable}
}

// Align makes the stage list of st match stages, keeping the state of
// stages that still exist (by name and position) and counting namespaces.
// A stage list edited mid-rollout keeps progress of unchanged stages only.
func Align(st *v1alpha1.RolloutStatus, stages []Stage) {
	out := make([]v1alpha1.RolloutStageStatus, len(stages))
	for i, s := range stages {
		out[i] = v1alpha1.RolloutStageStatus{Name: s.Name, State: v1alpha1.StagePending}
		if i < len(st.Stages) && st.Stages[i].Name == s.Name {
			out[i] = st.Stages[i]
		}
		out[i].Namespaces = int32(len(s.Namespaces))
	}
	st.Stages = out
}

// Current returns the index of the first stage not yet done (verified or
// forced), or len(stages) when the rollout is complete.
func Current(st *v1alpha1.RolloutStatus) int {
	for i, s := range st.Stages {
		if s.State != v1alpha1.StageVerified && s.State != v1alpha1.StageForced {
			return i
		}
	}
	return len(st.Stages)
}

// MarkProgressing records that stage i now holds the desired digest.
func MarkProgressing(st *v1alpha1.RolloutStatus, i int) {
	s := &st.Stages[i]
	if s.State == v1alpha1.StagePending {
		s.State = v1alpha1.StageProgressing
		s.Message = ""
	}
	s.Digest = st.DesiredDigest
}

// MarkVerified completes stage i.
func MarkVerified(st *v1alpha1.RolloutStatus, i int, now time.Time, msg string) {
	s := &st.Stages[i]
	s.State = v1alpha1.StageVerified
	s.Digest = st.DesiredDigest
	t := metav1.NewTime(now)
	s.CompletedAt = &t
	s.Message = msg
}

// MarkForced completes stage i despite failures, which msg names: the
// force-rollout annotation accepted them. It is not Verified: the API
// defines Verified as every governed artifact of the stage verifying.
func MarkForced(st *v1alpha1.RolloutStatus, i int, now time.Time, msg string) {
	MarkVerified(st, i, now, msg)
	st.Stages[i].State = v1alpha1.StageForced
}

// MarkFailed holds the rollout at stage i.
func MarkFailed(st *v1alpha1.RolloutStatus, i int, failures []string) {
	s := &st.Stages[i]
	s.State = v1alpha1.StageFailed
	s.Message = fmt.Sprintf("%d OCIRepositories fail with the new configuration: %s", len(failures), text.Join(failures, 10, "; ", ""))
}
