package controllers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	. "github.com/onsi/gomega"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/verify"
	"github.com/flux-notation/verification-operator/test/certs"
	testenv "github.com/flux-notation/verification-operator/test/envtest"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// fluxOCIRepositoryCRD is the OCIRepository CRD generated from the Flux API
// module, extended with status.sourceVerificationFingerprint: the field
// source-controller v1.10 adds and the pinned v1.9 types lack. Tests
// emulate both versions by setting it or not.
func fluxOCIRepositoryCRD() (*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "test", "crd", "flux", "source.toolkit.fluxcd.io_ocirepositories.yaml"))
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := sigsyaml.Unmarshal(data, crd); err != nil {
		return nil, err
	}
	for i := range crd.Spec.Versions {
		status := crd.Spec.Versions[i].Schema.OpenAPIV3Schema.Properties["status"]
		status.Properties["sourceVerificationFingerprint"] = apiextensionsv1.JSONSchemaProps{Type: "string"}
		crd.Spec.Versions[i].Schema.OpenAPIV3Schema.Properties["status"] = status
	}
	return crd, nil
}

// installFluxCRD installs fluxOCIRepositoryCRD on the control plane of cfg
// and waits until it is served.
func installFluxCRD(cfg *rest.Config) error {
	crd, err := fluxOCIRepositoryCRD()
	if err != nil {
		return err
	}
	_, err = envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{CRDs: []*apiextensionsv1.CustomResourceDefinition{crd}})
	return err
}

// installHelmCRDs installs Flux's HelmChart and HelmRepository CRDs, from
// the pinned Flux source API module.
func installHelmCRDs(cfg *rest.Config) error {
	dir := filepath.Join(testenv.RepoRoot(), "test", "crd", "flux")
	_, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{
		filepath.Join(dir, "source.toolkit.fluxcd.io_helmcharts.yaml"),
		filepath.Join(dir, "source.toolkit.fluxcd.io_helmrepositories.yaml"),
	}, ErrorIfPathMissing: true})
	return err
}

// artifact is a pushed artifact and how to reach it.
type artifact struct {
	reg  string // host:port
	repo string // repository path
	desc ocispec.Descriptor
}

func (a artifact) url() string { return "oci://" + a.reg + "/" + a.repo }

// pushArtifact pushes a small artifact, tags it v1, and signs it with leaf
// (chain up to the root) unless leaf is nil.
func pushArtifact(t *testing.T, reg *registry.Registry, remote notation.Remote, repo string, leaf *certs.Cert, chain ...*certs.Cert) artifact {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	ref := reg.Host() + "/" + repo
	desc, err := notation.PushArtifact(ctx, remote, ref, "application/vnd.example.config.v1+json", []byte(fmt.Sprintf(`{"repo":%q}`, repo)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(notation.Tag(ctx, remote, ref, desc, "v1")).To(Succeed())
	if leaf != nil {
		_, err = notation.Sign(ctx, remote, ref, desc, leaf, chain...)
		g.Expect(err).NotTo(HaveOccurred())
	}
	return artifact{reg: reg.Host(), repo: repo, desc: desc}
}

// repoOptions tune an OCIRepository.
type repoOptions struct {
	insecure      bool
	secretRef     string
	certSecretRef string
	provider      string
	labels        map[string]string
}

// newOCIRepository creates an OCIRepository verifying with notation-config
// and returns its name.
func newOCIRepository(t *testing.T, ns string, a artifact, o repoOptions) string {
	t.Helper()
	name := uniqueName("repo")
	spec := map[string]any{
		"url":      a.url(),
		"interval": "10m",
		"ref":      map[string]any{"tag": "v1"},
		"verify":   map[string]any{"provider": "notation", "secretRef": map[string]any{"name": "notation-config"}},
		"insecure": o.insecure,
	}
	if o.secretRef != "" {
		spec["secretRef"] = map[string]any{"name": o.secretRef}
	}
	if o.certSecretRef != "" {
		spec["certSecretRef"] = map[string]any{"name": o.certSecretRef}
	}
	if o.provider != "" {
		spec["provider"] = o.provider
	}
	u := ocirepos.New()
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(o.labels)
	u.Object["spec"] = spec
	NewWithT(t).Expect(k8s.Create(context.Background(), u)).To(Succeed())
	return name
}

func getOCIRepository(g Gomega, ns, name string) *unstructured.Unstructured {
	u := ocirepos.New()
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)).To(Succeed())
	return u
}

// setFluxStatus plays source-controller: it records SourceVerified and,
// for v1.10+, the fingerprint of the trust material used.
func setFluxStatus(t *testing.T, ns, name string, verified metav1.ConditionStatus, fingerprint, revision string) {
	t.Helper()
	playFlux(t, ns, name, fluxReport{verified: verified, fingerprint: fingerprint, revision: revision,
		// Flux verified a while ago, as it would have in a real cluster.
		at: time.Now().Add(-time.Minute)})
}

// fluxReport is what source-controller writes in an OCIRepository's status.
type fluxReport struct {
	verified    metav1.ConditionStatus // "" for no SourceVerified condition
	fingerprint string                 // status.sourceVerificationFingerprint (v1.10+)
	revision    string
	at          time.Time // SourceVerified's lastTransitionTime
	handled     string    // status.lastHandledReconcileAt
}

// playFlux writes f as the OCIRepository's status, retrying on conflicts
// (the operator patches the object too).
func playFlux(t *testing.T, ns, name string, f fluxReport) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		u := getOCIRepository(g, ns, name)
		status := map[string]any{
			"artifact": map[string]any{
				"revision": f.revision, "digest": "sha256:" + fmt.Sprintf("%064d", 0), "path": "x", "url": "http://x", "lastUpdateTime": metav1.Now().UTC().Format("2006-01-02T15:04:05Z"),
			},
		}
		if f.verified != "" {
			status["conditions"] = []any{map[string]any{
				"type": "SourceVerified", "status": string(f.verified), "reason": "Succeeded",
				"message":            "verified signature of revision " + f.revision,
				"lastTransitionTime": f.at.UTC().Format(time.RFC3339),
				"observedGeneration": u.GetGeneration(),
			}}
		}
		if f.fingerprint != "" {
			status["sourceVerificationFingerprint"] = f.fingerprint
		}
		if f.handled != "" {
			status["lastHandledReconcileAt"] = f.handled
		}
		u.Object["status"] = status
		g.Expect(k8s.Status().Update(context.Background(), u)).To(Succeed())
	}, timeout, poll).Should(Succeed())
}

// sourceVerified returns the OCIRepository's SourceVerified condition.
func sourceVerified(g Gomega, ns, name string) *metav1.Condition {
	repo, err := ocirepos.FromUnstructured(getOCIRepository(g, ns, name))
	g.Expect(err).NotTo(HaveOccurred())
	return apimeta.FindStatusCondition(repo.Status.Conditions, "SourceVerified")
}

// dockerConfigSecret creates a kubernetes.io/dockerconfigjson Secret.
func dockerConfigSecret(t *testing.T, ns, host, user, pass string) string {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("pull"), Namespace: ns},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: cfg},
	}
	NewWithT(t).Expect(k8s.Create(context.Background(), s)).To(Succeed())
	return s.Name
}

// waitArtifacts waits for the policy's OCIRepository counts, in a status
// whose sync share is for the current generation too: the two reconcilers
// write their shares in separate requests, and tests go on to use fields of
// both (the fingerprint, the trust digest, SecretsSynced).
func waitArtifacts(t *testing.T, name string, want v1alpha1.ArtifactCounts) *v1alpha1.VerificationPolicy {
	t.Helper()
	var out *v1alpha1.VerificationPolicy
	NewWithT(t).Eventually(func(g Gomega) {
		p := getPolicy(g, name)
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation), "the sync has not handled generation %d", p.Generation)
		g.Expect(p.Status.OCIRepositories).To(Equal(want), "issues: %+v", p.Status.ArtifactIssues)
		out = p
	}, timeout, poll).Should(Succeed())
	return out
}

func issueFor(p *v1alpha1.VerificationPolicy, ns, name string) *v1alpha1.ArtifactIssue {
	for i := range p.Status.ArtifactIssues {
		if is := &p.Status.ArtifactIssues[i]; is.Namespace == ns && is.Name == name {
			return is
		}
	}
	return nil
}

// expectRepoEvent waits for an event on an OCIRepository.
func expectRepoEvent(t *testing.T, ns, name, eventType, reason string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		var list corev1.EventList
		g.Expect(k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		found := false
		for _, e := range list.Items {
			if e.InvolvedObject.Name == name && e.InvolvedObject.Kind == "OCIRepository" && e.Type == eventType && e.Reason == reason {
				found = true
			}
		}
		g.Expect(found).To(BeTrue(), "no %s %s event on OCIRepository %s/%s", eventType, reason, ns, name)
	}, timeout, poll).Should(Succeed())
}

func requestedAtOf(g Gomega, ns, name string) string {
	return getOCIRepository(g, ns, name).GetAnnotations()[meta.ReconcileRequestAnnotation]
}

func reverifyRequestedAtOf(g Gomega, ns, name string) string {
	return getOCIRepository(g, ns, name).GetAnnotations()[fluxverdict.ReverifyRequestedAtAnnotation]
}

// The engine's reasons the scenarios expect, named for what they prove.
const (
	verifyReasonUntrusted   = verify.ReasonUntrustedSigner
	verifyReasonNoSignature = verify.ReasonSignatureNotFound
	verifyReasonIdentity    = verify.ReasonIdentityMismatch
	verifyReasonAuth        = verify.ReasonRegistryAuthFailed
	verifyReasonUnreachable = verify.ReasonRegistryUnreachable
)

// cacheHits reads the verifier's cache-hit counter from the manager's
// metrics registry (the manager runs in this test binary).
func cacheHits(g Gomega) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() == "verification_operator_artifact_verification_cache_hits_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// labelOCIRepository sets a label on an OCIRepository, retrying on
// conflicts (the operator annotates it too).
func labelOCIRepository(t *testing.T, ns, name, key, value string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		u := getOCIRepository(g, ns, name)
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[key] = value
		u.SetLabels(labels)
		g.Expect(k8s.Update(context.Background(), u)).To(Succeed())
	}, timeout, poll).Should(Succeed())
}
