package e2e

import (
	"context"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// TestArtifactVerificationFollowsRotation is the second half of the user's
// story: OCIRepositories that verify with the policy's Secret are verified
// by the manager (notation-go against a real registry), failures are
// reported with their reason, and a CA rotation changes the verdicts.
//
// Three namespaces each pull one artifact: signed under G1, signed under
// G2, and unsigned. The policy trusts G1, then is rotated to G2.
func TestArtifactVerificationFollowsRotation(t *testing.T) {
	usesRealFlux(t)
	ctx := context.Background()
	g := NewWithT(t)
	reg := registry.Start(t, registry.Options{})
	remote := notation.For(reg)
	g1, g2 := certs.NewCA("e2e root G1"), certs.NewCA("e2e root G2")
	signer1, signer2 := certs.NewCodeSigner("e2e release", g1), certs.NewCodeSigner("e2e release", g2)

	label := uniqueLabel()
	ns := createNamespaces(t, "verify", 3, label)
	signedG1, signedG2, unsigned := ns[0], ns[1], ns[2]
	for i, signer := range []*certs.Cert{signer1, signer2, nil} {
		repo := reg.Reference(ns[i] + "/app")
		desc, err := notation.PushArtifact(ctx, remote, repo, "", []byte("manifests of "+ns[i]))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(notation.Tag(ctx, remote, repo, desc, "v1")).To(Succeed())
		if signer != nil {
			_, err = notation.Sign(ctx, remote, repo, desc, signer, []*certs.Cert{g1, g2}[i])
			g.Expect(err).NotTo(HaveOccurred())
		}
		g.Expect(k8s.Create(ctx, cluster.NotationOCIRepository(ns[i], "app", repo, "v1", v1alpha1.DefaultSecretName))).To(Succeed())
	}

	m := startManager(t)
	name := uniqueName("verify")
	p := newPolicy(name, label, inlineCA("root", g1))
	p.Spec.TrustPolicies[0].TrustedIdentities = []string{"x509.subject: " + signer1.Cert.Subject.String()}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	t.Cleanup(func() { deletePolicy(t, name) }) // runs before the manager stops

	steps(t,
		step{"only the artifact signed under the trusted CA verifies", func(t *testing.T) {
			waitVerdicts(t, name, map[string]string{
				signedG2: "UntrustedSigner",
				unsigned: "SignatureNotFound",
			})
			waitCondition(t, name, meta.ReadyCondition, metav1.ConditionFalse, "VerificationFailed")
		}},
		step{"rotating to G2 changes the verdicts", func(t *testing.T) {
			before := requestedAt(t, ns)
			updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) {
				p.Spec.Certificates[0] = inlineCA("root", g2)
			})
			waitVerdicts(t, name, map[string]string{
				signedG1: "UntrustedSigner",
				unsigned: "SignatureNotFound",
			})
			// spec.ociRepositories.reverify defaults to Force: Flux, which
			// does not watch Secrets, is asked to reconcile (and, where it
			// would keep an old verdict, its SourceVerified is removed).
			NewWithT(t).Eventually(func(g Gomega) {
				after := requestedAt(t, ns)
				for _, n := range ns {
					g.Expect(after[n]).NotTo(Or(BeEmpty(), Equal(before[n])), "%s/app: %s", n, meta.ReconcileRequestAnnotation)
				}
			}, timeout, poll).Should(Succeed())
		}},
		step{"the manager was never refused a request", func(t *testing.T) {
			expectNoForbidden(t, m)
		}},
	)
}

// requestedAt returns the reconcile.fluxcd.io/requestedAt annotation of
// the OCIRepository "app" in each namespace.
func requestedAt(t *testing.T, namespaces []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range namespaces {
		o := ocirepos.New()
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: n, Name: "app"}, o); err != nil {
			t.Fatal(err)
		}
		out[n] = o.GetAnnotations()[meta.ReconcileRequestAnnotation]
	}
	return out
}

// waitVerdicts waits until the policy has handled its current generation,
// reports every OCIRepository in its namespaces as verified or failed
// (none pending), and failed ones are exactly those in failed, with the
// given reasons.
func waitVerdicts(t *testing.T, policy string, failed map[string]string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		p := getPolicy(g, policy)
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
		c := p.Status.OCIRepositories
		g.Expect(c.Pending).To(BeZero(), "pending: %v", p.Status.ArtifactIssues)
		g.Expect(c.Matched).To(BeEquivalentTo(3))
		g.Expect(c.Failed).To(BeEquivalentTo(len(failed)), "issues: %v", p.Status.ArtifactIssues)
		got := map[string]string{}
		for _, issue := range p.Status.ArtifactIssues {
			got[issue.Namespace] = issue.Reason
		}
		g.Expect(got).To(Equal(failed))
	}, timeout, poll).Should(Succeed())
}
