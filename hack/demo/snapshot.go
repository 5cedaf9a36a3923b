package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// snapshot is what one row of the table shows: the policy's status and the
// trust digest of its Secret in each namespace.
type snapshot struct {
	handled   bool   // status.observedGeneration is the current generation
	ready     string // status of the Ready condition; "" before the first reconcile
	summary   string // synced/targeted namespaces
	digest    string // status.trustDigest
	secrets   map[string]string
	artifacts bool   // the companion reconciler has reported (ArtifactsVerified is set)
	verdicts  string // ArtifactsVerified's status, reason and message
	counts    v1alpha1.OCIRepositoryCounts
	issues    map[string]v1alpha1.OCIRepositoryIssue // by namespace
}

// verdict is the team's OCIRepository outcome once nothing is pending.
func (s snapshot) verdict(team string) string {
	if issue, ok := s.issues[team]; ok {
		return "Failed (" + issue.Reason + ")"
	}
	return "Verified"
}

// readSnapshot reads the policy and its Secrets from the API server.
func readSnapshot(ctx context.Context, c client.Client, policy string) (snapshot, error) {
	snap := snapshot{secrets: map[string]string{}, issues: map[string]v1alpha1.OCIRepositoryIssue{}}
	p := &v1alpha1.VerificationPolicy{}
	if err := c.Get(ctx, client.ObjectKey{Name: policy}, p); err != nil {
		return snap, err
	}
	snap.handled = p.Status.ObservedGeneration == p.Generation
	if ready := apimeta.FindStatusCondition(p.Status.Conditions, meta.ReadyCondition); ready != nil {
		snap.ready = string(ready.Status)
	}
	snap.summary = p.Status.Namespaces.Summary
	snap.digest = p.Status.TrustDigest
	if c := apimeta.FindStatusCondition(p.Status.Conditions, v1alpha1.ArtifactsVerifiedCondition); c != nil {
		snap.artifacts = true
		snap.verdicts = fmt.Sprintf("%s=%s, %s: %s", c.Type, c.Status, c.Reason, c.Message)
	}
	snap.counts = p.Status.OCIRepositories
	for _, issue := range p.Status.OCIRepositoryIssues {
		snap.issues[issue.Namespace] = issue
	}

	var secrets corev1.SecretList
	if err := c.List(ctx, &secrets, client.MatchingLabels{v1alpha1.PolicyLabel: policy}); err != nil {
		return snap, err
	}
	for _, s := range secrets.Items {
		snap.secrets[s.Namespace] = s.Annotations[v1alpha1.TrustDigestAnnotation]
	}
	return snap, nil
}

// mark is the namespace's OCIRepository verdict as the policy reports it,
// which may still be the verdict against the previous trust digest: "✓"
// verified, "✗" failed, "…" while any verification is pending, and nothing
// where no OCIRepository is governed.
func (s snapshot) mark(ns string) string {
	switch {
	case !s.artifacts || s.counts.Matched == 0 || !slices.Contains(teams, ns):
		return ""
	case s.counts.Pending > 0:
		return "…"
	case s.verdict(ns) == "Verified":
		return "✓"
	default:
		return "✗"
	}
}
