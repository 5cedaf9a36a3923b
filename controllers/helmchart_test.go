package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/helmcharts"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// TestHelmChartVerification: HelmCharts from an OCI HelmRepository are
// governed on the same terms as OCIRepositories, verified with the
// HelmRepository's access settings, and reported per kind.
func TestHelmChartVerification(t *testing.T) {
	t.Run("verdicts", testChartVerdicts)
	t.Run("versions", testChartVersions)
	t.Run("credentials", testChartCredentials)
	t.Run("rotation", testChartRotation)
	t.Run("preflight", testChartPreflight)
}

// charts is a registry of charts and the signers of a test.
type charts struct {
	reg     *registry.Registry
	remote  notation.Remote
	ca      *certs.Cert
	signer  *certs.Cert
	other   *certs.Cert
	outside *certs.Cert
}

func newCharts(t *testing.T, o registry.Options) *charts {
	c := &charts{reg: registry.Start(t, o), ca: certs.NewCA("chart root"), other: certs.NewCA("other root")}
	c.remote = notation.For(c.reg)
	c.signer = certs.NewCodeSigner("chart signer", c.ca)
	c.outside = certs.NewCodeSigner("stranger", c.other)
	return c
}

// push pushes chart name at version under path ("<path>/<name>") and signs
// it with leaf (under its root) unless leaf is nil.
func (c *charts) push(t *testing.T, path, name, version string, leaf, root *certs.Cert) ocispec.Descriptor {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	repo := c.reg.Reference(path)
	desc, err := notation.PushChart(ctx, c.remote, repo, name, version)
	g.Expect(err).NotTo(HaveOccurred())
	if leaf != nil {
		_, err = notation.Sign(ctx, c.remote, repo+"/"+name, desc, leaf, root)
		g.Expect(err).NotTo(HaveOccurred())
	}
	return desc
}

// helmRepository creates an OCI HelmRepository for c's registry at path.
func (c *charts) helmRepository(t *testing.T, ns, path string, spec map[string]any) string {
	t.Helper()
	name := uniqueName("charts")
	u := helmcharts.NewRepository()
	u.SetNamespace(ns)
	u.SetName(name)
	base := map[string]any{"type": "oci", "url": "oci://" + c.reg.Reference(path), "insecure": c.reg.PlainHTTP(), "interval": "10m"}
	for k, v := range spec {
		base[k] = v
	}
	u.Object["spec"] = base
	NewWithT(t).Expect(k8s.Create(context.Background(), u)).To(Succeed())
	return name
}

// helmChart creates a HelmChart verifying with notation-config, built from
// source (a HelmRepository's name, or "GitRepository/<name>", which Flux
// does not let verify).
func helmChart(t *testing.T, ns, repo, chart, version string) string {
	t.Helper()
	name := uniqueName("chart")
	kind := "HelmRepository"
	if n, ok := cutPrefix(repo, "GitRepository/"); ok {
		kind, repo = "GitRepository", n
	}
	u := helmcharts.New()
	u.SetNamespace(ns)
	u.SetName(name)
	spec := map[string]any{
		"chart": chart, "version": version, "interval": "10m",
		"sourceRef": map[string]any{"kind": kind, "name": repo},
	}
	// Flux's CRD refuses spec.verify on a chart that is not from a
	// HelmRepository: such charts carry no signature.
	if kind == "HelmRepository" {
		spec["verify"] = map[string]any{"provider": "notation", "secretRef": map[string]any{"name": "notation-config"}}
	}
	u.Object["spec"] = spec
	NewWithT(t).Expect(k8s.Create(context.Background(), u)).To(Succeed())
	return name
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}

func getHelmChart(g Gomega, ns, name string) *unstructured.Unstructured {
	u := helmcharts.New()
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)).To(Succeed())
	return u
}

// playFluxChart writes a HelmChart's status as source-controller would:
// SourceVerified, and the chart version it pulled.
func playFluxChart(t *testing.T, ns, name string, verified metav1.ConditionStatus, version string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		u := getHelmChart(g, ns, name)
		u.Object["status"] = map[string]any{
			"conditions": []any{map[string]any{
				"type": "SourceVerified", "status": string(verified), "reason": "Succeeded",
				"message":            "verified signature of version " + version,
				"lastTransitionTime": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
				"observedGeneration": u.GetGeneration(),
			}},
			"artifact": map[string]any{
				"revision": version, "digest": "sha256:" + fmt.Sprintf("%064d", 0), "path": "x", "url": "http://x",
				"lastUpdateTime": metav1.Now().UTC().Format("2006-01-02T15:04:05Z"),
			},
		}
		g.Expect(k8s.Status().Update(context.Background(), u)).To(Succeed())
	}, timeout, poll).Should(Succeed())
}

// waitCharts waits for the policy's HelmChart counts, for its current
// generation.
func waitCharts(t *testing.T, name string, want v1alpha1.ArtifactCounts) *v1alpha1.VerificationPolicy {
	t.Helper()
	var out *v1alpha1.VerificationPolicy
	NewWithT(t).Eventually(func(g Gomega) {
		p := getPolicy(g, name)
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
		g.Expect(p.Status.HelmCharts).To(Equal(want), "issues: %+v", p.Status.ArtifactIssues)
		out = p
	}, timeout, poll).Should(Succeed())
	return out
}

func chartIssue(p *v1alpha1.VerificationPolicy, ns, name string) *v1alpha1.ArtifactIssue {
	for i := range p.Status.ArtifactIssues {
		if is := &p.Status.ArtifactIssues[i]; is.Kind == "HelmChart" && is.Namespace == ns && is.Name == name {
			return is
		}
	}
	return nil
}

func testChartVerdicts(t *testing.T) {
	g := NewWithT(t)
	c := newCharts(t, registry.Options{})
	ns := newNamespace(t, nil)
	c.push(t, "charts", "trusted", "1.0.0", c.signer, c.ca)
	c.push(t, "charts", "untrusted", "1.0.0", c.outside, c.other)
	c.push(t, "charts", "unsigned", "1.0.0", nil, nil)
	p := newPolicy(c.ca, ns)
	create(t, p)
	repo := c.helmRepository(t, ns, "charts", nil)
	names := map[string]string{}
	for _, chart := range []string{"trusted", "untrusted", "unsigned"} {
		names[chart] = helmChart(t, ns, repo, chart, "1.0.0")
	}
	// Not governed: a chart from a GitRepository, and one from an HTTP
	// HelmRepository; neither carries a Notation signature.
	helmChart(t, ns, "GitRepository/manifests", "./charts/app", "*")
	httpRepo := c.helmRepository(t, ns, "charts", map[string]any{"type": "default", "url": "https://charts.example.com"})
	helmChart(t, ns, httpRepo, "app", "1.0.0")
	// An OCIRepository next to them: the two kinds are counted apart.
	a := pushArtifact(t, c.reg, c.remote, "apps/app", c.signer, c.ca)
	newOCIRepository(t, ns, a, repoOptions{insecure: true})

	var got *v1alpha1.VerificationPolicy
	g.Eventually(func(g Gomega) {
		got = getPolicy(g, p.Name)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(got.Status.HelmCharts).To(Equal(v1alpha1.ArtifactCounts{Matched: 3, Verified: 1, Failed: 2}), "issues: %+v", got.Status.ArtifactIssues)
		g.Expect(got.Status.OCIRepositories).To(Equal(v1alpha1.ArtifactCounts{Matched: 1, Verified: 1}))
		g.Expect(got.Status.Artifacts).To(Equal(v1alpha1.ArtifactCounts{Matched: 4, Verified: 2, Failed: 2}))
	}, timeout, poll).Should(Succeed())
	g.Expect(chartIssue(got, ns, names["untrusted"]).Reason).To(Equal(verifyReasonUntrusted))
	g.Expect(chartIssue(got, ns, names["unsigned"]).Reason).To(Equal(verifyReasonNoSignature))
	g.Expect(chartIssue(got, ns, names["trusted"])).To(BeNil())
	msg := conditions.GetMessage(got, v1alpha1.ArtifactsVerifiedCondition)
	g.Expect(msg).To(HavePrefix("2 of 4 artifacts fail verification: HelmChart " + ns + "/"))
	g.Expect(conditions.GetReason(got, v1alpha1.ArtifactsVerifiedCondition)).To(Equal(v1alpha1.ReasonArtifactsFailed))
	// Our verdict goes on the HelmChart itself, next to Flux's events.
	g.Eventually(func(g Gomega) {
		var list corev1.EventList
		g.Expect(k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		found := false
		for _, e := range list.Items {
			found = found || (e.InvolvedObject.Kind == "HelmChart" && e.InvolvedObject.Name == names["untrusted"] && e.Reason == "VerificationFailed")
		}
		g.Expect(found).To(BeTrue())
	}, timeout, poll).Should(Succeed())
}

func testChartVersions(t *testing.T) {
	g := NewWithT(t)
	c := newCharts(t, registry.Options{})
	ns := newNamespace(t, nil)
	// Two versions, only the newer signed.
	c.push(t, "charts", "ranged", "1.0.0", nil, nil)
	c.push(t, "charts", "ranged", "1.1.0", c.signer, c.ca)
	// Build metadata: helm push writes the tag 1.2.0_build.7.
	c.push(t, "charts", "built", "1.2.0+build.7", c.signer, c.ca)
	p := newPolicy(c.ca, ns)
	create(t, p)
	repo := c.helmRepository(t, ns, "charts", nil)
	newest := helmChart(t, ns, repo, "ranged", ">=1.0.0")
	older := helmChart(t, ns, repo, "ranged", "<1.1.0")
	built := helmChart(t, ns, repo, "built", "1.2.0+build.7")

	got := waitCharts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 3, Verified: 1, Failed: 2})
	g.Expect(chartIssue(got, ns, newest)).To(BeNil(), "the highest version in the range is 1.1.0, which is signed")
	g.Expect(chartIssue(got, ns, older).Reason).To(Equal(verifyReasonNoSignature))
	// source-controller v1.9.3 cannot verify a version with build metadata
	// (measured with the real Flux in test/e2e): reported as it does.
	is := chartIssue(got, ns, built)
	g.Expect(is.Reason).To(Equal("InvalidReference"))
	g.Expect(is.Message).To(ContainSubstring("invalid chart reference"))

	// The version Flux pulled wins over the range: Flux pulled 1.0.0.
	playFluxChart(t, ns, newest, metav1.ConditionTrue, "1.0.0")
	got = waitCharts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 3, Failed: 3})
	g.Expect(chartIssue(got, ns, newest).Reason).To(Equal(verifyReasonNoSignature))
}

func testChartCredentials(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c := newCharts(t, registry.Options{Users: map[string]string{"flux": "s3cret"}})
	c.remote.Username, c.remote.Password = "flux", "s3cret"
	c.push(t, "private", "app", "1.0.0", c.signer, c.ca)
	ns := newNamespace(t, nil)
	p := newPolicy(c.ca, ns)
	create(t, p)
	basic := func(user, pass string) string {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("basic"), Namespace: ns},
			Data: map[string][]byte{"username": []byte(user), "password": []byte(pass)}}
		g.Expect(k8s.Create(ctx, s)).To(Succeed())
		return s.Name
	}
	withBasic := helmChart(t, ns, c.helmRepository(t, ns, "private", map[string]any{"secretRef": map[string]any{"name": basic("flux", "s3cret")}}), "app", "1.0.0")
	withDocker := helmChart(t, ns, c.helmRepository(t, ns, "private", map[string]any{"secretRef": map[string]any{"name": dockerConfigSecret(t, ns, c.reg.Host(), "flux", "s3cret")}}), "app", "1.0.0")
	wrong := helmChart(t, ns, c.helmRepository(t, ns, "private", map[string]any{"secretRef": map[string]any{"name": basic("flux", "wrong")}}), "app", "1.0.0")
	half := helmChart(t, ns, c.helmRepository(t, ns, "private", map[string]any{"secretRef": map[string]any{"name": basic("flux", "")}}), "app", "1.0.0")

	got := waitCharts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 4, Verified: 2, Failed: 2})
	g.Expect(chartIssue(got, ns, withBasic)).To(BeNil())
	g.Expect(chartIssue(got, ns, withDocker)).To(BeNil())
	g.Expect(chartIssue(got, ns, wrong).Reason).To(Equal(verifyReasonAuth))
	g.Expect(chartIssue(got, ns, wrong).Message).NotTo(ContainSubstring("s3cret"))
	g.Expect(chartIssue(got, ns, half).Reason).To(Equal(v1alpha1.ReasonRegistryAccess))
	g.Expect(chartIssue(got, ns, half).Message).To(ContainSubstring("required fields 'username' and 'password'"))
}

func testChartRotation(t *testing.T) {
	g := NewWithT(t)
	c := newCharts(t, registry.Options{})
	ns := newNamespace(t, nil)
	c.push(t, "charts", "app", "1.0.0", c.signer, c.ca)
	p := newPolicy(c.ca, ns)
	create(t, p)
	name := helmChart(t, ns, c.helmRepository(t, ns, "charts", nil), "app", "1.0.0")
	waitCharts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 1, Verified: 1})
	playFluxChart(t, ns, name, metav1.ConditionTrue, "1.0.0")

	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates[0].Inline = string(certs.NewCA("new root").PEM())
	})
	got := waitCharts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 1, Failed: 1, FluxStale: 1})
	g.Expect(chartIssue(got, ns, name).Reason).To(Equal(verifyReasonUntrusted))
	// Flux verifies a chart on every reconcile: a request is enough, even
	// in Force mode; its SourceVerified is left alone.
	g.Eventually(func(g Gomega) {
		u := getHelmChart(g, ns, name)
		g.Expect(u.GetAnnotations()).To(HaveKey("reconcile.fluxcd.io/requestedAt"))
		g.Expect(u.GetAnnotations()).NotTo(HaveKey("verification.flux-notation.io/force-attempts"))
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		g.Expect(conds).To(HaveLen(1), "SourceVerified was touched")
	}, timeout, poll).Should(Succeed())
}

func testChartPreflight(t *testing.T) {
	g := NewWithT(t)
	c := newCharts(t, registry.Options{})
	ns := newNamespace(t, nil)
	c.push(t, "charts", "app", "1.0.0", c.signer, c.ca)
	p := newPolicy(c.ca, ns)
	p.Spec.Rollout.Preflight = true
	create(t, p)
	name := helmChart(t, ns, c.helmRepository(t, ns, "charts", nil), "app", "1.0.0")
	old := waitCharts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 1, Verified: 1})

	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates[0].Inline = string(certs.NewCA("new root").PEM())
	})
	held := waitCondition(t, p.Name, v1alpha1.RolloutHeldCondition, metav1.ConditionTrue, v1alpha1.ReasonPreflightFailed)
	g.Expect(conditions.GetMessage(held, v1alpha1.RolloutHeldCondition)).To(ContainSubstring("HelmChart " + ns + "/" + name + ": UntrustedSigner"))
	g.Consistently(func(g Gomega) { g.Expect(secretDigest(g, ns)).To(Equal(old.Status.TrustDigest)) }, 2*time.Second, poll).Should(Succeed())
}
