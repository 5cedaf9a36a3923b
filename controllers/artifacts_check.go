package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

// ArtifactChecker finds the OCIRepositories a policy governs and verifies
// them against given trust data. The companion reconciler uses it with the
// Secrets in place; the rollout gate with a configuration not yet written.
type ArtifactChecker struct {
	client.Client
	// APIReader reads registry credentials uncached: they are not ours.
	APIReader client.Reader
	Verifier  *verify.Verifier

	// apiServed is set once the OCIRepository API is discovered.
	apiServed atomic.Bool
}

// APIServed reports whether the OCIRepository API has been discovered.
func (r *ArtifactChecker) APIServed() bool { return r.apiServed.Load() }

// Governed returns the policy's OCIRepositories, sorted, and the policy's
// generated Secrets by namespace.
func (r *ArtifactChecker) Governed(ctx context.Context, obj *v1alpha1.VerificationPolicy) ([]*ocirepos.Repository, map[string]*corev1.Secret, error) {
	list := ocirepos.NewList()
	if err := r.List(ctx, list); err != nil {
		return nil, nil, fmt.Errorf("listing OCIRepositories: %w", err)
	}
	if len(list.Items) == 0 {
		// Nothing can be governed: skip reading namespaces and Secrets,
		// which on a large cluster is most of this reconciler's cost.
		return nil, map[string]*corev1.Secret{}, nil
	}
	// Namespaces and Secrets are only read here: take the cache's objects
	// without copying them.
	var nsList corev1.NamespaceList
	if err := r.List(ctx, &nsList, client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, fmt.Errorf("listing namespaces: %w", err)
	}
	sel, err := targets.Select(obj.Spec.Target, nsList.Items)
	if err != nil {
		return nil, nil, err
	}
	var repoSelector labels.Selector
	if s := obj.Spec.OCIRepositories.Selector; s != nil {
		if repoSelector, err = metav1.LabelSelectorAsSelector(s); err != nil {
			return nil, nil, fmt.Errorf("ociRepositories.selector: %w", err)
		}
	}
	targeted := toSet(sel.Targeted)
	var repos []*ocirepos.Repository
	for i := range list.Items {
		repo, err := ocirepos.FromUnstructured(&list.Items[i])
		if err != nil {
			log.FromContext(ctx).Error(err, "skipping an OCIRepository that does not decode")
			continue
		}
		if ocirepos.Governs(obj, repoSelector, targeted, repo) {
			repos = append(repos, repo)
		}
	}
	sort.Slice(repos, func(i, j int) bool { return key(repos[i]) < key(repos[j]) })

	secretList, err := listGeneratedSecrets(ctx, r.Client, obj.Name, client.UnsafeDisableDeepCopy)
	if err != nil {
		return nil, nil, err
	}
	secrets := map[string]*corev1.Secret{}
	for i := range secretList.Items {
		if s := &secretList.Items[i]; s.Name == obj.SecretName() && s.Labels[v1alpha1.RoleLabel] == "" {
			secrets[s.Namespace] = s
		}
	}
	return repos, secrets, nil
}

// outcome is everything known about one governed OCIRepository.
type outcome struct {
	repo   *ocirepos.Repository
	flux   ocirepos.FluxView
	state  string // verified | failed | pending
	reason string
	msg    string
	ours   *verify.Result
}

// TrustFor returns the trust Secret data a namespace's OCIRepositories are
// (or would be) verified with, and its digest; ok is false when there is
// none yet.
type TrustFor func(namespace string) (data map[string][]byte, digest string, ok bool)

// secretsTrust is the trust in place today: each namespace's generated
// Secret, when there is one.
func secretsTrust(secrets map[string]*corev1.Secret) TrustFor {
	return func(ns string) (map[string][]byte, string, bool) {
		s := secrets[ns]
		if s == nil {
			return nil, "", false
		}
		return s.Data, s.Annotations[v1alpha1.TrustDigestAnnotation], true
	}
}

// renderedTrust is the same configuration for every namespace: one not yet
// written.
func renderedTrust(rendered *trustconfig.Result) TrustFor {
	return func(string) (map[string][]byte, string, bool) {
		return rendered.Data, rendered.TrustDigest, true
	}
}

// listGeneratedSecrets lists the Secrets written for a policy, its rollout
// snapshot included (callers tell them apart by RoleLabel).
func listGeneratedSecrets(ctx context.Context, c client.Reader, policy string, opts ...client.ListOption) (*corev1.SecretList, error) {
	var list corev1.SecretList
	opts = append(opts, client.MatchingLabels{
		v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
		v1alpha1.PolicyLabel:    policy,
	})
	if err := c.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("listing generated Secrets: %w", err)
	}
	return &list, nil
}

// Check verifies every repository against the trust data TrustFor gives
// (operator-side when enabled; from Flux's report otherwise and for cloud
// providers) and reads Flux's view of each.
func (r *ArtifactChecker) Check(ctx context.Context, obj *v1alpha1.VerificationPolicy, repos []*ocirepos.Repository, trust TrustFor, enabled bool, maxAge time.Duration) []outcome {
	out := make([]outcome, len(repos))
	var (
		reqs []verify.Request
		idx  []int
	)
	for i, repo := range repos {
		o := &out[i]
		o.repo = repo
		data, digest, ok := trust(repo.Namespace)
		o.flux = ocirepos.ReadFlux(repo, obj.Status.FluxFingerprint, ocirepos.LastRequest(repo, digest))
		switch {
		case !ok:
			o.state, o.reason = "pending", ReasonTrustSecretMissing
			o.msg = fmt.Sprintf("Secret %s/%s is not synced by this policy yet", repo.Namespace, obj.SecretName())
		case !enabled || isCloudProvider(repo.Spec.Provider):
			o.fromFlux(enabled)
		default:
			access, err := ocirepos.ReadAccess(ctx, r.APIReader, repo)
			if err != nil {
				o.state, o.reason, o.msg = "pending", ReasonRegistryAccess, err.Error()
				var accessErr *ocirepos.AccessError
				if errors.As(err, &accessErr) {
					o.state = "failed"
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
			})
			idx = append(idx, i)
		}
	}
	if len(reqs) > 0 {
		results := r.Verifier.VerifyAll(ctx, reqs, maxAge)
		for j, res := range results {
			o := &out[idx[j]]
			o.ours = &results[j]
			switch res.Outcome {
			case verify.Verified, verify.Ignored:
				o.state = "verified"
			case verify.Failed:
				o.state = "failed"
			default:
				o.state = "pending"
			}
			o.reason, o.msg = res.Reason, res.Message
		}
	}
	return out
}

// fromFlux fills an outcome from Flux's report alone: for cloud registries,
// whose workload identity only source-controller has, or when operator-side
// verification is disabled.
func (o *outcome) fromFlux(enabled bool) {
	c := o.flux.Condition
	switch {
	case o.flux.Verified:
		o.state = "verified"
	case c != nil && c.Status == metav1.ConditionFalse:
		o.state, o.reason, o.msg = "failed", ReasonFluxFailed, c.Message
	default:
		o.state, o.reason = "pending", ReasonArtifactsPending
		o.msg = "waiting for Flux to verify with the current trust configuration"
	}
	if enabled && o.state != "failed" {
		o.reason = ReasonDelegatedToFlux
		o.msg = fmt.Sprintf("verification delegated to Flux: provider %q uses workload identity only source-controller has", o.repo.Spec.Provider)
	}
}
