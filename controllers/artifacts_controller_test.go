package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

const subjectPrefix = "x509.subject: C=US, ST=WA, O=verification-operator tests, CN="

// TestArtifactVerification runs the companion's scenarios. The shared
// control plane serves the OCIRepository API from the start; the API
// appearing later is TestArtifactAPIAppearsLater's, on a plane of its own.
func TestArtifactVerification(t *testing.T) {
	t.Run("verdicts and rotation", testVerdictsAndRotation)
	t.Run("registry access", testRegistryAccess)
	t.Run("dead registry", testDeadRegistryIsIsolated)
	t.Run("cache", testCacheAvoidsRegistryRequests)
	t.Run("cloud provider", testCloudProviderIsDelegated)
	t.Run("rotation across 100 OCIRepositories", testRotationAt100)
	t.Run("force on Flux before v1.10", testForceRemovesTheOldVerdict)
	t.Run("force on Flux v1.10", testForceOnFluxWithFingerprintOnlyRequests)
	t.Run("the old verdict written back", testForceAgainWhenTheOldVerdictComesBack)
	t.Run("re-signed artifact", testReSignedArtifactIsSeenSoon)
}

func testVerdictsAndRotation(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	reg := registry.Start(t, registry.Options{})
	remote := notation.For(reg)
	ca, other := certs.NewCA("release root"), certs.NewCA("someone else's root")
	signer, stranger := certs.NewCodeSigner("release signer", ca), certs.NewCodeSigner("stranger", other)

	good := pushArtifact(t, reg, remote, "apps/good", signer, ca)
	untrusted := pushArtifact(t, reg, remote, "apps/untrusted", stranger, other)
	unsigned := pushArtifact(t, reg, remote, "apps/unsigned", nil)
	pinned := pushArtifact(t, reg, remote, "apps/pinned", signer, ca)
	audited := pushArtifact(t, reg, remote, "apps/audited", stranger, other)

	ns := newNamespace(t, nil)
	p := newPolicy(ca, ns)
	// This scenario plays Flux to check what a reconcile request alone
	// gives; forcing is tested below.
	p.Spec.OCIRepositories.Reverify = v1alpha1.ReverifyRequestReconcile
	p.Spec.TrustPolicies = append(p.Spec.TrustPolicies,
		v1alpha1.TrustPolicyStatement{
			Name: "pinned", RegistryScopes: []string{reg.Host() + "/apps/pinned"},
			SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"},
			TrustedIdentities:     []string{subjectPrefix + "someone else"},
		},
		v1alpha1.TrustPolicyStatement{
			Name: "audited", RegistryScopes: []string{reg.Host() + "/apps/audited"},
			SignatureVerification: v1alpha1.SignatureVerification{Level: "audit"},
			TrustedIdentities:     []string{"*"},
		},
	)
	create(t, p)
	plain := repoOptions{insecure: true}
	names := map[string]string{
		"good":      newOCIRepository(t, ns, good, plain),
		"untrusted": newOCIRepository(t, ns, untrusted, plain),
		"unsigned":  newOCIRepository(t, ns, unsigned, plain),
		"pinned":    newOCIRepository(t, ns, pinned, plain),
		"audited":   newOCIRepository(t, ns, audited, plain),
	}
	// An OCIRepository that verifies with cosign is not governed.
	cosign := newOCIRepository(t, ns, good, plain)
	g.Eventually(func(g Gomega) { // the operator annotates it too
		u := getOCIRepository(g, ns, cosign)
		u.Object["spec"].(map[string]any)["verify"] = map[string]any{"provider": "cosign"}
		g.Expect(k8s.Update(ctx, u)).To(Succeed())
	}, timeout, poll).Should(Succeed())

	got := waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 5, Verified: 2, Failed: 3})
	g.Expect(conditions.IsFalse(got, v1alpha1.ArtifactsVerifiedCondition)).To(BeTrue())
	g.Expect(conditions.GetReason(got, v1alpha1.ArtifactsVerifiedCondition)).To(Equal(v1alpha1.ReasonArtifactsFailed))
	g.Expect(conditions.GetMessage(got, v1alpha1.ArtifactsVerifiedCondition)).To(ContainSubstring("3 of 5"))
	waitCondition(t, p.Name, meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonArtifactsFailed)

	reasons := map[string]string{}
	for _, k := range []string{"untrusted", "unsigned", "pinned"} {
		is := issueFor(got, ns, names[k])
		g.Expect(is).NotTo(BeNil(), "no issue for %s", k)
		g.Expect(is.Message).NotTo(BeEmpty())
		reasons[k] = is.Reason
		expectRepoEvent(t, ns, names[k], corev1.EventTypeWarning, "VerificationFailed")
	}
	g.Expect(reasons["untrusted"]).To(Equal(verifyReasonUntrusted))
	g.Expect(reasons["unsigned"]).To(Equal(verifyReasonNoSignature))
	g.Expect(reasons["pinned"]).To(Equal(verifyReasonIdentity))
	g.Expect(issueFor(got, ns, names["good"])).To(BeNil())
	g.Expect(issueFor(got, ns, names["audited"])).To(BeNil(), "audit level is ignored, as by Flux")

	// Flux's view: a v1.10 source-controller reports our fingerprint.
	setFluxStatus(t, ns, names["good"], metav1.ConditionTrue, got.Status.FluxFingerprint, "v1@"+good.desc.Digest.String())
	// A v1.9 source-controller reports no fingerprint.
	setFluxStatus(t, ns, names["pinned"], metav1.ConditionTrue, "", "v1@"+pinned.desc.Digest.String())
	got = waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 5, Verified: 2, Failed: 3, FluxVerified: 1})
	for k, n := range names {
		// First sight is recorded, but it is no trust change: Flux is not asked.
		g.Expect(getOCIRepository(g, ns, n).GetAnnotations()).To(HaveKeyWithValue(fluxverdict.ReverifiedDigestAnnotation, got.Status.TrustDigest))
		g.Expect(requestedAtOf(g, ns, n)).To(BeEmpty(), "a reconcile was requested for %s without a trust change", k)
	}

	// Rotation to a new CA: the old signatures no longer verify, Flux is
	// asked to reconcile each governed OCIRepository, and both Flux results
	// are now stale.
	newCA := certs.NewCA("new release root")
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].Inline = string(newCA.PEM()) })
	rotated := waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 5, Verified: 1, Failed: 4, FluxStale: 2})
	g.Expect(rotated.Status.TrustDigest).NotTo(Equal(got.Status.TrustDigest))
	g.Expect(issueFor(rotated, ns, names["good"]).Reason).To(Equal(verifyReasonUntrusted))
	// The requests to v1.9 are made in the second after the change was seen
	// (see fluxverdict.NotBefore); Flux's results are stale from the change
	// on.
	g.Eventually(func(g Gomega) {
		for k, n := range names {
			at := requestedAtOf(g, ns, n)
			g.Expect(at).NotTo(BeEmpty(), "no reconcile requested for %s after the rotation", k)
			g.Expect(reverifyRequestedAtOf(g, ns, n)).To(Equal(at))
			a := getOCIRepository(g, ns, n).GetAnnotations()
			g.Expect(a).To(HaveKeyWithValue(fluxverdict.ReverifiedDigestAnnotation, rotated.Status.TrustDigest))
			if k == "good" {
				continue // v1.10 shows its fingerprint: asked at once
			}
			seen, err := time.Parse(time.RFC3339Nano, a[fluxverdict.ChangeSeenAnnotation])
			g.Expect(err).NotTo(HaveOccurred())
			requested, err := time.Parse(time.RFC3339Nano, at)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(requested.Truncate(time.Second).After(seen.Truncate(time.Second))).To(BeTrue(),
				"%s: requested at %s, in the second of the change seen at %s", k, at, seen)
		}
	}, timeout, poll).Should(Succeed())
	g.Expect(requestedAtOf(g, ns, cosign)).To(BeEmpty(), "an ungoverned OCIRepository was touched")

	// Flux v1.10 re-verifies with the new fingerprint and fails: no longer stale.
	setFluxStatus(t, ns, names["good"], metav1.ConditionFalse, rotated.Status.FluxFingerprint, "v1@"+good.desc.Digest.String())
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 5, Verified: 1, Failed: 4, FluxStale: 1})

	// Rotating back recovers, with a Normal event on the OCIRepository.
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].Inline = string(ca.PEM()) })
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 5, Verified: 2, Failed: 3, FluxStale: 1})
	expectRepoEvent(t, ns, names["good"], corev1.EventTypeNormal, "VerificationSucceeded")
}

func testRegistryAccess(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ca := certs.NewCA("root")
	signer := certs.NewCodeSigner("signer", ca)

	authReg := registry.Start(t, registry.Options{Users: map[string]string{"flux": "s3cret"}})
	authRemote := notation.For(authReg)
	authRemote.Username, authRemote.Password = "flux", "s3cret"
	private := pushArtifact(t, authReg, authRemote, "team/private", signer, ca)

	tlsReg := registry.Start(t, registry.Options{TLS: true})
	tlsArt := pushArtifact(t, tlsReg, notation.For(tlsReg), "team/tls", signer, ca)

	ns := newNamespace(t, nil)
	p := newPolicy(ca, ns)
	create(t, p)
	good := dockerConfigSecret(t, ns, authReg.Host(), "flux", "s3cret")
	bad := dockerConfigSecret(t, ns, authReg.Host(), "flux", "wrong")
	caSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("registry-ca"), Namespace: ns},
		Data: map[string][]byte{"ca.crt": tlsReg.CAPEM()}}
	g.Expect(k8s.Create(ctx, caSecret)).To(Succeed())

	withAuth := newOCIRepository(t, ns, private, repoOptions{insecure: true, secretRef: good})
	wrongAuth := newOCIRepository(t, ns, private, repoOptions{insecure: true, secretRef: bad})
	missingAuth := newOCIRepository(t, ns, private, repoOptions{insecure: true, secretRef: "does-not-exist"})
	withCA := newOCIRepository(t, ns, tlsArt, repoOptions{certSecretRef: caSecret.Name})

	got := waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 4, Verified: 2, Failed: 2})
	g.Expect(issueFor(got, ns, withAuth)).To(BeNil())
	g.Expect(issueFor(got, ns, withCA)).To(BeNil())
	g.Expect(issueFor(got, ns, wrongAuth).Reason).To(Equal(verifyReasonAuth))
	g.Expect(issueFor(got, ns, wrongAuth).Message).NotTo(ContainSubstring("s3cret"))
	g.Expect(issueFor(got, ns, missingAuth).Reason).To(Equal(v1alpha1.ReasonRegistryAccess))
	g.Expect(issueFor(got, ns, missingAuth).Message).To(ContainSubstring("does-not-exist"))
}

func testDeadRegistryIsIsolated(t *testing.T) {
	g := NewWithT(t)
	ca := certs.NewCA("root")
	signer := certs.NewCodeSigner("signer", ca)
	reg := registry.Start(t, registry.Options{})
	good := pushArtifact(t, reg, notation.For(reg), "apps/good", signer, ca)
	hanging := registry.StartHanging(t)

	ns := newNamespace(t, nil)
	p := newPolicy(ca, ns)
	create(t, p)
	start := time.Now()
	dead := newOCIRepository(t, ns, artifact{reg: hanging.Host(), repo: "apps/stuck"}, repoOptions{insecure: true})
	alive := newOCIRepository(t, ns, good, repoOptions{insecure: true})
	got := waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 2, Verified: 1, Pending: 1})
	t.Logf("a hanging registry left one OCIRepository pending after %s; the other verified", time.Since(start).Round(time.Millisecond))
	g.Expect(issueFor(got, ns, alive)).To(BeNil())
	g.Expect(issueFor(got, ns, dead).Reason).To(Equal(verifyReasonUnreachable))
	g.Expect(conditions.GetReason(got, v1alpha1.ArtifactsVerifiedCondition)).To(Equal(v1alpha1.ReasonArtifactsPending))
	// The sync is unaffected: Secrets are synced and Ready is not False.
	g.Expect(conditions.IsTrue(got, v1alpha1.SecretsSyncedCondition)).To(BeTrue())
	g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeFalse())
}

func testCacheAvoidsRegistryRequests(t *testing.T) {
	g := NewWithT(t)
	ca := certs.NewCA("root")
	signer := certs.NewCodeSigner("signer", ca)
	reg := registry.Start(t, registry.Options{})
	a := pushArtifact(t, reg, notation.For(reg), "apps/cached", signer, ca)

	ns := newNamespace(t, nil)
	p := newPolicy(ca, ns)
	create(t, p)
	name := newOCIRepository(t, ns, a, repoOptions{insecure: true})
	// As Flux would have it: the pulled revision names the digest.
	setFluxStatus(t, ns, name, metav1.ConditionTrue, "", "v1@"+a.desc.Digest.String())
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 1, Verified: 1})
	g.Expect(reg.Requests()).To(BeNumerically(">", 0))

	// Three more passes of the companion, each woken by a change to the
	// OCIRepository that does not touch what it verifies. They must be
	// answered from the cache: the cache-hit metric proves the passes ran,
	// the registry's counter that none reached it.
	reg.ResetRequests()
	hits := cacheHits(g)
	for i := range 3 {
		labelOCIRepository(t, ns, name, "pass", fmt.Sprint(i))
		g.Eventually(func() float64 { return cacheHits(g) }, timeout, poll).Should(BeNumerically(">=", hits+float64(i+1)))
	}
	g.Consistently(reg.Requests, 2*time.Second, poll).Should(BeZero(), "a cached verification reached the registry")
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 1, Verified: 1})

	// A trust change invalidates the cache: the registry is asked again.
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates = append(p.Spec.Certificates, v1alpha1.CertificateSource{Name: "extra", Inline: string(certs.NewCA("extra").PEM())})
	})
	g.Eventually(reg.Requests, timeout, poll).Should(BeNumerically(">", 0))
}

func testCloudProviderIsDelegated(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t, nil)
	p := newPolicy(certs.NewCA("root"), ns)
	create(t, p)
	name := newOCIRepository(t, ns, artifact{reg: "123456789012.dkr.ecr.us-east-1.amazonaws.com", repo: "apps/app"}, repoOptions{provider: "aws"})
	// Pending first because the Secret is not synced yet, then delegated.
	var got *v1alpha1.VerificationPolicy
	g.Eventually(func(g Gomega) {
		got = getPolicy(g, p.Name)
		g.Expect(got.Status.OCIRepositories).To(Equal(v1alpha1.ArtifactCounts{Matched: 1, Pending: 1}))
		is := issueFor(got, ns, name)
		g.Expect(is).NotTo(BeNil())
		g.Expect(is.Reason).To(Equal(v1alpha1.ReasonDelegatedToFlux))
		g.Expect(is.Message).To(ContainSubstring("verification delegated to Flux"))
	}, timeout, poll).Should(Succeed())

	// Once Flux verifies with our fingerprint, it counts as verified. The
	// fingerprint is read once the sync has recorded it (Ready for this
	// generation).
	ready := waitReady(t, p.Name)
	g.Expect(ready.Status.FluxFingerprint).NotTo(BeEmpty())
	setFluxStatus(t, ns, name, metav1.ConditionTrue, ready.Status.FluxFingerprint, "v1@sha256:"+fmt.Sprintf("%064d", 1))
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 1, Verified: 1, FluxVerified: 1})
}

// testRotationAt100 is the issue's acceptance figure: 100 governed
// OCIRepositories in 10 namespaces, each with its own signed artifact.
func testRotationAt100(t *testing.T) {
	const namespaces, perNamespace = 10, 10
	g := NewWithT(t)
	ca := certs.NewCA("root")
	signer := certs.NewCodeSigner("signer", ca)
	reg := registry.Start(t, registry.Options{})
	remote := notation.For(reg)

	label := map[string]string{"artifacts-scale": uniqueName("run")}
	p := newPolicy(ca)
	p.Spec.Target.Namespaces = nil
	p.Spec.Target.NamespaceSelector = selectorFor(label)
	for i := range namespaces {
		ns := newNamespace(t, label)
		for j := range perNamespace {
			a := pushArtifact(t, reg, remote, fmt.Sprintf("scale/app-%d-%d", i, j), signer, ca)
			newOCIRepository(t, ns, a, repoOptions{insecure: true})
		}
	}
	start := time.Now()
	create(t, p)
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 100, Verified: 100})
	t.Logf("FIGURE artifacts: 100 OCIRepositories in 10 namespaces verified after %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates[0].Inline = string(certs.NewCA("rotated").PEM())
	})
	got := waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 100, Failed: 100})
	t.Logf("FIGURE artifacts: trust rotation re-verified and reported for 100 OCIRepositories after %s", time.Since(start).Round(time.Millisecond))
	g.Expect(got.Status.ArtifactIssues).To(HaveLen(20), "issues are bounded")
}

// forceFixture is one governed OCIRepository whose artifact is signed
// under ca, verified by "Flux" (played by the test) before a rotation.
type forceFixture struct {
	ns, repo, policy, revision string
	ca                         *certs.Cert
	before                     *v1alpha1.VerificationPolicy
}

func newForceFixture(t *testing.T, fingerprinted bool) *forceFixture {
	ca := certs.NewCA("root")
	reg := registry.Start(t, registry.Options{})
	a := pushArtifact(t, reg, notation.For(reg), "apps/forced", certs.NewCodeSigner("signer", ca), ca)
	f := &forceFixture{ns: newNamespace(t, nil), ca: ca, revision: "v1@" + a.desc.Digest.String()}
	p := newPolicy(ca, f.ns)
	create(t, p)
	f.policy = p.Name
	f.repo = newOCIRepository(t, f.ns, a, repoOptions{insecure: true})
	ready := waitReady(t, p.Name)
	fingerprint := ""
	if fingerprinted {
		fingerprint = ready.Status.FluxFingerprint
	}
	setFluxStatus(t, f.ns, f.repo, metav1.ConditionTrue, fingerprint, f.revision)
	want := v1alpha1.ArtifactCounts{Matched: 1, Verified: 1}
	if fingerprinted {
		want.FluxVerified = 1
	}
	f.before = waitArtifacts(t, p.Name, want)
	return f
}

// rotate trusts another CA, which the artifact is not signed under.
func (f *forceFixture) rotate(t *testing.T) {
	updatePolicy(t, f.policy, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates[0].Inline = string(certs.NewCA("new root").PEM())
	})
}

func testForceRemovesTheOldVerdict(t *testing.T) {
	g := NewWithT(t)
	f := newForceFixture(t, false)
	inFlight := watchForcesInFlight(t, f.policy)
	f.rotate(t)
	// The default mode: the old SourceVerified=True is removed, and Flux is
	// asked to reconcile; until it reports, the force is in flight.
	var token string
	g.Eventually(func(g Gomega) {
		g.Expect(sourceVerified(g, f.ns, f.repo)).To(BeNil(), "SourceVerified was not removed")
		token = requestedAtOf(g, f.ns, f.repo)
		g.Expect(token).NotTo(BeEmpty())
		a := getOCIRepository(g, f.ns, f.repo).GetAnnotations()
		g.Expect(a).To(HaveKeyWithValue(fluxverdict.ForceAttemptsAnnotation, "1"))
		g.Expect(a).To(HaveKeyWithValue(fluxverdict.FluxBaselineAnnotation, "none"))
	}, timeout, poll).Should(Succeed())
	waiting := waitArtifacts(t, f.policy, v1alpha1.ArtifactCounts{Matched: 1, Failed: 1, ForcesInFlight: 1})
	g.Expect(conditions.GetMessage(waiting, v1alpha1.ArtifactsVerifiedCondition)).To(ContainSubstring("waiting for Flux to re-verify 1"))
	// Only SourceVerified went: the artifact Flux pulled is still there.
	g.Expect(getOCIRepository(g, f.ns, f.repo).Object["status"]).To(HaveKey("artifact"))
	// From the first status that counts the force (held to the next
	// second) until Flux answers, every status written counts it: a
	// manager killed after any one of them leaves the force on record.
	seen := inFlight()
	first := slices.Index(seen, 1)
	g.Expect(first).NotTo(Equal(-1), "forcesInFlight written: %v", seen)
	g.Expect(seen[first:]).To(HaveEach(BeEquivalentTo(1)), "forcesInFlight written: %v", seen)

	// Flux verifies again with the new trust: failed, and current.
	playFlux(t, f.ns, f.repo, fluxReport{verified: metav1.ConditionFalse, revision: f.revision, at: time.Now(), handled: token})
	waitArtifacts(t, f.policy, v1alpha1.ArtifactCounts{Matched: 1, Failed: 1})
	g.Consistently(func(g Gomega) {
		g.Expect(requestedAtOf(g, f.ns, f.repo)).To(Equal(token), "forced again after Flux reported a new verdict")
	}, forceBackoff+time.Second, poll).Should(Succeed())
}

func testForceOnFluxWithFingerprintOnlyRequests(t *testing.T) {
	g := NewWithT(t)
	f := newForceFixture(t, true)
	f.rotate(t)
	g.Eventually(func(g Gomega) {
		g.Expect(requestedAtOf(g, f.ns, f.repo)).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())
	// v1.10 re-verifies when the fingerprint changes: nothing is removed.
	g.Consistently(func(g Gomega) {
		g.Expect(sourceVerified(g, f.ns, f.repo)).NotTo(BeNil())
		g.Expect(getOCIRepository(g, f.ns, f.repo).GetAnnotations()).NotTo(HaveKey(fluxverdict.ForceAttemptsAnnotation))
	}, time.Second, poll).Should(Succeed())
	// Until Flux reports the new fingerprint, its True is stale.
	waitArtifacts(t, f.policy, v1alpha1.ArtifactCounts{Matched: 1, Failed: 1, FluxStale: 1})
}

func testForceAgainWhenTheOldVerdictComesBack(t *testing.T) {
	g := NewWithT(t)
	f := newForceFixture(t, false)
	removed := sourceVerified(g, f.ns, f.repo)
	f.rotate(t)
	var first string
	g.Eventually(func(g Gomega) {
		g.Expect(sourceVerified(g, f.ns, f.repo)).To(BeNil())
		first = requestedAtOf(g, f.ns, f.repo)
		g.Expect(first).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())

	// A reconcile of Flux's that was in flight writes the old verdict back
	// and handles the request without verifying.
	playFlux(t, f.ns, f.repo, fluxReport{verified: removed.Status, revision: f.revision, at: removed.LastTransitionTime.Time, handled: first})
	got := waitArtifacts(t, f.policy, v1alpha1.ArtifactCounts{Matched: 1, Failed: 1, FluxStale: 1, ForcesInFlight: 1})
	g.Expect(issueFor(got, f.ns, f.repo).Reason).To(Equal(verifyReasonUntrusted), "our verdict leads the issue")
	// After the backoff (forceBackoff), the force is made again.
	g.Eventually(func(g Gomega) {
		g.Expect(requestedAtOf(g, f.ns, f.repo)).NotTo(Equal(first))
		g.Expect(getOCIRepository(g, f.ns, f.repo).GetAnnotations()).To(HaveKeyWithValue(fluxverdict.ForceAttemptsAnnotation, "2"))
		g.Expect(sourceVerified(g, f.ns, f.repo)).To(BeNil())
	}, timeout, poll).Should(Succeed())
}

// An artifact that fails is often re-signed under the same digest soon
// after: its failed verdict is re-checked within a minute without anyone
// asking (FailedRecheck, 30 s), and at once on a requested reconcile.
func testReSignedArtifactIsSeenSoon(t *testing.T) {
	g := NewWithT(t)
	ca, other := certs.NewCA("trusted root"), certs.NewCA("other root")
	reg := registry.Start(t, registry.Options{})
	remote := notation.For(reg)
	waiting := pushArtifact(t, reg, remote, "apps/waits", certs.NewCodeSigner("stranger", other), other)
	asking := pushArtifact(t, reg, remote, "apps/asks", certs.NewCodeSigner("stranger", other), other)
	ns := newNamespace(t, nil)
	p := newPolicy(ca, ns)
	create(t, p)
	w := newOCIRepository(t, ns, waiting, repoOptions{insecure: true})
	a := newOCIRepository(t, ns, asking, repoOptions{insecure: true})
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 2, Failed: 2})

	signer := certs.NewCodeSigner("release", ca)
	for _, art := range []artifact{waiting, asking} {
		_, err := notation.Sign(context.Background(), remote, art.reg+"/"+art.repo, art.desc, signer, ca)
		g.Expect(err).NotTo(HaveOccurred())
	}
	start := time.Now()
	requestReconcile(t, p.Name)
	g.Eventually(func(g Gomega) {
		g.Expect(issueFor(getPolicy(g, p.Name), ns, a)).To(BeNil())
	}, 10*time.Second, poll).Should(Succeed(), "a requested reconcile re-verifies without the cache")
	t.Logf("FIGURE re-signed artifact verified %s after a requested reconcile", time.Since(start).Round(time.Millisecond))
	// The policy's request is answered for all of its artifacts.
	g.Expect(issueFor(getPolicy(g, p.Name), ns, w)).To(BeNil())

	// Again without asking: a new failure, then a re-signature.
	later := pushArtifact(t, reg, remote, "apps/later", certs.NewCodeSigner("stranger", other), other)
	l := newOCIRepository(t, ns, later, repoOptions{insecure: true})
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 3, Verified: 2, Failed: 1})
	_, err := notation.Sign(context.Background(), remote, later.reg+"/"+later.repo, later.desc, signer, ca)
	g.Expect(err).NotTo(HaveOccurred())
	start = time.Now()
	g.Eventually(func(g Gomega) {
		g.Expect(issueFor(getPolicy(g, p.Name), ns, l)).To(BeNil())
	}, 60*time.Second, time.Second).Should(Succeed(), "a failed verdict is re-checked within a minute")
	t.Logf("FIGURE re-signed artifact verified %s after its re-signature, unasked", time.Since(start).Round(time.Second))
}

// watchForcesInFlight records status.ociRepositories.forcesInFlight of
// every version of the policy written from now on, until the test ends;
// the returned function gives what was recorded so far.
func watchForcesInFlight(t *testing.T, policy string) func() []int32 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := k8sWatch.Watch(ctx, &v1alpha1.VerificationPolicyList{}, client.MatchingFields{"metadata.name": policy})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range w.ResultChan() {
			if p, ok := e.Object.(*v1alpha1.VerificationPolicy); ok {
				mu.Lock()
				seen = append(seen, p.Status.OCIRepositories.ForcesInFlight)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { w.Stop(); cancel(); <-done })
	return func() []int32 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}
