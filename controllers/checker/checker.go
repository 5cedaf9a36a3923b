package checker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/controllers/helmcharts"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

// State is the verdict on one governed artifact.
type State string

const (
	// Verified: it verifies (or the trust policy ignores it, as Flux does).
	Verified State = "Verified"
	// Failed: it does not verify, or cannot be checked until the user fixes
	// its access settings.
	Failed State = "Failed"
	// Pending: not known yet (not checked, the registry did not answer, or
	// the Secret is not synced).
	Pending State = "Pending"
)

// Outcome is everything known about one governed artifact.
type Outcome struct {
	Artifact *Artifact
	Flux     fluxverdict.View
	State    State
	// Reason and Message explain a Failed or Pending state.
	Reason, Message string
	// Ours is the operator's own verification, when it ran.
	Ours *verify.Result
	// FluxOnly: the outcome is Flux's verdict alone (verification disabled
	// or delegated, registry credentials not readable).
	FluxOnly bool
}

// Checker finds and checks governed artifacts.
type Checker struct {
	// Client reads Flux objects from the manager's cache.
	Client client.Reader
	// APIReader reads registry credentials uncached: they are not ours.
	APIReader client.Reader
	Verifier  *verify.Verifier
	// Served says whether a kind's API is served (package discovery);
	// kinds not served govern nothing.
	Served func(Kind) bool
}

// Governed returns the policy's artifacts in the targeted namespaces, of
// every kind served, sorted by kind, namespace and name. targeted is asked
// only when there is a candidate at all: on a cluster without any, working
// out the targeted namespaces is most of the cost.
func (c *Checker) Governed(ctx context.Context, obj *v1alpha1.VerificationPolicy, targetedNamespaces func() (map[string]bool, error)) ([]*Artifact, error) {
	var candidates []*Artifact
	if c.Served(OCIRepository) {
		found, err := c.ociRepositories(ctx, obj)
		if err != nil {
			return nil, err
		}
		candidates = append(candidates, found...)
	}
	if c.Served(HelmChart) {
		found, err := c.helmCharts(ctx, obj)
		if err != nil {
			return nil, err
		}
		candidates = append(candidates, found...)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	targeted, err := targetedNamespaces()
	if err != nil {
		return nil, err
	}
	selectors := map[Kind]labels.Selector{}
	for kind, s := range map[Kind]*metav1.LabelSelector{OCIRepository: obj.Spec.OCIRepositories.Selector, HelmChart: obj.Spec.HelmCharts.Selector} {
		if s == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			return nil, fmt.Errorf("%s.selector: %w", map[Kind]string{OCIRepository: "ociRepositories", HelmChart: "helmCharts"}[kind], err)
		}
		selectors[kind] = sel
	}
	var governed []*Artifact
	for _, a := range candidates {
		sel := selectors[a.Kind]
		if targeted[a.Namespace()] && (sel == nil || sel.Matches(labels.Set(a.Labels()))) {
			governed = append(governed, a)
		}
	}
	sort.Slice(governed, func(i, j int) bool { return governed[i].ID() < governed[j].ID() })
	return governed, nil
}

// ociRepositories returns the OCIRepositories that verify with Notation
// using the policy's Secret name.
func (c *Checker) ociRepositories(ctx context.Context, obj *v1alpha1.VerificationPolicy) ([]*Artifact, error) {
	list := ocirepos.NewList()
	if err := c.Client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing OCIRepositories: %w", err)
	}
	var out []*Artifact
	for i := range list.Items {
		u := &list.Items[i]
		repo, err := ocirepos.FromUnstructured(u)
		if err != nil {
			log.FromContext(ctx).Error(err, "skipping an OCIRepository that does not decode")
			continue
		}
		if ocirepos.UsesSecretName(repo, obj.SecretName()) {
			out = append(out, fromRepository(u, repo))
		}
	}
	return out, nil
}

// helmCharts returns the HelmCharts from an OCI HelmRepository that verify
// with Notation using the policy's Secret name.
func (c *Checker) helmCharts(ctx context.Context, obj *v1alpha1.VerificationPolicy) ([]*Artifact, error) {
	list := helmcharts.NewList()
	if err := c.Client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing HelmCharts: %w", err)
	}
	var charts []*helmcharts.Chart
	var objects []*unstructured.Unstructured
	for i := range list.Items {
		chart, err := helmcharts.FromUnstructured(&list.Items[i])
		if err != nil {
			log.FromContext(ctx).Error(err, "skipping a HelmChart that does not decode")
			continue
		}
		if helmcharts.UsesSecretName(chart, obj.SecretName()) && helmcharts.RepositoryName(chart) != "" {
			charts, objects = append(charts, chart), append(objects, &list.Items[i])
		}
	}
	if len(charts) == 0 {
		return nil, nil
	}
	repos := helmcharts.NewRepositoryList()
	if err := c.Client.List(ctx, repos); err != nil {
		return nil, fmt.Errorf("listing HelmRepositories: %w", err)
	}
	byKey := map[string]*sourcev1.HelmRepository{}
	for i := range repos.Items {
		r, err := helmcharts.RepositoryFromUnstructured(&repos.Items[i])
		if err != nil {
			log.FromContext(ctx).Error(err, "skipping a HelmRepository that does not decode")
			continue
		}
		byKey[r.Namespace+"/"+r.Name] = r
	}
	var out []*Artifact
	for i, chart := range charts {
		repo := byKey[chart.Namespace+"/"+helmcharts.RepositoryName(chart)]
		if repo != nil && repo.Spec.Type == sourcev1.HelmRepositoryTypeOCI {
			out = append(out, fromChart(objects[i], chart, repo))
		}
	}
	return out, nil
}

// TrustFor returns the trust Secret data a namespace's OCIRepositories are
// (or would be) verified with, and its digest; ok is false when there is
// none yet.
type TrustFor func(namespace string) (data map[string][]byte, digest string, ok bool)

// InPlace is the trust in place today: each namespace's generated Secret,
// when there is one, its data from contents (by digest; read from the API
// server when the metadata cannot vouch for it). A Secret that cannot be
// read counts as not there yet, and is logged.
func InPlace(ctx context.Context, contents *targets.Contents, secrets map[string]*metav1.PartialObjectMetadata) TrustFor {
	return func(ns string) (map[string][]byte, string, bool) {
		m := secrets[ns]
		if m == nil {
			return nil, "", false
		}
		data, digest, err := contents.Of(ctx, m)
		if err != nil {
			log.FromContext(ctx).Error(err, "reading the trust data in place", "namespace", ns, "secret", m.Name)
			return nil, "", false
		}
		return data, digest, true
	}
}

// Rendered is the same configuration for every namespace: one not yet
// written.
func Rendered(rendered *trustconfig.Result) TrustFor {
	return func(string) (map[string][]byte, string, bool) {
		return rendered.Data, rendered.TrustDigest, true
	}
}

// Options say how to check.
type Options struct {
	// Enabled runs the operator's own verification; without it, Flux's
	// report is all there is.
	Enabled bool
	// MaxAge is how old a cached verdict may be (verify.Verifier.Verify).
	MaxAge time.Duration
	// Fresh, if set, says which artifacts to verify afresh, whatever the
	// cache holds.
	Fresh func(*Artifact) bool
}

// Check verifies every artifact against the trust data trust gives
// (operator-side when enabled; from Flux's report otherwise and for cloud
// providers) and reads Flux's view of each. Outcomes are in artifacts'
// order.
func (c *Checker) Check(ctx context.Context, obj *v1alpha1.VerificationPolicy, artifacts []*Artifact, trust TrustFor, o Options) []Outcome {
	out := make([]Outcome, len(artifacts))
	var (
		reqs []verify.Request
		idx  []int
	)
	for i, a := range artifacts {
		oc := &out[i]
		oc.Artifact = a
		data, digest, ok := trust(a.Namespace())
		oc.Flux = fluxverdict.Read(a.Flux, obj.Status.FluxFingerprint, digest)
		switch {
		case !ok:
			oc.State, oc.Reason = Pending, v1alpha1.ReasonTrustSecretMissing
			oc.Message = fmt.Sprintf("Secret %s/%s is not synced by this policy yet", a.Namespace(), obj.SecretName())
		case !o.Enabled:
			oc.fromFlux("", "")
		case a.Provider != "":
			oc.fromFlux(v1alpha1.ReasonDelegatedToFlux, fmt.Sprintf(
				"verification delegated to Flux: provider %q uses workload identity only source-controller has", a.Provider))
		default:
			req, err := a.request(ctx, c.APIReader)
			if apierrors.IsForbidden(err) {
				// The install did not grant reading registry credentials
				// (least privilege by default): Flux, which has them,
				// decides, and the policy does not fail for our blindness.
				oc.fromFlux(v1alpha1.ReasonRegistryCredentialsNotPermitted, fmt.Sprintf(
					"Flux's verdict is used: the operator may not read this artifact's registry credentials "+
						"(bind ClusterRole %s to let it verify them itself): %s", RegistryCredentialsClusterRole, text.Truncate(err.Error(), 300)))
				continue
			}
			if err != nil {
				oc.State, oc.Reason, oc.Message = Pending, v1alpha1.ReasonRegistryAccess, err.Error()
				var settings *verify.SettingsError
				if errors.As(err, &settings) {
					oc.State = Failed
				}
				continue
			}
			req.TrustData, req.TrustDigest = data, digest
			req.NoCache = o.Fresh != nil && o.Fresh(a)
			req.Kind = string(a.Kind)
			reqs = append(reqs, req)
			idx = append(idx, i)
		}
	}
	if len(reqs) > 0 {
		results := c.Verifier.VerifyAll(ctx, reqs, o.MaxAge)
		for j, res := range results {
			oc := &out[idx[j]]
			oc.Ours = &results[j]
			switch res.Outcome {
			case verify.Verified, verify.Ignored:
				oc.State = Verified
			case verify.Failed:
				oc.State = Failed
			default:
				oc.State = Pending
			}
			oc.Reason, oc.Message = res.Reason, res.Message
		}
	}
	return out
}

// fromFlux fills an outcome from Flux's report alone: when operator-side
// verification is disabled, or, with a reason saying why, for artifacts
// the operator cannot verify itself (a cloud identity only source-controller
// has, registry credentials it may not read). A failure keeps Flux's reason.
func (o *Outcome) fromFlux(reason, message string) {
	o.FluxOnly = true
	c := o.Flux.Condition
	switch {
	case o.Flux.Verified:
		o.State = Verified
	case c != nil && c.Status == metav1.ConditionFalse:
		o.State, o.Reason, o.Message = Failed, v1alpha1.ReasonFluxFailed, c.Message
		return
	default:
		o.State, o.Reason = Pending, v1alpha1.ReasonArtifactsPending
		o.Message = "waiting for Flux to verify with the current trust configuration"
	}
	if reason != "" {
		o.Reason, o.Message = reason, message
	}
}

// RegistryCredentialsClusterRole is the optional ClusterRole
// (config/components/registry-credentials) that lets the operator read
// registry credentials in any namespace, to verify private artifacts itself.
const RegistryCredentialsClusterRole = "verification-operator-registry-credentials"

// CacheTTL is how long a verdict of the policy's artifacts may be reused:
// spec.ociRepositories.interval, 10 minutes by default.
func CacheTTL(obj *v1alpha1.VerificationPolicy) time.Duration {
	if i := obj.Spec.OCIRepositories.Interval; i != nil && i.Duration > 0 {
		return i.Duration
	}
	return 10 * time.Minute
}
