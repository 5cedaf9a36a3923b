package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/test/certs"
)

const (
	labelPolicy    = v1alpha1.PolicyLabel
	trustPolicyKey = trustconfig.TrustPolicyKey

	// Secret names: each system writes its own, so they never meet.
	secretOurs         = "bench-notation-config"
	secretTrustManager = "bench-trust-manager"
	secretLimit        = "bench-plain-client"

	trustNamespaceOurs = "bench-trust"
	trustNamespaceTM   = "cert-manager"
	warmupNamespace    = "bench-warmup"
	warmupLabel        = "bench.flux-notation.io/warmup"
	// warmupSecret names the warm-up policy and its Secret.
	warmupSecret = "bench-warmup"
	certName     = "bench-root"
	tmKey        = "ca.crt"
)

var (
	policyGVR = schema.GroupVersionResource{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Resource: "verificationpolicies"}
	bundleGVR = schema.GroupVersionResource{Group: "trust.cert-manager.io", Version: "v1alpha1", Resource: "bundles"}
)

// clientSettings are the API client settings of our manager, which the
// plain client (the limit) uses too.
type clientSettings struct {
	qps              float32
	burst            int
	writeConcurrency int
	concurrency      int
}

// defaultClient are the manager's default client settings
// (--kube-api-qps, --kube-api-burst, --write-concurrency, --concurrency).
var defaultClient = clientSettings{qps: 50, burst: 300, writeConcurrency: 16, concurrency: 4}

// system is one of the three things measured.
type system struct {
	key, title string
	user       string
	secretName string

	// start starts the controller and waits until it has written one
	// Secret (a warm-up object that is removed again), so caches are synced
	// and clients are connected before anything is timed.
	start func(ctx context.Context) error
	// apply makes the change: first creates the policy / Bundle / Secrets
	// for the namespaces selected by sizeLabel(n), later calls rotate the
	// certificate.
	apply func(ctx context.Context, n int, namespaces []string, cert *certs.Cert, first bool) error
	match func(cert *x509.Certificate, n int) func(*corev1.Secret) bool
	// stop stops the controller; cleanup removes everything the system
	// wrote for size n, with the controller stopped.
	stop    func()
	cleanup func(ctx context.Context, n int, namespaces []string) error
	proc    *process
	// metricsURL serves the controller's Prometheus metrics; baseURL, for
	// the operator, its /debug/pprof too.
	metricsURL, baseURL string
	// mgr is the operator's running manager.
	mgr *manager
}

func policyName(n int) string { return fmt.Sprintf("bench-n%d", n) }
func bundleName(n int) string { return secretTrustManager } // Secret name = Bundle name

// ---- verification-operator ------------------------------------------------

func (b *bench) oursSystem() *system {
	return b.oursSystemWith(oursSpec{
		key: "ours", title: "verification-operator",
		cfg:        managerConfig{client: b.client, secretNames: []string{secretOurs, warmupSecret}},
		secretName: secretOurs, policy: policyName, resyncN: b.opts.steadyN,
	})
}

// oursSpec says how an operator system runs its manager and which policy it
// drives.
type oursSpec struct {
	key, title string
	cfg        managerConfig
	secretName string
	policy     func(n int) string
	// resyncN is the N whose policy gets spec.interval -resync (the
	// steady-state phase's); every other policy resyncs hourly.
	resyncN int
	// ready, if set, runs after the manager is ready and before the
	// warm-up: for a manager that starts with policies in place, waiting
	// for its first resync of them.
	ready func(ctx context.Context, m *manager) error
}

func (b *bench) oursSystemWith(spec oursSpec) *system {
	s := &system{key: spec.key, title: spec.title, user: userOurs, secretName: spec.secretName}
	s.start = func(ctx context.Context) error {
		m, err := b.startManager(ctx, spec.cfg)
		if err != nil {
			return err
		}
		s.proc, s.mgr = m.proc, m
		s.baseURL, s.metricsURL = m.base, m.metricsURL()
		if spec.ready != nil {
			if err := spec.ready(ctx, m); err != nil {
				return err
			}
		}
		return b.warmUpOurs(ctx, m)
	}
	s.apply = func(ctx context.Context, n int, _ []string, cert *certs.Cert, first bool) error {
		name := spec.policy(n)
		if first {
			interval := time.Hour
			if n == spec.resyncN {
				interval = b.opts.resyncInterval
			}
			pol := b.policy(name, spec.secretName, map[string]string{sizeLabel(n): "true"}, cert, interval)
			_, err := b.cluster.dyn.Resource(policyGVR).Create(ctx, pol, metav1.CreateOptions{})
			return err
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{
			"certificates": []any{map[string]any{"name": certName, "inline": string(cert.PEM())}},
		}})
		_, err := b.cluster.dyn.Resource(policyGVR).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	}
	s.match = func(cert *x509.Certificate, n int) func(*corev1.Secret) bool { return matchOurs(spec.policy(n), cert) }
	s.stop = func() {
		if s.proc != nil {
			s.proc.stop()
			s.proc, s.mgr = nil, nil
		}
	}
	s.cleanup = func(ctx context.Context, n int, namespaces []string) error {
		// The manager is stopped: drop the finalizer and the policy, then
		// the Secrets, faster than the operator's own prune would.
		if err := b.deletePolicies(ctx, spec.policy(n), warmupSecret); err != nil {
			return err
		}
		if err := b.cluster.deleteSecrets(ctx, spec.secretName, namespaces); err != nil {
			return err
		}
		// Anything else of ours (a rollout snapshot in the trust namespace).
		return b.cluster.kube.CoreV1().Secrets(trustNamespaceOurs).DeleteCollection(ctx, metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: v1alpha1.ManagedByLabel + "=" + v1alpha1.ManagedByValue})
	}
	return s
}

// warmUpOurs makes a fresh manager write one Secret (a one-namespace
// policy, then deleted: our finalizer removes its Secret), so caches are
// synced and clients connected before anything is timed.
func (b *bench) warmUpOurs(ctx context.Context, m *manager) error {
	cert := b.certs[0]
	pol := b.policy(warmupSecret, warmupSecret, map[string]string{warmupLabel: "true"}, cert, time.Hour)
	w, err := watchConvergence(ctx, b.cluster.kube, warmupSecret, []string{warmupNamespace}, matchOurs(warmupSecret, cert.Cert))
	if err != nil {
		return err
	}
	defer w.stop()
	if _, err := b.cluster.dyn.Resource(policyGVR).Create(ctx, pol, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, _, err := w.wait(ctx, time.Minute); err != nil {
		return fmt.Errorf("warm-up: %w; see %s", err, m.proc.logPath)
	}
	if err := b.cluster.dyn.Resource(policyGVR).Delete(ctx, warmupSecret, metav1.DeleteOptions{}); err != nil {
		return err
	}
	return waitGone(ctx, func(ctx context.Context) error {
		_, err := b.cluster.dyn.Resource(policyGVR).Get(ctx, warmupSecret, metav1.GetOptions{})
		return err
	})
}

// deletePolicies removes policies with the manager stopped: their
// finalizer first, which only a running manager would act on.
func (b *bench) deletePolicies(ctx context.Context, names ...string) error {
	for _, name := range names {
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		_, err := b.cluster.dyn.Resource(policyGVR).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := b.cluster.dyn.Resource(policyGVR).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// policy returns a VerificationPolicy as unstructured data, so the harness
// depends on the CRD's JSON, not on Go types that may move.
func (b *bench) policy(name, secretName string, selector map[string]string, cert *certs.Cert, interval time.Duration) *unstructured.Unstructured {
	matchLabels := map[string]any{}
	for k, v := range selector {
		matchLabels[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       v1alpha1.VerificationPolicyKind,
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"trustPolicies": []any{map[string]any{
				"name":                  "bench",
				"registryScopes":        []any{"*"},
				"signatureVerification": map[string]any{"level": "strict"},
				"trustedIdentities":     []any{"*"},
			}},
			"certificates": []any{map[string]any{"name": certName, "inline": string(cert.PEM())}},
			"target": map[string]any{
				"secretName":        secretName,
				"namespaceSelector": map[string]any{"matchLabels": matchLabels},
			},
			"ociRepositories": map[string]any{"interval": interval.String()},
			"interval":        interval.String(),
		},
	}}
}

// ---- trust-manager --------------------------------------------------------

func (b *bench) trustManagerSystem() *system {
	s := &system{key: "tm", title: "trust-manager " + b.opts.tmVersion, user: userTrustManager, secretName: secretTrustManager}
	s.start = func(ctx context.Context) error {
		kubeconfig, err := b.cluster.kubeconfig(userTrustManager)
		if err != nil {
			return err
		}
		var ports [3]int
		for i := range ports {
			if ports[i], err = freePort(); err != nil {
				return err
			}
		}
		args := []string{
			"--kubeconfig=" + kubeconfig,
			"--trust-namespace=" + trustNamespaceTM,
			"--secret-targets-enabled=true",
			"--leader-elect=false",
			fmt.Sprintf("--readiness-probe-port=%d", ports[0]),
			fmt.Sprintf("--metrics-port=%d", ports[1]),
			// The webhook only validates Bundles if a
			// ValidatingWebhookConfiguration points at it; none does, but
			// the server must start for the manager to be ready.
			"--webhook-host=127.0.0.1",
			fmt.Sprintf("--webhook-port=%d", ports[2]),
			"--webhook-certificate-dir=" + b.webhookCertDir,
		}
		s.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])
		b.runs++
		p, err := startProcess("trust-manager", b.opts.trustManager, args, filepath.Join(b.dir, fmt.Sprintf("trust-manager-%02d.log", b.runs)))
		if err != nil {
			return err
		}
		s.proc = p
		if err := p.waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[0]), time.Minute); err != nil {
			return err
		}
		cert := b.certs[0]
		w, err := watchConvergence(ctx, b.cluster.kube, "bench-warmup", []string{warmupNamespace}, matchTrustManager(tmKey, cert.Cert))
		if err != nil {
			return err
		}
		defer w.stop()
		if _, err := b.cluster.dyn.Resource(bundleGVR).Create(ctx, bundle("bench-warmup", map[string]string{warmupLabel: "true"}, cert), metav1.CreateOptions{}); err != nil {
			return err
		}
		if _, _, err := w.wait(ctx, time.Minute); err != nil {
			return fmt.Errorf("warm-up: %w; see %s", err, p.logPath)
		}
		// trust-manager leaves targets to the garbage collector, which
		// envtest does not run.
		if err := b.cluster.dyn.Resource(bundleGVR).Delete(ctx, "bench-warmup", metav1.DeleteOptions{}); err != nil {
			return err
		}
		return b.cluster.deleteSecrets(ctx, "bench-warmup", []string{warmupNamespace})
	}
	s.apply = func(ctx context.Context, n int, _ []string, cert *certs.Cert, first bool) error {
		if first {
			_, err := b.cluster.dyn.Resource(bundleGVR).Create(ctx, bundle(bundleName(n), map[string]string{sizeLabel(n): "true"}, cert), metav1.CreateOptions{})
			return err
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{
			"sources": []any{map[string]any{"inLine": string(cert.PEM())}},
		}})
		_, err := b.cluster.dyn.Resource(bundleGVR).Patch(ctx, bundleName(n), types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	}
	s.match = func(cert *x509.Certificate, _ int) func(*corev1.Secret) bool { return matchTrustManager(tmKey, cert) }
	s.stop = func() {
		if s.proc != nil {
			s.proc.stop()
			s.proc = nil
		}
	}
	s.cleanup = func(ctx context.Context, n int, namespaces []string) error {
		for _, name := range []string{bundleName(n), "bench-warmup"} {
			if err := b.cluster.dyn.Resource(bundleGVR).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		return b.cluster.deleteSecrets(ctx, secretTrustManager, namespaces)
	}
	return s
}

// bundle is a trust-manager Bundle with one inline source and a Secret
// target: the closest equivalent of our policy.
func bundle(name string, selector map[string]string, cert *certs.Cert) *unstructured.Unstructured {
	matchLabels := map[string]any{}
	for k, v := range selector {
		matchLabels[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "trust.cert-manager.io/v1alpha1",
		"kind":       "Bundle",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"sources": []any{map[string]any{"inLine": string(cert.PEM())}},
			"target": map[string]any{
				"secret":            map[string]any{"key": tmKey},
				"namespaceSelector": map[string]any{"matchLabels": matchLabels},
			},
		},
	}}
}

// ---- the limit: a plain client ------------------------------------------

// limitSystem writes the same Secrets our operator writes (same data, same
// labels) with nothing else: no reads, no status, no events. It has our
// client-side rate limit and our write concurrency, so it is the fastest
// any controller with those settings could be.
func (b *bench) limitSystem() *system {
	return b.limitSystemWith("limit", "plain client (limit)", b.client.qps, b.client.burst, b.client.writeConcurrency)
}

// limitSystemWith is the plain client with other client settings; qps < 0
// turns client-go's rate limiter off.
func (b *bench) limitSystemWith(key, title string, qps float32, burst, writeConcurrency int) *system {
	s := &system{key: key, title: title, user: userLimit, secretName: secretLimit}
	var (
		kube    kubernetes.Interface
		written []*corev1.Secret
	)
	s.start = func(ctx context.Context) error {
		var err error
		kube, err = kubernetes.NewForConfig(b.cluster.restConfig(userLimit, qps, burst))
		if err != nil {
			return err
		}
		// Warm up the connection.
		w := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bench-warmup", Namespace: warmupNamespace}}
		if _, err := kube.CoreV1().Secrets(warmupNamespace).Create(ctx, w, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		return kube.CoreV1().Secrets(warmupNamespace).Delete(ctx, "bench-warmup", metav1.DeleteOptions{})
	}
	s.apply = func(ctx context.Context, n int, namespaces []string, cert *certs.Cert, first bool) error {
		data, digest, err := renderLike(cert)
		if err != nil {
			return err
		}
		if first {
			written = make([]*corev1.Secret, len(namespaces))
		}
		return parallel(ctx, writeConcurrency, len(namespaces), func(ctx context.Context, i int) error {
			if first {
				sec := &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{
						Name: secretLimit, Namespace: namespaces[i],
						Labels:      map[string]string{labelPolicy: policyName(n)},
						Annotations: map[string]string{v1alpha1.TrustDigestAnnotation: digest},
					},
					Type: corev1.SecretTypeOpaque,
					Data: data,
				}
				out, err := kube.CoreV1().Secrets(namespaces[i]).Create(ctx, sec, metav1.CreateOptions{FieldManager: userLimit})
				written[i] = out
				return err
			}
			sec := written[i].DeepCopy()
			sec.Data = data
			sec.Annotations[v1alpha1.TrustDigestAnnotation] = digest
			out, err := kube.CoreV1().Secrets(namespaces[i]).Update(ctx, sec, metav1.UpdateOptions{FieldManager: userLimit})
			written[i] = out
			return err
		})
	}
	s.match = func(cert *x509.Certificate, n int) func(*corev1.Secret) bool { return matchOurs(policyName(n), cert) }
	s.stop = func() {}
	s.cleanup = func(ctx context.Context, _ int, namespaces []string) error {
		written = nil
		return b.cluster.deleteSecrets(ctx, secretLimit, namespaces)
	}
	return s
}

// renderLike renders the Secret data our operator writes for the bench
// policy, so the plain client writes byte-for-byte the same payload.
func renderLike(cert *certs.Cert) (map[string][]byte, string, error) {
	res, err := trustconfig.Render(trustconfig.Input{
		Statements: []v1alpha1.TrustPolicyStatement{{
			Name:                  "bench",
			RegistryScopes:        []string{"*"},
			SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"},
			TrustedIdentities:     []string{"*"},
		}},
		Sources: []trustconfig.Source{{Name: certName, Origin: "inline", PEM: cert.PEM()}},
	})
	if err != nil {
		return nil, "", err
	}
	return res.Data, res.TrustDigest, nil
}

// waitGone polls get until it returns NotFound.
func waitGone(ctx context.Context, get func(context.Context) error) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		err := get(ctx)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("object not deleted within a minute")
}

// writeWebhookCert writes a throwaway serving certificate for
// trust-manager's webhook server, which must start even though nothing
// calls it.
func writeWebhookCert(dir string) error {
	ca := certs.NewCA("bench webhook CA")
	srv := certs.NewServer(ca, "127.0.0.1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), srv.PEM(), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tls.key"), srv.KeyPEM(), 0o600)
}
