package statusview

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

// artifactKind is one kind of Flux object a policy governs, shown as one
// section: the counts its share of the status holds and a row per governed
// object. A kind the operator learns to govern is one more entry in
// artifactKinds; the rest of the screen does not change.
type artifactKind struct {
	kind   checker.Kind
	counts func(*v1alpha1.VerificationPolicyStatus) v1alpha1.ArtifactCounts
}

var artifactKinds = []artifactKind{
	{checker.OCIRepository, func(s *v1alpha1.VerificationPolicyStatus) v1alpha1.ArtifactCounts { return s.OCIRepositories }},
	{checker.HelmChart, func(s *v1alpha1.VerificationPolicyStatus) v1alpha1.ArtifactCounts { return s.HelmCharts }},
}

// Verdicts of the operator on a governed artifact, as the status tells it.
const (
	Verified = string(checker.Verified)
	Pending  = string(checker.Pending)
	// Unknown: the status lists only the first issues, and this artifact
	// may be among the ones left out.
	Unknown = "Unknown"
)

// section is the kind's section, from its counts and status.artifactIssues.
func (k artifactKind) section(ctx context.Context, pe *policyEnv) (Section, error) {
	p := pe.policy
	c := k.counts(&p.Status)
	s := Section{
		Title: k.kind.Plural(),
		Summary: fmt.Sprintf("%d matched, %d verified, %d failed, %d pending; Flux: %d verified, %d stale, %d re-verifications forced and not answered yet (status)",
			c.Matched, c.Verified, c.Failed, c.Pending, c.FluxVerified, c.FluxStale, c.ForcesInFlight),
		Header: []string{"NAMESPACE", "NAME", "VERDICT", "REASON", "FLUX", "FRESHNESS"},
	}
	if pe.wide {
		s.Header = append(s.Header, "REVISION")
	}
	if !pe.served(k.kind) {
		s.Summary = fmt.Sprintf("the %s API is not served (Flux's source CRDs are not installed)", k.kind)
		return s, nil
	}
	chk := &checker.Checker{Client: pe.c, Served: func(kind checker.Kind) bool { return kind == k.kind }}
	governed, err := chk.Governed(ctx, p, func() (map[string]bool, error) { return pe.targeted, nil })
	if err != nil {
		return s, err
	}
	var issues []v1alpha1.ArtifactIssue
	for _, is := range p.Status.ArtifactIssues {
		if is.Kind == string(k.kind) {
			issues = append(issues, is)
		}
	}
	verdicts := newIssueVerdicts(c.Failed, c.Pending, c.Matched, issues)
	for _, a := range governed {
		verdict, reason := verdicts.of(a.Namespace(), a.Name())
		digest := ""
		if sec := pe.secrets[a.Namespace()]; sec != nil {
			digest = sec.Annotations[v1alpha1.TrustDigestAnnotation]
		}
		flux, fresh := fluxVerdict(fluxverdict.Read(a.Flux, p.Status.FluxFingerprint, digest))
		row := []string{a.Namespace(), a.Name(), verdict, reason, flux, fresh}
		if pe.wide {
			row = append(row, a.Revision())
		}
		s.Rows = append(s.Rows, row)
	}
	if len(governed) == 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("no %s in the targeted namespaces verifies with Secret %s", k.kind, p.SecretName()))
	}
	return s, nil
}

// fluxVerdict is Flux's SourceVerified condition and whether it is known
// to come from the trust configuration in place (fresh), known not to
// (stale), or neither (the operator never had to ask Flux).
func fluxVerdict(v fluxverdict.View) (verdict, freshness string) {
	if v.Condition == nil {
		return "", ""
	}
	switch v.Condition.Status {
	case metav1.ConditionTrue:
		verdict = string(verify.Verified)
	case metav1.ConditionFalse:
		verdict = string(verify.Failed)
	default:
		verdict = string(v.Condition.Status)
	}
	switch {
	case v.Verified:
		freshness = "fresh"
	case v.Stale:
		freshness = "stale"
	}
	return verdict, freshness
}

// issueVerdicts reads the operator's verdicts from an artifact kind's
// counts and issues: the status lists the artifacts that fail or are
// pending (the first 20), and counts the rest as verified.
type issueVerdicts struct {
	failed, pending, matched int32
	issues                   map[string]string
	// complete: every failed or pending artifact is listed.
	complete bool
}

// pendingReasons are the issue reasons of artifacts whose verdict is not
// known yet; every other reason is a failure. Needed only when the status
// counts both failed and pending artifacts.
var pendingReasons = map[string]bool{
	verify.ReasonRegistryUnreachable:  true,
	verify.ReasonCanceled:             true,
	v1alpha1.ReasonTrustSecretMissing: true,
	v1alpha1.ReasonArtifactsPending:   true,
	v1alpha1.ReasonDelegatedToFlux:    true,
}

func newIssueVerdicts(failed, pending, matched int32, issues []v1alpha1.ArtifactIssue) issueVerdicts {
	iv := issueVerdicts{failed: failed, pending: pending, matched: matched, issues: map[string]string{}}
	for _, is := range issues {
		if is.Reason == v1alpha1.ReasonFluxStale {
			continue // about Flux's verdict, not the operator's
		}
		iv.issues[is.Namespace+"/"+is.Name] = is.Reason
	}
	iv.complete = int32(len(iv.issues)) >= failed+pending
	return iv
}

func (iv issueVerdicts) of(namespace, name string) (verdict, reason string) {
	reason, listed := iv.issues[namespace+"/"+name]
	switch {
	case listed && (iv.pending == 0 || (iv.failed > 0 && !pendingReasons[reason])):
		return string(checker.Failed), reason
	case listed:
		return Pending, reason
	case iv.matched == 0:
		return Pending, "not checked yet"
	case !iv.complete:
		return Unknown, "not among the issues listed"
	default:
		return Verified, ""
	}
}
