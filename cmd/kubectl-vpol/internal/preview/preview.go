// Package preview computes what the operator would write for a
// VerificationPolicy, without the operator: the Secret name is admitted by
// the operator's own check (targets.CheckSecretName), the sources are
// resolved by the operator's own resolver (controllers/sources), rendered by
// the operator's renderer (trustconfig.Render) and shaped into the operator's Secret
// (targets.Template.Desired), and bad input is reported with the reason and
// message the policy's SecretsSynced condition would carry. There is no
// second implementation to drift from the first.
package preview

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
	"github.com/flux-notation/verification-operator/controllers/sources"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// Input says what to render.
type Input struct {
	Policy *v1alpha1.VerificationPolicy
	// Sources reads Secrets and ConfigMaps (files, a cluster, or both).
	Sources client.Reader
	// ClusterTrustBundles reads clusterTrustBundle sources (files, a
	// cluster, or both; manifests.Set.ClusterTrustBundles).
	ClusterTrustBundles *sources.ClusterTrustBundles
	// SecretNames are the operator's --target-secret-names: the policy's
	// target.secretName must be one of them.
	SecretNames []string
	// TrustNamespace is the only namespace sources are read from, as the
	// operator's --trust-namespace.
	TrustNamespace string
	// Now is the time validity warnings are computed for; zero is now.
	Now time.Time
	// Namespace is the metadata.namespace of the Secret shown; the Secret is
	// the same in every targeted namespace otherwise.
	Namespace string
}

// Rejection is input the operator would refuse: nothing is written.
type Rejection struct {
	// Reason is the SecretsSynced condition's reason.
	Reason string
	// Message is its message (inputerror.Error.ConditionMessage).
	Message string
	// Stalled: only a spec change fixes it (the policy gets Stalled=True);
	// otherwise a source Secret or ConfigMap does.
	Stalled bool
}

// Outcome is either a Secret or a rejection.
type Outcome struct {
	// Rendered is the trust configuration: data, digests, certificates and
	// warnings.
	Rendered *trustconfig.Result
	// Secret is the Secret the operator would write, with its type meta set
	// for printing.
	Secret    *corev1.Secret
	Rejection *Rejection
}

// Render renders in. An error is a failure to read sources that is not
// about the input (the cluster could not be reached); input the operator
// would reject is an Outcome with a Rejection.
func Render(ctx context.Context, in Input) (Outcome, error) {
	p := in.Policy
	// In the manager's order: the Secret name is admitted before anything
	// is read.
	err := targets.CheckSecretName(p.SecretName(), in.SecretNames)
	var rendered *trustconfig.Result
	if err == nil {
		resolver := &sources.Resolver{Namespace: in.TrustNamespace, Secrets: in.Sources, ConfigMaps: in.Sources,
			ClusterTrustBundles: in.ClusterTrustBundles}
		var srcs []trustconfig.Source
		if srcs, err = resolver.Resolve(ctx, p.Spec.Certificates); err == nil {
			rendered, err = trustconfig.Render(trustconfig.Input{Statements: p.Spec.TrustPolicies, Sources: srcs, Now: in.Now})
		}
	}
	if err != nil {
		rej, ok := RejectionOf(err)
		if !ok {
			return Outcome{}, err
		}
		return Outcome{Rejection: rej}, nil
	}
	secret := targets.Template{Policy: p, Data: rendered.Data, TrustDigest: rendered.TrustDigest}.Desired(in.Namespace)
	secret.APIVersion, secret.Kind = "v1", "Secret"
	return Outcome{Rendered: rendered, Secret: secret}, nil
}

// RejectionOf returns the rejection err is, when it is input the operator
// would refuse (an *inputerror.Error), as its condition would say it.
func RejectionOf(err error) (*Rejection, bool) {
	bad, ok := inputerror.As(err)
	if !ok {
		return nil, false
	}
	return &Rejection{Reason: bad.Reason, Message: bad.ConditionMessage(), Stalled: bad.Kind == inputerror.Stalling}, true
}
