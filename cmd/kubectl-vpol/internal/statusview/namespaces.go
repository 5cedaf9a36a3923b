package statusview

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/rollout"
)

// Secret states of a namespace.
const (
	// Synced: the policy's Secret is there with the digest it should hold.
	Synced = "Synced"
	// Outdated: the policy's Secret is there with another digest (being
	// written, or a stage not reached yet holds the previous one).
	Outdated = "Outdated"
	// Missing: targeted, no Secret yet and no issue reported.
	Missing = "Missing"
	// Stale: the Secret is there but the namespace is no longer targeted;
	// the operator prunes it.
	Stale = "Stale"
	// Conflicted: a Secret of that name exists and is not the operator's.
	Conflicted = "Conflicted"
	// Failed: the API server refused the write.
	Failed = "Failed"
)

// namespacesSection is one row per namespace the policy is about: the
// targeted ones, the ones holding its Secret, and the ones with an issue.
func namespacesSection(pe *policyEnv) (Section, error) {
	p := pe.policy
	counts := p.Status.Namespaces
	s := Section{
		Title: "Namespaces",
		Summary: fmt.Sprintf("%d/%d synced, %d conflicted, %d failed (status); %d targeted now",
			counts.Synced, counts.Targeted, counts.Conflicted, counts.Failed, len(pe.selection.Targeted)),
		Header: []string{"NAMESPACE", "SECRET"},
	}
	stageOf, err := stages(pe)
	if err != nil {
		return s, err
	}
	staged := stageOf != nil
	if staged {
		s.Header = append(s.Header, "STAGE")
	}
	s.Header = append(s.Header, "ISSUE")
	if pe.wide {
		s.Header = append(s.Header, "DIGEST")
	}

	issues := map[string]v1alpha1.NamespaceIssue{}
	names := map[string]bool{}
	for _, is := range p.Status.NamespaceIssues {
		issues[is.Namespace] = is
		names[is.Namespace] = true
	}
	for _, n := range pe.selection.Targeted {
		names[n] = true
	}
	for n := range pe.secrets {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)

	for _, ns := range sorted {
		secret := pe.secrets[ns]
		want := p.Status.TrustDigest
		if st := stageStatus(p, stageOf[ns]); st != nil && st.Digest != "" {
			want = st.Digest
		}
		row := []string{ns, secretState(secret, pe.targeted[ns], want, issues[ns])}
		if staged {
			row = append(row, stageOf[ns])
		}
		issue := ""
		if is, ok := issues[ns]; ok {
			issue = is.Reason
			s.Notes = append(s.Notes, fmt.Sprintf("%s: %s: %s", ns, is.Reason, is.Message))
		}
		row = append(row, issue)
		if pe.wide {
			digest := ""
			if secret != nil {
				digest = secret.Annotations[v1alpha1.TrustDigestAnnotation]
			}
			row = append(row, digest)
		}
		s.Rows = append(s.Rows, row)
	}
	if len(sorted) == 0 {
		s.Summary = "no namespace is targeted"
	}
	return s, nil
}

func secretState(secret *corev1.Secret, targeted bool, want string, issue v1alpha1.NamespaceIssue) string {
	switch issue.Reason {
	case v1alpha1.ReasonSecretConflict:
		return Conflicted
	case v1alpha1.ReasonWriteFailed, v1alpha1.ReasonSyncFailed:
		return Failed
	}
	switch {
	case secret == nil && targeted:
		return Missing
	case secret == nil:
		return "-"
	case !targeted:
		return Stale
	case secret.Annotations[v1alpha1.TrustDigestAnnotation] == want:
		return Synced
	default:
		return Outdated
	}
}

// stages maps each targeted namespace to its rollout stage, nil when the
// rollout is not staged.
func stages(pe *policyEnv) (map[string]string, error) {
	spec := pe.policy.Spec.Rollout
	if spec.Strategy != v1alpha1.RolloutStaged {
		return nil, nil
	}
	var targeted []corev1.Namespace
	for _, ns := range pe.namespaces {
		if pe.targeted[ns.Name] {
			targeted = append(targeted, ns)
		}
	}
	assigned, err := rollout.Assign(spec, targeted)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, st := range assigned {
		for _, n := range st.Namespaces {
			out[n] = st.Name
		}
	}
	return out, nil
}

func stageStatus(p *v1alpha1.VerificationPolicy, name string) *v1alpha1.RolloutStageStatus {
	if p.Status.Rollout == nil || name == "" {
		return nil
	}
	for i := range p.Status.Rollout.Stages {
		if p.Status.Rollout.Stages[i].Name == name {
			return &p.Status.Rollout.Stages[i]
		}
	}
	return nil
}
