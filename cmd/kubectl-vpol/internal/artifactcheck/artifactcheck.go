// Package artifactcheck verifies artifacts against a rendered trust
// configuration with the operator's own verifier (controllers/verify:
// notation-go as Flux runs it, first PEM block per key, at most 3
// signatures, audit and skip ignored), so a CI job before the merge reaches
// the verdict the operator and Flux reach after it.
package artifactcheck

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

// Verdicts beyond verify's outcomes (Verified, Failed, Ignored,
// Unavailable), for OCIRepositories read from a cluster.
const (
	// Pending: the operator's checker could not tell (it says why).
	Pending = string(checker.Pending)
	// Delegated: the OCIRepository uses a cloud provider's workload
	// identity, which only source-controller has; nothing to check here.
	Delegated = "Delegated"
)

// Row is the verdict on one artifact.
type Row struct {
	// Artifact is the reference as given, or "<namespace>/<name>" of an
	// OCIRepository.
	Artifact string
	// URL and Ref are what was verified.
	URL, Ref string
	Verdict  string
	Reason   string
	Signer   string
	Digest   string
	Message  string
}

// Passed reports whether the row lets a CI check pass: verified, ignored
// by the trust policy (audit, skip), or delegated to Flux. A failure or an
// unanswered registry does not: nothing proves the artifact would verify.
func (r Row) Passed() bool {
	switch r.Verdict {
	case string(verify.Verified), string(verify.Ignored), Delegated:
		return true
	}
	return false
}

// Artifact is an --artifact reference, oci://REGISTRY/REPOSITORY:TAG or
// oci://REGISTRY/REPOSITORY@DIGEST.
type Artifact struct {
	Given string
	// URL is an OCIRepository spec.url: "oci://" + registry + repository.
	URL string
	Ref verify.Reference
}

// ParseArtifact splits an oci:// reference into an OCIRepository's URL and
// ref. Without a tag or digest the ref is Flux's default, latest.
func ParseArtifact(s string) (Artifact, error) {
	rest, ok := strings.CutPrefix(s, "oci://")
	if !ok || rest == "" {
		return Artifact{}, fmt.Errorf("artifact %q: want oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@DIGEST", s)
	}
	a := Artifact{Given: s}
	if repo, dgst, found := strings.Cut(rest, "@"); found {
		rest, a.Ref.Digest = repo, dgst
	}
	if slash := strings.LastIndex(rest, "/"); slash >= 0 {
		if colon := strings.LastIndex(rest[slash:], ":"); colon >= 0 {
			tag := rest[slash+colon+1:]
			rest = rest[:slash+colon]
			if a.Ref.Digest == "" {
				a.Ref.Tag = tag
			}
		}
	} else {
		return Artifact{}, fmt.Errorf("artifact %q: no repository after the registry", s)
	}
	a.URL = "oci://" + rest
	return a, nil
}

func (a Artifact) ref() string {
	switch {
	case a.Ref.Digest != "":
		return "@" + a.Ref.Digest
	case a.Ref.Tag != "":
		return ":" + a.Ref.Tag
	}
	return ":latest"
}

// Check verifies each artifact with the same access settings, as one
// OCIRepository with spec.insecure, a pull secret and a CA would be.
func Check(ctx context.Context, v *verify.Verifier, rendered *trustconfig.Result, artifacts []Artifact, access verify.Access) []Row {
	reqs := make([]verify.Request, len(artifacts))
	for i, a := range artifacts {
		reqs[i] = verify.Request{URL: a.URL, Ref: a.Ref, Access: access, TrustData: rendered.Data, TrustDigest: rendered.TrustDigest}
	}
	results := v.VerifyAll(ctx, reqs, 0)
	rows := make([]Row, len(artifacts))
	for i, res := range results {
		rows[i] = fromResult(artifacts[i].Given, artifacts[i].URL, artifacts[i].ref(), res)
	}
	return rows
}

func fromResult(name, url, ref string, res verify.Result) Row {
	return Row{Artifact: name, URL: url, Ref: ref, Verdict: string(res.Outcome), Reason: res.Reason,
		Signer: res.Signer, Digest: res.Digest, Message: res.Message}
}

// FromCluster verifies the artifacts the policy would govern in the
// cluster c reads from (OCIRepositories, HelmCharts from OCI
// HelmRepositories), as the operator's rollout preflight does: the same
// checker, each object's own access settings, and the rendered
// configuration instead of the one in place.
func FromCluster(ctx context.Context, c client.Reader, v *verify.Verifier, p *v1alpha1.VerificationPolicy, rendered *trustconfig.Result) ([]Row, error) {
	chk := &checker.Checker{Client: c, APIReader: c, Verifier: v, Served: checker.ServedIn(ctx, c)}
	repos, err := chk.Governed(ctx, p, func() (map[string]bool, error) {
		sel, _, err := targets.SelectNamespaces(ctx, c, p.Spec.Target)
		if err != nil {
			return nil, err
		}
		targeted := make(map[string]bool, len(sel.Targeted))
		for _, ns := range sel.Targeted {
			targeted[ns] = true
		}
		return targeted, nil
	})
	if err != nil {
		return nil, err
	}
	outcomes := chk.Check(ctx, p, repos, checker.Rendered(rendered), checker.Options{Enabled: true})
	rows := make([]Row, len(outcomes))
	for i, o := range outcomes {
		a := o.Artifact
		ref := a.Reference()
		refText := Artifact{Ref: ref}.ref()
		switch {
		case ref.Chart:
			refText = " version " + ref.ChartVersion
		case ref.SemVer != "":
			refText = " semver " + ref.SemVer
		}
		name := a.Key()
		if a.Kind != checker.OCIRepository {
			name = string(a.Kind) + " " + name
		}
		switch {
		case o.Ours != nil:
			rows[i] = fromResult(name, a.URL(), refText, *o.Ours)
		default:
			verdict := string(o.State)
			if o.Reason == v1alpha1.ReasonDelegatedToFlux {
				verdict = Delegated
			}
			rows[i] = Row{Artifact: name, URL: a.URL(), Ref: refText, Verdict: verdict, Reason: o.Reason, Message: o.Message}
		}
	}
	return rows, nil
}
