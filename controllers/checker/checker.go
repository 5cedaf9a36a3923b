// Package checker finds the Flux OCIRepositories a VerificationPolicy
// governs and tells, for each, whether its artifact verifies with given
// trust data: the operator's own verdict (package verify) next to Flux's
// (package ocirepos). The artifact reconciler checks against the Secrets in
// place; the rollout gates against a configuration not yet written.
package checker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
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

// Outcome is everything known about one governed OCIRepository.
type Outcome struct {
	Repo  *ocirepos.Repository
	Flux  ocirepos.FluxView
	State State
	// Reason and Message explain a Failed or Pending state.
	Reason, Message string
	// Ours is the operator's own verification, when it ran.
	Ours *verify.Result
}

// Key names the OCIRepository, "<namespace>/<name>".
func (o Outcome) Key() string { return Key(o.Repo) }

// Key names an OCIRepository, "<namespace>/<name>".
func Key(r *ocirepos.Repository) string { return r.Namespace + "/" + r.Name }

// Checker finds and checks governed OCIRepositories.
type Checker struct {
	// Client reads OCIRepositories from the manager's cache.
	Client client.Reader
	// APIReader reads registry credentials uncached: they are not ours.
	APIReader client.Reader
	Verifier  *verify.Verifier
}

// Governed returns the policy's OCIRepositories in the targeted namespaces,
// sorted by namespace and name. targeted is asked only when there is an
// OCIRepository at all: on a cluster without any, working out the targeted
// namespaces is most of the cost.
func (c *Checker) Governed(ctx context.Context, obj *v1alpha1.VerificationPolicy, targetedNamespaces func() (map[string]bool, error)) ([]*ocirepos.Repository, error) {
	list := ocirepos.NewList()
	if err := c.Client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing OCIRepositories: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	targeted, err := targetedNamespaces()
	if err != nil {
		return nil, err
	}
	var selector labels.Selector
	if s := obj.Spec.OCIRepositories.Selector; s != nil {
		if selector, err = metav1.LabelSelectorAsSelector(s); err != nil {
			return nil, fmt.Errorf("ociRepositories.selector: %w", err)
		}
	}
	var repos []*ocirepos.Repository
	for i := range list.Items {
		repo, err := ocirepos.FromUnstructured(&list.Items[i])
		if err != nil {
			log.FromContext(ctx).Error(err, "skipping an OCIRepository that does not decode")
			continue
		}
		if ocirepos.Governs(obj, selector, targeted, repo) {
			repos = append(repos, repo)
		}
	}
	sort.Slice(repos, func(i, j int) bool { return Key(repos[i]) < Key(repos[j]) })
	return repos, nil
}

// TrustFor returns the trust Secret data a namespace's OCIRepositories are
// (or would be) verified with, and its digest; ok is false when there is
// none yet.
type TrustFor func(namespace string) (data map[string][]byte, digest string, ok bool)

// InPlace is the trust in place today: each namespace's generated Secret,
// when there is one.
func InPlace(secrets map[string]*corev1.Secret) TrustFor {
	return func(ns string) (map[string][]byte, string, bool) {
		s := secrets[ns]
		if s == nil {
			return nil, "", false
		}
		return s.Data, s.Annotations[v1alpha1.TrustDigestAnnotation], true
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
	// Fresh, if set, says which repositories to verify afresh, whatever
	// the cache holds.
	Fresh func(*ocirepos.Repository) bool
}

// Check verifies every repository against the trust data trust gives
// (operator-side when enabled; from Flux's report otherwise and for cloud
// providers) and reads Flux's view of each. Outcomes are in repos' order.
func (c *Checker) Check(ctx context.Context, obj *v1alpha1.VerificationPolicy, repos []*ocirepos.Repository, trust TrustFor, o Options) []Outcome {
	out := make([]Outcome, len(repos))
	var (
		reqs []verify.Request
		idx  []int
	)
	for i, repo := range repos {
		oc := &out[i]
		oc.Repo = repo
		data, digest, ok := trust(repo.Namespace)
		oc.Flux = ocirepos.ReadFlux(repo, obj.Status.FluxFingerprint, ocirepos.LastRequest(repo, digest))
		switch {
		case !ok:
			oc.State, oc.Reason = Pending, v1alpha1.ReasonTrustSecretMissing
			oc.Message = fmt.Sprintf("Secret %s/%s is not synced by this policy yet", repo.Namespace, obj.SecretName())
		case !o.Enabled || isCloudProvider(repo.Spec.Provider):
			oc.fromFlux(o.Enabled)
		default:
			access, err := ocirepos.ReadAccess(ctx, c.APIReader, repo)
			if err != nil {
				oc.State, oc.Reason, oc.Message = Pending, v1alpha1.ReasonRegistryAccess, err.Error()
				var accessErr *ocirepos.AccessError
				if errors.As(err, &accessErr) {
					oc.State = Failed
				}
				continue
			}
			reqs = append(reqs, verify.Request{
				URL:         repo.Spec.URL,
				Ref:         reference(repo),
				Revision:    revision(repo),
				Access:      verify.Access(access),
				TrustData:   data,
				TrustDigest: digest,
				NoCache:     o.Fresh != nil && o.Fresh(repo),
			})
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

// fromFlux fills an outcome from Flux's report alone: for cloud registries,
// whose workload identity only source-controller has, or when operator-side
// verification is disabled.
func (o *Outcome) fromFlux(enabled bool) {
	c := o.Flux.Condition
	switch {
	case o.Flux.Verified:
		o.State = Verified
	case c != nil && c.Status == metav1.ConditionFalse:
		o.State, o.Reason, o.Message = Failed, v1alpha1.ReasonFluxFailed, c.Message
	default:
		o.State, o.Reason = Pending, v1alpha1.ReasonArtifactsPending
		o.Message = "waiting for Flux to verify with the current trust configuration"
	}
	if enabled && o.State != Failed {
		o.Reason = v1alpha1.ReasonDelegatedToFlux
		o.Message = fmt.Sprintf("verification delegated to Flux: provider %q uses workload identity only source-controller has", o.Repo.Spec.Provider)
	}
}

func reference(repo *ocirepos.Repository) verify.Reference {
	if repo.Spec.Reference == nil {
		return verify.Reference{}
	}
	ref := repo.Spec.Reference
	return verify.Reference{Digest: ref.Digest, SemVer: ref.SemVer, SemverFilter: ref.SemverFilter, Tag: ref.Tag}
}

func revision(repo *ocirepos.Repository) string {
	if repo.Status.Artifact == nil {
		return ""
	}
	return repo.Status.Artifact.Revision
}

func isCloudProvider(p string) bool {
	return p == "aws" || p == "azure" || p == "gcp"
}

// CacheTTL is how long a verdict of the policy's artifacts may be reused:
// spec.ociRepositories.interval, 10 minutes by default.
func CacheTTL(obj *v1alpha1.VerificationPolicy) time.Duration {
	if i := obj.Spec.OCIRepositories.Interval; i != nil && i.Duration > 0 {
		return i.Duration
	}
	return 10 * time.Minute
}
