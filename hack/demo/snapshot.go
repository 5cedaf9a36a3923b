package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/controllers/helmcharts"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
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
	counts    v1alpha1.ArtifactCounts
	issues    map[string]v1alpha1.ArtifactIssue // by namespace
	flux      map[string]fluxVerdict            // Flux's own report, by namespace
}

// fluxVerdict is what Flux's source-controller reports on a team's
// OCIRepository, judged the way the operator judges it.
type fluxVerdict struct {
	exists    bool
	condition *metav1.Condition // SourceVerified
	view      fluxverdict.View
	// settled: Flux has verified, and has handled the operator's last
	// reconcile request, if there was one for the current digest.
	settled bool
}

// String is Flux's verdict in words: Verified, Failed, none yet; and
// whether the operator shows it is stale.
func (f fluxVerdict) String() string {
	out := "none yet"
	switch {
	case f.condition == nil:
	case f.condition.Status == metav1.ConditionTrue:
		out = "Verified"
	default:
		out = "Failed"
	}
	if f.view.Stale {
		out += " (stale)"
	}
	return out
}

// mark is "✓", "✗" or "…" (no verdict yet), and " stale" when the verdict
// predates the trust configuration in place.
func (f fluxVerdict) mark() string {
	m := "…"
	switch {
	case f.condition == nil:
	case f.condition.Status == metav1.ConditionTrue:
		m = "✓"
	default:
		m = "✗"
	}
	if f.view.Stale {
		m += " stale"
	}
	return m
}

// verdict is the team's OCIRepository outcome once nothing is pending.
func (s snapshot) verdict(team string) string {
	issue, ok := s.issues[team]
	switch {
	case !ok:
		return "Verified"
	case issue.Reason == v1alpha1.ReasonFluxStale, issue.Reason == v1alpha1.ReasonFluxReverifyFailed,
		issue.Reason == v1alpha1.ReasonRegistryCredentialsNotPermitted:
		// Listed for what Flux reports, about an artifact the policy counts
		// as verified.
		return "Verified"
	}
	return "Failed (" + issue.Reason + ")"
}

// readSnapshot reads the policy and its Secrets from the API server.
func readSnapshot(ctx context.Context, c client.Client, policy string) (snapshot, error) {
	snap := snapshot{secrets: map[string]string{}, issues: map[string]v1alpha1.ArtifactIssue{}, flux: map[string]fluxVerdict{}}
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
	snap.counts = p.Status.Artifacts
	for _, issue := range p.Status.ArtifactIssues {
		snap.issues[issue.Namespace] = issue
	}

	var secrets corev1.SecretList
	if err := c.List(ctx, &secrets, client.MatchingLabels{v1alpha1.PolicyLabel: policy}); err != nil {
		return snap, err
	}
	for _, s := range secrets.Items {
		snap.secrets[s.Namespace] = s.Annotations[v1alpha1.TrustDigestAnnotation]
	}
	for _, team := range teams {
		src, handled, err := readFluxObject(ctx, c, team)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return snap, err
		}
		req := fluxverdict.LastRequest(src, snap.secrets[team])
		view := fluxverdict.Read(src, p.Status.FluxFingerprint, snap.secrets[team])
		snap.flux[team] = fluxVerdict{
			exists:    true,
			condition: view.Condition,
			view:      view,
			// Settled once the operator acted on the Secret's digest (it
			// waits for the second after a change), Flux handled what it
			// was asked, and its verdict is not one to force again.
			settled: view.Condition != nil && src.Annotations[fluxverdict.ReverifiedDigestAnnotation] == snap.secrets[team] &&
				(req.At.IsZero() || handled == req.Token) && !view.Stale,
		}
	}
	return snap, nil
}

// mark is the namespace's OCIRepository verdict as the policy reports it,
// which may still be the verdict against the previous trust digest, then
// Flux's own: "✓" verified, "✗" failed, "…" while pending, and nothing
// where there is no OCIRepository.
func (s snapshot) mark(ns string) string {
	f, ok := s.flux[ns]
	if !ok || !slices.Contains(teams, ns) {
		return ""
	}
	ours := "…"
	switch {
	case !s.artifacts || int(s.counts.Matched) < len(s.flux) || s.counts.Pending > 0:
		// Not every OCIRepository has a verdict of the policy's yet.
	case s.verdict(ns) == "Verified":
		ours = "✓"
	default:
		ours = "✗"
	}
	return ours + "/" + f.mark()
}

// kindOf is the kind of Flux object the team deploys with.
func kindOf(team string) string {
	if team == chartTeam {
		return "HelmChart"
	}
	return "OCIRepository"
}

// readFluxObject reads the team's OCIRepository or HelmChart "app" as
// fluxverdict sees it, and its status.lastHandledReconcileAt.
func readFluxObject(ctx context.Context, c client.Client, team string) (fluxverdict.Source, string, error) {
	key := client.ObjectKey{Namespace: team, Name: ociRepositoryName}
	if team == chartTeam {
		u := helmcharts.New()
		if err := c.Get(ctx, key, u); err != nil {
			return fluxverdict.Source{}, "", err
		}
		chart, err := helmcharts.FromUnstructured(u)
		if err != nil {
			return fluxverdict.Source{}, "", err
		}
		return chart.Flux(), chart.Status.LastHandledReconcileAt, nil
	}
	u := ocirepos.New()
	if err := c.Get(ctx, key, u); err != nil {
		return fluxverdict.Source{}, "", err
	}
	repo, err := ocirepos.FromUnstructured(u)
	if err != nil {
		return fluxverdict.Source{}, "", err
	}
	return repo.Flux(), repo.Status.LastHandledReconcileAt, nil
}
