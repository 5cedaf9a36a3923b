package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/helmcharts"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// chartCast is namespaces each holding an OCI HelmRepository "charts" and
// a HelmChart "app" built from it, verified with Notation using the
// operator's Secret.
type chartCast struct {
	label   map[string]string
	ns      []string
	reg     *registry.Registry
	g1, g2  *certs.Cert
	signer1 *certs.Cert
}

// newChartCast pushes, to one namespace each, chart "app" at the given
// version, signed under G1, G2 or not at all (signers[i] nil).
func newChartCast(t *testing.T, versions []string, signedBy []int) *chartCast {
	t.Helper()
	usesRealFlux(t)
	ctx := context.Background()
	g := NewWithT(t)
	// Flux takes a chart verification error that mentions "401" (in a
	// port, a namespace or a digest) for an authentication failure, and
	// then reports no verdict (notation.FluxTakesForAuthError): the
	// registry, the namespaces and the signatures are picked so that none
	// of them does.
	c := &chartCast{reg: chartRegistry(t), label: uniqueLabel(),
		g1: certs.NewCA("helm e2e root G1"), g2: certs.NewCA("helm e2e root G2")}
	remote := notation.For(c.reg)
	c.signer1 = certs.NewCodeSigner("helm e2e release", c.g1)
	signer2 := certs.NewCodeSigner("helm e2e release", c.g2)
	c.ns = make([]string, len(versions))
	for i := range c.ns {
		c.ns[i] = uniqueName("helm")
		for notation.FluxTakesForAuthError(c.ns[i]) {
			c.ns[i] = uniqueName("helm")
		}
		createNamespace(t, c.ns[i], c.label)
	}
	for i, v := range versions {
		repo := c.reg.Reference(c.ns[i] + "/charts")
		desc, err := notation.PushChart(ctx, remote, repo, "app", v)
		g.Expect(err).NotTo(HaveOccurred())
		// The chart's digest depends on its name and version only.
		g.Expect(notation.FluxTakesForAuthError(desc.Digest.String())).To(BeFalse(),
			"chart app %s has digest %s, which Flux would take for an authentication error: use another version", v, desc.Digest)
		switch signedBy[i] {
		case 1:
			err = notation.SignChart(ctx, remote, repo+"/app", desc, c.signer1, c.g1)
		case 2:
			err = notation.SignChart(ctx, remote, repo+"/app", desc, signer2, c.g2)
		}
		g.Expect(err).NotTo(HaveOccurred())
	}
	return c
}

// chartRegistry starts a registry whose address does not look like an
// authentication error to Flux (see newChartCast), stopped when t ends.
func chartRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	r, err := notation.NewChartRegistry(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func (c *chartCast) policy(name string, ca *certs.Cert) *v1alpha1.VerificationPolicy {
	p := newPolicy(name, c.label, inlineCA("root", ca))
	p.Spec.TrustPolicies[0].TrustedIdentities = []string{"x509.subject: " + c.signer1.Cert.Subject.String()}
	return p
}

// createCharts creates each namespace's HelmRepository and HelmChart, the
// chart at versions[i].
func (c *chartCast) createCharts(t *testing.T, versions []string) {
	t.Helper()
	for i, n := range c.ns {
		repo := helmcharts.NewRepository()
		repo.SetNamespace(n)
		repo.SetName("charts")
		repo.Object["spec"] = map[string]any{"type": "oci", "url": "oci://" + c.reg.Reference(n+"/charts"), "insecure": true, "interval": "10m"}
		chart := helmcharts.New()
		chart.SetNamespace(n)
		chart.SetName("app")
		chart.Object["spec"] = map[string]any{
			"chart": "app", "version": versions[i], "interval": "10m",
			"sourceRef": map[string]any{"kind": "HelmRepository", "name": "charts"},
			"verify":    map[string]any{"provider": "notation", "secretRef": map[string]any{"name": v1alpha1.DefaultSecretName}},
		}
		for _, o := range []*unstructured.Unstructured{repo, chart} {
			if err := k8s.Create(context.Background(), o); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// chartVerified is Flux's SourceVerified condition of a namespace's chart.
func chartVerified(g Gomega, ns string) *metav1.Condition {
	u := helmcharts.New()
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "app"}, u)).To(Succeed())
	chart, err := helmcharts.FromUnstructured(u)
	g.Expect(err).NotTo(HaveOccurred())
	return apimeta.FindStatusCondition(chart.Status.Conditions, "SourceVerified")
}

// expectChart asserts Flux's verdict on a namespace's chart.
func expectChart(g Gomega, ns string, verified bool, message string) {
	c := chartVerified(g, ns)
	g.Expect(c).NotTo(BeNil(), "Flux has not verified the chart in %s", ns)
	want := metav1.ConditionFalse
	if verified {
		want = metav1.ConditionTrue
	}
	g.Expect(c.Status).To(Equal(want), "%s: %s", ns, c.Message)
	g.Expect(c.Message).To(ContainSubstring(message))
}

// waitChartVerdicts waits until the policy reports the HelmCharts of its
// namespaces verified except failed (namespace -> reason).
func waitChartVerdicts(t *testing.T, policy string, matched int, failed map[string]string) *v1alpha1.VerificationPolicy {
	t.Helper()
	var out *v1alpha1.VerificationPolicy
	NewWithT(t).Eventually(func(g Gomega) {
		p := getPolicy(g, policy)
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
		c := p.Status.HelmCharts
		g.Expect(c.Pending).To(BeZero(), "pending: %v", p.Status.ArtifactIssues)
		g.Expect(c.Matched).To(BeEquivalentTo(matched))
		got := map[string]string{}
		for _, is := range p.Status.ArtifactIssues {
			g.Expect(is.Kind).To(Equal("HelmChart"))
			got[is.Namespace] = is.Reason
		}
		g.Expect(got).To(Equal(failed))
		g.Expect(c.Failed).To(BeEquivalentTo(len(failed)))
		out = p
	}, fluxTimeout, poll).Should(Succeed())
	return out
}

// TestRealFluxHelmChartsFollowTheOperatorsSecret: HelmCharts from an OCI
// HelmRepository verify with the operator's Secret in the real Flux, and the
// policy's HelmChart counts agree with Flux's SourceVerified before and
// after a rotation.
func TestRealFluxHelmChartsFollowTheOperatorsSecret(t *testing.T) {
	ctx := context.Background()
	versions := []string{"1.0.0", "1.0.0", "1.0.0"}
	c := newChartCast(t, versions, []int{1, 2, 0})
	signedG1, signedG2, unsigned := c.ns[0], c.ns[1], c.ns[2]
	m := startManager(t)
	name := uniqueName("helm")
	if err := k8s.Create(ctx, c.policy(name, c.g1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePolicy(t, name) })
	waitSecrets(t, name, c.ns, waitReadyDigest(t, name))
	c.createCharts(t, versions)

	steps(t,
		step{"Flux and the policy agree before the rotation", func(t *testing.T) {
			NewWithT(t).Eventually(func(g Gomega) {
				expectChart(g, signedG1, true, "verified signature of version 1.0.0")
				expectChart(g, signedG2, false, "chart verification error: failed to verify oci://")
				expectChart(g, unsigned, false, "chart verification error: failed to verify oci://")
			}, fluxTimeout, poll).Should(Succeed())
			waitChartVerdicts(t, name, 3, map[string]string{signedG2: "UntrustedSigner", unsigned: "SignatureNotFound"})
		}},
		step{"after a rotation Flux re-verifies every chart, and the policy agrees", func(t *testing.T) {
			start := time.Now()
			updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0] = inlineCA("root", c.g2) })
			NewWithT(t).Eventually(func(g Gomega) {
				expectChart(g, signedG1, false, "chart verification error")
				expectChart(g, signedG2, true, "verified signature of version 1.0.0")
				expectChart(g, unsigned, false, "chart verification error")
			}, fluxTimeout, poll).Should(Succeed())
			t.Logf("FIGURE Flux's HelmChart verdicts reflected the rotation %s after it", time.Since(start).Round(10*time.Millisecond))
			p := waitChartVerdicts(t, name, 3, map[string]string{signedG1: "UntrustedSigner", unsigned: "SignatureNotFound"})
			NewWithT(t).Eventually(func(g Gomega) {
				counts := getPolicy(g, name).Status.HelmCharts
				g.Expect(counts.FluxStale).To(BeZero(), "%+v", counts)
				g.Expect(counts.ForcesInFlight).To(BeZero(), "HelmCharts are never forced: %+v", counts)
				// Flux's one True (signed by G2) is provably from the new trust.
				g.Expect(counts.FluxVerified).To(BeEquivalentTo(1), "%+v", counts)
			}, timeout, poll).Should(Succeed())
			NewWithT(t).Expect(p.Status.Artifacts.Matched).To(BeEquivalentTo(3))
		}},
		step{"the manager was never refused a request", func(t *testing.T) { expectNoForbidden(t, m) }},
	)
}

// TestRealFluxAndBuildMetadataInAChartVersion records what source-controller
// v1.9.3 does with a chart version carrying build metadata, pushed as helm
// push does ("+" written "_" in the tag): it verifies through a reference
// "<repository>:<version>" with the "+", which go-containerregistry refuses.
// The operator reports what Flux does.
func TestRealFluxAndBuildMetadataInAChartVersion(t *testing.T) {
	ctx := context.Background()
	versions := []string{"1.2.0+build.7"}
	c := newChartCast(t, versions, []int{1})
	startManager(t)
	name := uniqueName("helm-build")
	if err := k8s.Create(ctx, c.policy(name, c.g1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePolicy(t, name) })
	waitSecrets(t, name, c.ns, waitReadyDigest(t, name))
	c.createCharts(t, versions)
	var flux *metav1.Condition
	NewWithT(t).Eventually(func(g Gomega) {
		flux = chartVerified(g, c.ns[0])
		g.Expect(flux).NotTo(BeNil())
	}, fluxTimeout, poll).Should(Succeed())
	t.Logf("Flux on %s: SourceVerified=%s: %s", versions[0], flux.Status, flux.Message)
	p := waitChartVerdicts(t, name, 1, map[string]string{c.ns[0]: "InvalidReference"})
	NewWithT(t).Expect(flux.Status).To(Equal(metav1.ConditionFalse), "Flux verified %s after all: %s", versions[0], flux.Message)
	NewWithT(t).Expect(flux.Message).To(ContainSubstring("invalid chart reference"))
	NewWithT(t).Expect(fmt.Sprint(p.Status.ArtifactIssues[0].Message)).To(ContainSubstring("invalid chart reference"))
}
