package e2e

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// TestStagedRolloutSurvivesARestart holds a staged rollout at a failing
// second stage, kills the manager, and checks a new one resumes from the
// state in the cluster: nothing is rolled back or re-done, the third stage
// still holds the previous configuration, and the rollout completes once
// the failing artifact is re-signed.
func TestStagedRolloutSurvivesARestart(t *testing.T) {
	usesRealFlux(t)
	ctx := context.Background()
	g := NewWithT(t)
	reg := registry.Start(t, registry.Options{})
	remote := notation.For(reg)
	oldCA, newCA := certs.NewCA("e2e old root"), certs.NewCA("e2e new root")
	oldSigner, newSigner := certs.NewCodeSigner("e2e release", oldCA), certs.NewCodeSigner("e2e release", newCA)

	label := uniqueLabel()
	ns := createNamespaces(t, "staged", 3, label)
	laggardRepo := reg.Reference(ns[1] + "/app")
	var laggard ocispec.Descriptor
	for i := range ns {
		repo := reg.Reference(ns[i] + "/app")
		desc, err := notation.PushArtifact(ctx, remote, repo, "", []byte("manifests of "+ns[i]))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(notation.Tag(ctx, remote, repo, desc, "v1")).To(Succeed())
		_, err = notation.Sign(ctx, remote, repo, desc, oldSigner, oldCA)
		g.Expect(err).NotTo(HaveOccurred())
		if i == 1 {
			laggard = desc
		}
		if i != 1 { // the second stage's artifact is not re-signed for the new CA yet
			_, err = notation.Sign(ctx, remote, repo, desc, newSigner, newCA)
			g.Expect(err).NotTo(HaveOccurred())
		}
		g.Expect(k8s.Create(ctx, cluster.NotationOCIRepository(ns[i], "app", repo, "v1", v1alpha1.DefaultSecretName))).To(Succeed())
	}

	recheck := "--rollout-recheck-interval=2s"
	m := startManager(t, recheck)
	name := uniqueName("staged")
	p := newPolicy(name, label, inlineCA("root", oldCA))
	p.Spec.Rollout = v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStaged, Stages: []v1alpha1.RolloutStage{
		{Name: "first", Namespaces: []string{ns[0]}},
		{Name: "second", Namespaces: []string{ns[1]}},
		{Name: "third", Namespaces: []string{ns[2]}},
	}}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	old := waitReady(t, name).Status.TrustDigest

	updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates = []v1alpha1.CertificateSource{inlineCA("root", newCA)}
	})
	var held *v1alpha1.VerificationPolicy
	g.Eventually(func(g Gomega) {
		held = getPolicy(g, name)
		g.Expect(held.Status.Rollout).NotTo(BeNil())
		g.Expect(held.Status.Rollout.Stages).To(HaveLen(3))
		g.Expect(held.Status.Rollout.Stages[1].State).To(Equal(v1alpha1.StageFailed))
	}, timeout, poll).Should(Succeed())
	desired := held.Status.Rollout.DesiredDigest
	firstDone := held.Status.Rollout.Stages[0].CompletedAt

	g.Expect(m.Kill()).To(Succeed())
	<-m.Done()
	startManager(t, recheck)
	// Cleanups run last-in first-out: delete the policy while this manager
	// still runs to remove its finalizer.
	t.Cleanup(func() { deletePolicy(t, name) })

	// The new manager finds the rollout where the old one left it.
	g.Consistently(func(g Gomega) {
		p := getPolicy(g, name)
		st := p.Status.Rollout
		g.Expect(st.DesiredDigest).To(Equal(desired))
		g.Expect(st.StableDigest).To(Equal(old))
		g.Expect(st.Stages[0].State).To(Equal(v1alpha1.StageVerified))
		g.Expect(st.Stages[0].CompletedAt.Equal(firstDone)).To(BeTrue(), "the first stage was redone")
		g.Expect(st.Stages[1].State).To(Equal(v1alpha1.StageFailed))
		secrets := secretsOf(g, name)
		g.Expect(secrets[ns[0]].Annotations[v1alpha1.TrustDigestAnnotation]).To(Equal(desired))
		g.Expect(secrets[ns[2]].Annotations[v1alpha1.TrustDigestAnnotation]).To(Equal(old))
	}, 3*poll*10, poll).Should(Succeed())
	waitCondition(t, name, v1alpha1.RolloutHeldCondition, metav1.ConditionTrue, v1alpha1.ReasonStageFailed)

	// Re-signing the laggard lets the restarted manager finish the rollout.
	_, err := notation.Sign(ctx, remote, laggardRepo, laggard, newSigner, newCA)
	g.Expect(err).NotTo(HaveOccurred())
	waitSecrets(t, name, ns, desired)
	g.Eventually(func(g Gomega) {
		g.Expect(getPolicy(g, name).Status.Rollout.StableDigest).To(Equal(desired))
	}, timeout, poll).Should(Succeed())
	waitReady(t, name)
}
