// Package controllers wires the operator's reconcilers into a manager; it
// holds no reconciler logic. Where things live (README.md, "Development",
// has the same map, and hack/docscheck checks it names every package):
//
//   - verificationpolicy: the sync reconciler, a list of named steps (admit
//     the Secret name, render, select, gate, write, advance, complete), one
//     file each except advanceStage and completeRollout (stage.go).
//   - artifacts: the companion reconciler (find governed OCIRepositories and
//     HelmCharts, ask Flux to re-verify, report verdicts).
//   - checker: which OCIRepositories and HelmCharts a policy governs and
//     their verdicts, shared by the companion and the rollout gates.
//   - fluxverdict: Flux's SourceVerified judged against the trust in place
//     (stale or current), and how to make Flux verify again (pure).
//   - ocirepos, helmcharts: Flux's OCIRepositories and HelmCharts (with
//     their HelmRepositories) as read from the API server, and how to reach
//     their registry.
//   - discovery: which optional APIs (Flux's, ClusterTrustBundles) are
//     served, shared by both reconcilers.
//   - trustconfig (pure rendering), sources (reading the trust namespace),
//     targets (writing namespaces), verify (notation-go as Flux runs it),
//     rollout (pure stage logic), inputerror (bad input and what fixes it),
//     metricsauth (who may read /metrics).
//   - internal/policystatus (one-request status writes, the Ready table),
//     internal/text (bounded messages).
package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	helper "github.com/fluxcd/pkg/runtime/controller"
	"github.com/fluxcd/pkg/runtime/events"
	"github.com/fluxcd/pkg/runtime/metrics"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/artifacts"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/controllers/internal/policystatus"
	"github.com/flux-notation/verification-operator/controllers/sources"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/controllers/verificationpolicy"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

// Options configure the controllers.
type Options struct {
	// TrustNamespace is the only namespace sources are read from.
	TrustNamespace string
	// Concurrency is the number of policies reconciled in parallel.
	Concurrency int
	// WriteConcurrency bounds parallel Secret writes per policy.
	WriteConcurrency int
	// ConflictRetryInterval is how often conflicted namespaces are retried.
	ConflictRetryInterval time.Duration
	// VerifyTimeout bounds each registry interaction of a verification.
	VerifyTimeout time.Duration
	// VerifyConcurrency bounds parallel artifact verifications, and
	// VerifyPerRegistry those against one registry host, so a dead registry
	// cannot take every worker.
	VerifyConcurrency, VerifyPerRegistry int
	// RolloutRecheckInterval is how often a held or waiting rollout is
	// checked again.
	RolloutRecheckInterval time.Duration
	// APIDiscoveryInterval is how often a missing OCIRepository API is
	// looked for again.
	APIDiscoveryInterval time.Duration
	// TargetSecretNames are the Secret names policies may write; the
	// ClusterRole grants Secret access for these names only.
	TargetSecretNames []string
	// ForceBackoff is the wait before a force Flux answered with the old
	// verdict is made again, doubling after. Zero means
	// fluxverdict.DefaultForceBackoff; tests of the whole operator widen it
	// to observe the state between two forces on a loaded machine.
	ForceBackoff time.Duration
}

// CacheOptions returns the manager cache configuration. The manager's own
// cache holds no Secret at all: the operator's RBAC does not let it list
// Secrets cluster-wide, and its own Secrets are in targets.Store's per-name
// informers. Managed fields are dropped from every cached object: nothing
// reads them, and on thousands of namespaces they are most of the bytes.
func CacheOptions() cache.Options {
	return cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
}

// ClientOptions returns the manager client configuration: Secrets and
// ConfigMaps are never read through the cluster-wide cache. A Secret read
// is a GET by name (a rollout snapshot, registry credentials), which RBAC
// decides; ConfigMaps are read in the trust namespace only, through its
// own cache.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{
		DisableFor: []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}},
	}}
}

// Setup registers the controllers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if o.TrustNamespace == "" {
		return errors.New("a trust namespace is required")
	}
	// The certificate sources get a cache of their own, scoped to the trust
	// namespace: ConfigMaps in full, Secrets as metadata only. Source Secret
	// contents are read uncached, on demand, and never kept.
	trustCache, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{o.TrustNamespace: {}},
	})
	if err != nil {
		return fmt.Errorf("creating the trust namespace cache: %w", err)
	}
	if err := mgr.Add(trustCache); err != nil {
		return err
	}
	// The Secrets we write: one informer per allowed name, which is all
	// RBAC lets us list. Checked first, so that an RBAC that does not match
	// the flag fails here, with a message, rather than as a cache that never
	// syncs.
	if err := targets.CheckAccess(ctx, mgr.GetClient(), o.TargetSecretNames); err != nil {
		return err
	}
	store, err := targets.NewStore(mgr.GetConfig(), o.TargetSecretNames, verificationpolicy.FieldOwner)
	if err != nil {
		return err
	}
	if err := mgr.Add(store); err != nil {
		return err
	}
	// Their data, which the Store does not cache, by trust digest.
	contents := &targets.Contents{Reader: mgr.GetAPIReader()}

	recorder, err := events.NewRecorder(mgr, ctrl.Log, "", "verification-operator")
	if err != nil {
		return err
	}
	metricsRecorder := metrics.NewRecorder()
	for _, c := range metricsRecorder.Collectors() {
		if err := ctrlmetrics.Registry.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}

	// One discovery, one checker, one verifier and one verdict cache for the
	// companion and the rollout gates, so they agree.
	apis := discovery.New(mgr.GetRESTMapper(), cmp.Or(o.APIDiscoveryInterval, 30*time.Second))
	check := &checker.Checker{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Served:    func(k checker.Kind) bool { return checker.KindState(apis, k) == discovery.Served },
		Verifier: verify.New(verify.Options{
			Timeout:                o.VerifyTimeout,
			Concurrency:            o.VerifyConcurrency,
			PerRegistryConcurrency: o.VerifyPerRegistry,
		}),
	}

	sync := &verificationpolicy.Reconciler{
		Client:        mgr.GetClient(),
		EventRecorder: recorder,
		Metrics:       helper.NewMetrics(mgr, metricsRecorder, v1alpha1.FinalizerName),
		Secrets:       store,
		Contents:      contents,
		SecretNames:   store.Names(),
		Sources: &sources.Resolver{
			Namespace:  o.TrustNamespace,
			Secrets:    mgr.GetAPIReader(),
			ConfigMaps: trustCache,
			// Cluster-scoped, read through the informers their watch starts.
			ClusterTrustBundles: sources.NewClusterTrustBundles(mgr.GetCache(), apis),
		},
		Writer: &targets.Writer{
			Client:      mgr.GetClient(),
			APIReader:   mgr.GetAPIReader(),
			FieldOwner:  verificationpolicy.FieldOwner,
			Concurrency: o.WriteConcurrency,
		},
		Status:                 &policystatus.Writer{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Share: policystatus.Sync},
		Checker:                check,
		APIs:                   apis,
		ConflictRetryInterval:  o.ConflictRetryInterval,
		RolloutRecheckInterval: cmp.Or(o.RolloutRecheckInterval, time.Minute),
		Now:                    time.Now,
	}
	if err := sync.SetupWithManager(ctx, mgr, trustCache, store.Sources(), o.Concurrency); err != nil {
		return fmt.Errorf("setting up the VerificationPolicy controller: %w", err)
	}

	companion := &artifacts.Reconciler{
		Client:        mgr.GetClient(),
		Secrets:       store,
		Contents:      contents,
		Checker:       check,
		APIs:          apis,
		EventRecorder: recorder,
		Status:        &policystatus.Writer{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Share: policystatus.Artifacts},
		Now:           time.Now,
		ForceBackoff:  cmp.Or(o.ForceBackoff, fluxverdict.DefaultForceBackoff),
	}
	if err := companion.SetupWithManager(mgr, store.Sources(), o.Concurrency); err != nil {
		return fmt.Errorf("setting up the artifact verification controller: %w", err)
	}
	// Discovery starts after the watches it adds are registered.
	return mgr.Add(apis)
}
