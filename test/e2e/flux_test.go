package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// These tests put the real Flux source-controller (v1.9.3, built from the
// module proxy) next to the operator: the Secrets the operator writes are
// the ones Flux verifies with, and Flux's own SourceVerified condition is
// asserted next to the policy's verdicts.

// fluxTimeout bounds a wait on Flux: it retries a failed verification with
// a backoff that starts under a second.
const fluxTimeout = 60 * time.Second

// fluxCast is three namespaces, each with an OCIRepository "app" whose
// artifact is signed under G1, signed under G2, or unsigned.
type fluxCast struct {
	reg                      *registry.Registry
	label                    map[string]string
	ns                       []string
	signedG1, signedG2, none string
	g1, g2, signer1          *certs.Cert
}

func newFluxCast(t *testing.T) *fluxCast {
	t.Helper()
	usesRealFlux(t)
	ctx := context.Background()
	g := NewWithT(t)
	reg := registry.Start(t, registry.Options{})
	remote := notation.For(reg)
	c := &fluxCast{reg: reg, label: uniqueLabel(), g1: certs.NewCA("flux e2e root G1"), g2: certs.NewCA("flux e2e root G2")}
	c.signer1 = certs.NewCodeSigner("flux e2e release", c.g1)
	signer2 := certs.NewCodeSigner("flux e2e release", c.g2)
	c.ns = createNamespaces(t, "flux", 3, c.label)
	c.signedG1, c.signedG2, c.none = c.ns[0], c.ns[1], c.ns[2]
	for i, signer := range []*certs.Cert{c.signer1, signer2, nil} {
		repo := reg.Reference(c.ns[i] + "/app")
		content, err := notation.FluxContent("deploy.yaml", []byte("# manifests of "+c.ns[i]+"\n"))
		g.Expect(err).NotTo(HaveOccurred())
		desc, err := notation.PushArtifact(ctx, remote, repo, "", content)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(notation.Tag(ctx, remote, repo, desc, "v1")).To(Succeed())
		if signer != nil {
			_, err = notation.Sign(ctx, remote, repo, desc, signer, []*certs.Cert{c.g1, c.g2}[i])
			g.Expect(err).NotTo(HaveOccurred())
		}
	}
	return c
}

// policy returns a policy trusting ca for the cast's namespaces.
func (c *fluxCast) policy(name string, ca *certs.Cert) *v1alpha1.VerificationPolicy {
	p := newPolicy(name, c.label, inlineCA("root", ca))
	p.Spec.TrustPolicies[0].TrustedIdentities = []string{"x509.subject: " + c.signer1.Cert.Subject.String()}
	return p
}

// createOCIRepositories creates the OCIRepositories Flux reconciles.
func (c *fluxCast) createOCIRepositories(t *testing.T) {
	t.Helper()
	for _, n := range c.ns {
		repo := cluster.NotationOCIRepository(n, "app", c.reg.Reference(n+"/app"), "v1", v1alpha1.DefaultSecretName)
		if err := k8s.Create(context.Background(), repo); err != nil {
			t.Fatal(err)
		}
	}
}

// fluxView is Flux's own report on one OCIRepository.
type fluxView struct {
	verified    *metav1.Condition // SourceVerified
	handled     string            // status.lastHandledReconcileAt
	requestedAt string            // reconcile.fluxcd.io/requestedAt
	generation  int64
}

func (v fluxView) String() string {
	if v.verified == nil {
		return "no SourceVerified condition"
	}
	return fmt.Sprintf("SourceVerified=%s (%s): %s", v.verified.Status, v.verified.Reason, v.verified.Message)
}

// fluxAnnotations are an OCIRepository's annotations, for failure messages.
func fluxAnnotations(g Gomega, ns, name string) map[string]string {
	u := ocirepos.New()
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)).To(Succeed())
	return u.GetAnnotations()
}

func readFlux(g Gomega, ns, name string) fluxView {
	u := ocirepos.New()
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)).To(Succeed())
	repo, err := ocirepos.FromUnstructured(u)
	g.Expect(err).NotTo(HaveOccurred())
	return fluxView{
		verified:    apimeta.FindStatusCondition(repo.Status.Conditions, "SourceVerified"),
		handled:     repo.Status.LastHandledReconcileAt,
		requestedAt: u.GetAnnotations()[meta.ReconcileRequestAnnotation],
		generation:  u.GetGeneration(),
	}
}

// expectFlux asserts Flux's verdict: verified, or failed with a message
// containing failure.
func expectFlux(g Gomega, v fluxView, verified bool, failure string) {
	g.Expect(v.verified).NotTo(BeNil(), "Flux has not verified yet")
	if verified {
		g.Expect(v.verified.Status).To(Equal(metav1.ConditionTrue), "%s", v)
		g.Expect(v.verified.Message).To(HavePrefix("verified signature of revision v1@sha256:"))
		return
	}
	g.Expect(v.verified.Status).To(Equal(metav1.ConditionFalse), "%s", v)
	g.Expect(v.verified.Reason).To(Equal("VerificationError"))
	g.Expect(v.verified.Message).To(HavePrefix("failed to verify the signature using provider 'notation': "))
	g.Expect(v.verified.Message).To(ContainSubstring(failure))
}

// Flux's failure messages, as notation-go words them.
const (
	fluxUntrusted   = "the signature's certificate chain does not contain any trusted certificate"
	fluxNoSignature = "no signature is associated with"
)

// TestRealFluxVerifiesWithTheOperatorsSecret is the user's story with Flux
// in the loop: Flux accepts exactly what the policy says verifies, keeps a
// stale verdict after a rotation when only asked to reconcile (Flux before
// v1.10), and the policy's fluxStale count names it.
func TestRealFluxVerifiesWithTheOperatorsSecret(t *testing.T) {
	ctx := context.Background()
	c := newFluxCast(t)
	m := startManager(t)
	name := uniqueName("flux")
	p := c.policy(name, c.g1)
	// What Flux before v1.10 does with only a reconcile request is the point
	// here; forcing Flux to re-verify is tested on its own.
	p.Spec.OCIRepositories.Reverify = v1alpha1.ReverifyRequestReconcile
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePolicy(t, name) })

	var rotatedAt time.Time
	steps(t,
		step{"Flux verifies with the Secret the operator wrote, as the policy says", func(t *testing.T) {
			waitSecrets(t, name, c.ns, waitReadyDigest(t, name))
			c.createOCIRepositories(t)
			NewWithT(t).Eventually(func(g Gomega) {
				expectFlux(g, readFlux(g, c.signedG1, "app"), true, "")
				expectFlux(g, readFlux(g, c.signedG2, "app"), false, fluxUntrusted)
				expectFlux(g, readFlux(g, c.none, "app"), false, fluxNoSignature)
			}, fluxTimeout, poll).Should(Succeed())
			waitVerdicts(t, name, map[string]string{c.signedG2: "UntrustedSigner", c.none: "SignatureNotFound"})
			// No trust change yet, so nothing was asked of Flux: v1.9 reports
			// no fingerprint, and its verdicts are neither stale nor provably
			// current.
			counts := getPolicy(NewWithT(t), name).Status.OCIRepositories
			NewWithT(t).Expect(counts.FluxStale).To(BeZero())
			NewWithT(t).Expect(counts.FluxVerified).To(BeZero())
		}},
		step{"after a rotation Flux keeps its old verdict for the artifact now rejected, and the policy reports it stale", func(t *testing.T) {
			rotatedAt = time.Now()
			updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0] = inlineCA("root", c.g2) })
			waitVerdicts(t, name, map[string]string{c.signedG1: "UntrustedSigner", c.none: "SignatureNotFound"})
			// Flux handled the operator's reconcile request in every
			// namespace, and re-verified the two that had failed...
			NewWithT(t).Eventually(func(g Gomega) {
				for _, n := range c.ns {
					v := readFlux(g, n, "app")
					g.Expect(v.requestedAt).NotTo(BeEmpty(), "no reconcile requested in %s", n)
					g.Expect(v.handled).To(Equal(v.requestedAt), "Flux has not handled the request in %s", n)
				}
				expectFlux(g, readFlux(g, c.signedG2, "app"), true, "")
				expectFlux(g, readFlux(g, c.none, "app"), false, fluxNoSignature)
			}, fluxTimeout, poll).Should(Succeed())
			// ...but kept SourceVerified=True, from before the rotation, for
			// the artifact the new trust rejects: Flux v1.9's rule.
			g := NewWithT(t)
			stale := readFlux(g, c.signedG1, "app")
			expectFlux(g, stale, true, "")
			g.Expect(stale.verified.LastTransitionTime.Time).To(BeTemporally("<", rotatedAt.Truncate(time.Second).Add(time.Second)))
			// The policy agrees with Flux's objects: both True verdicts are
			// accounted for, and the one from before the rotation is stale.
			// The other (signedG2, False when the trust changed) is current
			// when Flux produced it on the request, in a later second than
			// the change; if Flux's own retry of the failure verified it
			// first, in the change's second, it cannot be proven and is
			// stale too (RequestReconcile does not force; the unit tests
			// pin down both cases).
			g.Eventually(func(g Gomega) {
				p := getPolicy(g, name)
				counts := p.Status.OCIRepositories
				g.Expect(counts.FluxStale+counts.FluxVerified).To(BeEquivalentTo(2), "counts: %+v", counts)
				g.Expect(counts.FluxStale).To(BeNumerically(">=", 1), "signedG1's True is from before the rotation: %+v", counts)
			}, timeout, poll).Should(Succeed())
			counts := getPolicy(g, name).Status.OCIRepositories
			t.Logf("after the rotation: fluxVerified %d, fluxStale %d (signedG2 %s)", counts.FluxVerified, counts.FluxStale,
				map[bool]string{true: "provably current", false: "verified by Flux before the request, in the change's second"}[counts.FluxVerified == 1])
		}},
		step{"the manager was never refused a request", func(t *testing.T) { expectNoForbidden(t, m) }},
	)
}

// TestRealFluxAfterThePolicyIsDeleted: with deletionPolicy Delete the
// Secret goes and Flux's next verification fails for want of it; with
// Orphan the Secret stays and Flux keeps verifying.
func TestRealFluxAfterThePolicyIsDeleted(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	for _, tc := range []struct {
		policy  v1alpha1.DeletionPolicy
		verify  bool
		failure string
	}{
		{v1alpha1.DeletionPolicyDelete, false, `secrets "notation-config" not found`},
		{v1alpha1.DeletionPolicyOrphan, true, ""},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			c := newFluxCast(t)
			name := uniqueName("flux-deleted")
			p := c.policy(name, c.g1)
			p.Spec.Target.DeletionPolicy = tc.policy
			if err := k8s.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			waitSecrets(t, name, c.ns, waitReadyDigest(t, name))
			c.createOCIRepositories(t)
			NewWithT(t).Eventually(func(g Gomega) {
				expectFlux(g, readFlux(g, c.signedG1, "app"), true, "")
			}, fluxTimeout, poll).Should(Succeed())

			deletePolicy(t, name)
			// Flux reads the Secret only when it verifies: a spec change
			// (here a new interval, as a user would make) makes it verify.
			bumpGeneration(t, c.signedG1, "app")
			NewWithT(t).Eventually(func(g Gomega) {
				v := readFlux(g, c.signedG1, "app")
				g.Expect(v.verified).NotTo(BeNil())
				g.Expect(v.verified.ObservedGeneration).To(Equal(v.generation), "Flux has not verified generation %d: %s", v.generation, v)
				expectFlux(g, v, tc.verify, tc.failure)
			}, fluxTimeout, poll).Should(Succeed())
		})
	}
}

// waitReadyDigest waits for Ready and returns the policy's trust digest.
func waitReadyDigest(t *testing.T, name string) string {
	t.Helper()
	return waitReady(t, name).Status.TrustDigest
}

// bumpGeneration changes spec.interval of an OCIRepository, which changes
// its generation.
func bumpGeneration(t *testing.T, ns, name string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := ocirepos.New()
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			return err
		}
		interval, _, _ := unstructured.NestedString(u.Object, "spec", "interval")
		next := "11m"
		if interval == next {
			next = "12m"
		}
		if err := unstructured.SetNestedField(u.Object, next, "spec", "interval"); err != nil {
			return err
		}
		return k8s.Update(context.Background(), u)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRealFluxReverifiesAfterARotation: with the default reverify mode
// (Force) a rotation makes Flux itself verify again, so its own objects show
// the new verdicts, and the policy's counts agree with them.
func TestRealFluxReverifiesAfterARotation(t *testing.T) {
	ctx := context.Background()
	c := newFluxCast(t)
	m := startManager(t)
	name := uniqueName("flux-force")
	if err := k8s.Create(ctx, c.policy(name, c.g1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePolicy(t, name) })
	waitSecrets(t, name, c.ns, waitReadyDigest(t, name))
	c.createOCIRepositories(t)
	NewWithT(t).Eventually(func(g Gomega) {
		expectFlux(g, readFlux(g, c.signedG1, "app"), true, "")
		expectFlux(g, readFlux(g, c.signedG2, "app"), false, fluxUntrusted)
	}, fluxTimeout, poll).Should(Succeed())

	start := time.Now()
	updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0] = inlineCA("root", c.g2) })
	NewWithT(t).Eventually(func(g Gomega) {
		expectFlux(g, readFlux(g, c.signedG1, "app"), false, fluxUntrusted)
		expectFlux(g, readFlux(g, c.signedG2, "app"), true, "")
		expectFlux(g, readFlux(g, c.none, "app"), false, fluxNoSignature)
	}, fluxTimeout, poll).Should(Succeed(), "Flux's own verdicts after the rotation")
	t.Logf("FIGURE Flux's own SourceVerified reflected the rotation %s after it", time.Since(start).Round(10*time.Millisecond))

	waitVerdicts(t, name, map[string]string{c.signedG1: "UntrustedSigner", c.none: "SignatureNotFound"})
	NewWithT(t).Eventually(func(g Gomega) {
		counts := getPolicy(g, name).Status.OCIRepositories
		// Nothing stale, nothing in flight; the one True is provably new.
		g.Expect(counts.FluxStale).To(BeZero(), "%+v", counts)
		g.Expect(counts.ForcesInFlight).To(BeZero(), "%+v", counts)
		g.Expect(counts.FluxVerified).To(BeEquivalentTo(1), "%+v", counts)
	}, timeout, poll).Should(Succeed())
	expectNoForbidden(t, m)
}

// TestRealFluxForceSurvivesAManagerRestart: a force made while Flux is
// down is neither repeated nor forgotten by a manager killed and started
// again; once Flux is back it verifies, and the policy sees it.
func TestRealFluxForceSurvivesAManagerRestart(t *testing.T) {
	ctx := context.Background()
	c := newFluxCast(t)
	m := startManager(t)
	name := uniqueName("flux-restart")
	if err := k8s.Create(ctx, c.policy(name, c.g1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePolicy(t, name) })
	waitSecrets(t, name, c.ns, waitReadyDigest(t, name))
	c.createOCIRepositories(t)
	NewWithT(t).Eventually(func(g Gomega) {
		expectFlux(g, readFlux(g, c.signedG1, "app"), true, "")
	}, fluxTimeout, poll).Should(Succeed())

	// Flux stops; the rotation is forced while nothing can answer it.
	startFluxAgain := stopFlux(t)
	updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0] = inlineCA("root", c.g2) })
	var token string
	NewWithT(t).Eventually(func(g Gomega) {
		v := readFlux(g, c.signedG1, "app")
		g.Expect(v.verified).To(BeNil(), "SourceVerified was not removed")
		g.Expect(v.requestedAt).NotTo(BeEmpty())
		token = v.requestedAt
		g.Expect(getPolicy(g, name).Status.OCIRepositories.ForcesInFlight).To(BeEquivalentTo(1))
	}, timeout, poll).Should(Succeed())

	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	startManager(t)
	// Cleanups run last first: delete the policy while this manager runs.
	t.Cleanup(func() { deletePolicy(t, name) })
	NewWithT(t).Consistently(func(g Gomega) {
		v := readFlux(g, c.signedG1, "app")
		g.Expect(v.requestedAt).To(Equal(token), "the restarted manager forced again")
		p := getPolicy(g, name)
		g.Expect(p.Status.OCIRepositories.ForcesInFlight).To(BeEquivalentTo(1), "the force was forgotten: %+v, issues %+v, Flux's object: %s, annotations %v",
			p.Status.OCIRepositories, p.Status.ArtifactIssues, v, fluxAnnotations(g, c.signedG1, "app"))
	}, 3*time.Second, poll).Should(Succeed())

	startFluxAgain()
	NewWithT(t).Eventually(func(g Gomega) {
		v := readFlux(g, c.signedG1, "app")
		expectFlux(g, v, false, fluxUntrusted)
		g.Expect(v.handled).To(Equal(token))
		counts := getPolicy(g, name).Status.OCIRepositories
		g.Expect(counts.ForcesInFlight).To(BeZero(), "%+v", counts)
		g.Expect(counts.FluxStale).To(BeZero(), "%+v", counts)
	}, fluxTimeout, poll).Should(Succeed())
	NewWithT(t).Expect(readFlux(NewWithT(t), c.signedG1, "app").requestedAt).To(Equal(token), "one force in all")
}

// stopFlux stops the shared source-controller and returns the function that
// starts it again; it is started again when the test ends in any case, so
// later tests have Flux.
func stopFlux(t *testing.T) func() {
	t.Helper()
	if _, err := flux.Stop(stopTimeout); err != nil {
		t.Fatal(err)
	}
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		sc, err := cluster.StartSourceController(context.Background(), fluxConfig)
		if err != nil {
			t.Fatal(err)
		}
		flux = sc
	}
	t.Cleanup(start)
	return start
}
