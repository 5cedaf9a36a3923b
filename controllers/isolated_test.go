package controllers_test

import (
	"context"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/helmcharts"
	"github.com/flux-notation/verification-operator/test/certs"
	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// isolatedPlane starts a control plane and the operator of their own, for
// scenarios that change what the API server serves, which the shared plane
// must not see. It costs a kube-apiserver start: keep such tests few.
func isolatedPlane(t *testing.T) (c client.Client, installOCIRepositories, installHelmCharts func() error) {
	t.Helper()
	c, env := isolatedPlaneWith(t, testenv.Options{})
	return c, func() error { return installFluxCRD(env.Config) }, func() error { return installHelmCRDs(env.Config) }
}

// isolatedPlaneWith is isolatedPlane with the control plane tuned by o; it
// returns the plane, for tests that restart its API server.
func isolatedPlaneWith(t *testing.T, o testenv.Options) (client.Client, *envtest.Environment) {
	t.Helper()
	env, cfg, err := testenv.StartWith(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		_ = env.Stop()
	})
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: trustNS}}); err != nil {
		t.Fatal(err)
	}
	if err := startOperator(ctx, cfg, nil); err != nil {
		t.Fatal(err)
	}
	return c, env
}

// The manager starts, and syncs Secrets, on a cluster without Flux; it
// starts verifying without a restart once the OCIRepository API appears,
// and HelmCharts once theirs does.
func TestArtifactAPIAppearsLater(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c, installFlux, installHelm := isolatedPlane(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("ns")}}
	g.Expect(c.Create(ctx, ns)).To(Succeed())
	p := newPolicy(certs.NewCA("root"), ns.Name)
	g.Expect(c.Create(ctx, p)).To(Succeed())

	get := func(g Gomega) *v1alpha1.VerificationPolicy {
		got := &v1alpha1.VerificationPolicy{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: p.Name}, got)).To(Succeed())
		return got
	}
	g.Eventually(func(g Gomega) {
		got := get(g)
		a := conditions.Get(got, v1alpha1.ArtifactsVerifiedCondition)
		g.Expect(a).NotTo(BeNil())
		g.Expect(a.Status).To(Equal(metav1.ConditionUnknown))
		g.Expect(a.Reason).To(Equal(v1alpha1.ReasonOCIRepositoryAPINotFound))
		g.Expect(a.Message).To(ContainSubstring("source-controller"))
		// Secrets are synced regardless.
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(conditions.IsTrue(got, meta.ReadyCondition)).To(BeTrue(), "Ready: %v", conditions.Get(got, meta.ReadyCondition))
	}, timeout, poll).Should(Succeed())

	g.Expect(installFlux()).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := get(g)
		g.Expect(conditions.IsTrue(got, v1alpha1.ArtifactsVerifiedCondition)).To(BeTrue(), "%v", conditions.Get(got, v1alpha1.ArtifactsVerifiedCondition))
		g.Expect(conditions.GetReason(got, v1alpha1.ArtifactsVerifiedCondition)).To(Equal(meta.SucceededReason))
		g.Expect(got.Status.OCIRepositories.Matched).To(BeZero())
	}, timeout, poll).Should(Succeed())

	// Then the HelmChart API: a chart there is governed without a restart.
	g.Expect(installHelm()).To(Succeed())
	repo := helmcharts.NewRepository()
	repo.SetNamespace(ns.Name)
	repo.SetName("charts")
	repo.Object["spec"] = map[string]any{"type": "oci", "url": "oci://127.0.0.1:1/charts", "interval": "10m"}
	chart := helmcharts.New()
	chart.SetNamespace(ns.Name)
	chart.SetName("app")
	chart.Object["spec"] = map[string]any{"chart": "app", "version": "1.0.0", "interval": "10m",
		"sourceRef": map[string]any{"kind": "HelmRepository", "name": "charts"},
		"verify":    map[string]any{"provider": "notation", "secretRef": map[string]any{"name": "notation-config"}}}
	g.Expect(c.Create(ctx, repo)).To(Succeed())
	g.Expect(c.Create(ctx, chart)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := get(g)
		g.Expect(got.Status.HelmCharts.Matched).To(BeEquivalentTo(1), "issues: %+v", got.Status.ArtifactIssues)
		g.Expect(got.Status.Artifacts.Matched).To(BeEquivalentTo(1))
	}, timeout, poll).Should(Succeed())
}
