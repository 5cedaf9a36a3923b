package statusview

import (
	"fmt"
	"strconv"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// rolloutSection is the stage table of status.rollout, nil without one.
func rolloutSection(p *v1alpha1.VerificationPolicy, wide bool) *Section {
	r := p.Status.Rollout
	if r == nil {
		return nil
	}
	s := &Section{
		Title: "Rollout",
		Summary: joinNonEmpty(", ", string(p.Spec.Rollout.Strategy),
			preflight(r.Preflight), stableOrNot(r)),
		Header: []string{"STAGE", "NAMESPACES", "STATE", "COMPLETED", "MESSAGE"},
	}
	if wide {
		s.Summary += fmt.Sprintf("; desired %s, stable %s", r.DesiredDigest, orDash(r.StableDigest))
		s.Header = append(s.Header, "DIGEST")
	}
	for _, st := range r.Stages {
		completed := ""
		if st.CompletedAt != nil {
			completed = st.CompletedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		row := []string{st.Name, strconv.Itoa(int(st.Namespaces)), string(st.State), completed, st.Message}
		if wide {
			row = append(row, st.Digest)
		}
		s.Rows = append(s.Rows, row)
	}
	return s
}

func preflight(st v1alpha1.PreflightState) string {
	if st == "" {
		return ""
	}
	return "preflight " + string(st)
}

func stableOrNot(r *v1alpha1.RolloutStatus) string {
	if r.StableDigest != "" && r.StableDigest == r.DesiredDigest {
		return "complete"
	}
	return "in progress"
}
