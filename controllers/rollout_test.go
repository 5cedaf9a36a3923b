package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// rotationFixture is an old and a new CA with a signer each, and a registry.
type rotationFixture struct {
	reg                  *registry.Registry
	remote               notation.Remote
	oldCA, newCA         *certs.Cert
	oldSigner, newSigner *certs.Cert
}

func newRotationFixture(t *testing.T) *rotationFixture {
	f := &rotationFixture{reg: registry.Start(t, registry.Options{})}
	f.remote = notation.For(f.reg)
	f.oldCA, f.newCA = certs.NewCA("old root"), certs.NewCA("new root")
	f.oldSigner, f.newSigner = certs.NewCodeSigner("old signer", f.oldCA), certs.NewCodeSigner("new signer", f.newCA)
	return f
}

// artifact pushes an artifact signed by the old signer, and also by the new
// one when ready (re-signed ahead of the rotation).
func (f *rotationFixture) artifact(t *testing.T, repo string, ready bool) artifact {
	a := pushArtifact(t, f.reg, f.remote, repo, f.oldSigner, f.oldCA)
	if ready {
		f.resign(t, a)
	}
	return a
}

func (f *rotationFixture) resign(t *testing.T, a artifact) {
	_, err := notation.Sign(context.Background(), f.remote, a.reg+"/"+a.repo, a.desc, f.newSigner, f.newCA)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
}

func waitRollout(t *testing.T, name string, check func(g Gomega, p *v1alpha1.VerificationPolicy)) *v1alpha1.VerificationPolicy {
	t.Helper()
	var out *v1alpha1.VerificationPolicy
	NewWithT(t).Eventually(func(g Gomega) {
		p := getPolicy(g, name)
		g.Expect(p.Status.Rollout).NotTo(BeNil())
		check(g, p)
		out = p
	}, timeout, poll).Should(Succeed())
	return out
}

func secretDigest(g Gomega, ns string) string {
	return getSecret(g, ns, "notation-config").Annotations[v1alpha1.TrustDigestAnnotation]
}

func TestPreflightHoldsABreakingRotationUntilArtifactsAreReSigned(t *testing.T) {
	g := NewWithT(t)
	f := newRotationFixture(t)
	nsA, nsB := newNamespace(t, nil), newNamespace(t, nil)
	a := f.artifact(t, "apps/a", false)
	b := f.artifact(t, "apps/b", true)

	p := newPolicy(f.oldCA, nsA, nsB)
	p.Spec.Rollout.Preflight = true
	create(t, p)
	repoA := newOCIRepository(t, nsA, a, repoOptions{insecure: true})
	newOCIRepository(t, nsB, b, repoOptions{insecure: true})
	old := waitReady(t, p.Name)
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 2, Verified: 2})

	// Rotating to the new CA would break apps/a: held, nothing written.
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].Inline = string(f.newCA.PEM()) })
	held := waitCondition(t, p.Name, v1alpha1.RolloutHeldCondition, metav1.ConditionTrue, v1alpha1.ReasonPreflightFailed)
	msg := conditions.GetMessage(held, v1alpha1.RolloutHeldCondition)
	g.Expect(msg).To(ContainSubstring("1 artifacts that verify today would fail"))
	g.Expect(msg).To(ContainSubstring(nsA + "/" + repoA))
	g.Expect(msg).NotTo(ContainSubstring(nsB + "/"))
	waitRollout(t, p.Name, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.Preflight).To(Equal(v1alpha1.PreflightFailed))
	})
	g.Expect(conditions.GetReason(held, meta.ReadyCondition)).To(Equal(v1alpha1.ReasonPreflightFailed))
	expectEvent(t, p.Name, corev1.EventTypeWarning, v1alpha1.ReasonPreflightFailed)
	g.Consistently(func(g Gomega) {
		g.Expect(secretDigest(g, nsA)).To(Equal(old.Status.TrustDigest))
		g.Expect(secretDigest(g, nsB)).To(Equal(old.Status.TrustDigest))
	}, 2*poll*10, poll).Should(Succeed())

	// apps/a is re-signed with the new key: the rollout proceeds by itself.
	f.resign(t, a)
	done := waitRollout(t, p.Name, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.Preflight).To(Equal(v1alpha1.PreflightPassed))
		g.Expect(p.Status.TrustDigest).To(Equal(p.Status.Rollout.DesiredDigest))
	})
	waitReady(t, p.Name)
	g.Expect(conditions.Has(done, v1alpha1.RolloutHeldCondition)).To(BeFalse())
	for _, ns := range []string{nsA, nsB} {
		waitSecretDigest(t, ns, "notation-config", done.Status.TrustDigest)
	}
}

func TestForceRolloutAcceptsTheBreakage(t *testing.T) {
	g := NewWithT(t)
	f := newRotationFixture(t)
	ns := newNamespace(t, nil)
	a := f.artifact(t, "apps/legacy", false)
	p := newPolicy(f.oldCA, ns)
	p.Spec.Rollout.Preflight = true
	create(t, p)
	newOCIRepository(t, ns, a, repoOptions{insecure: true})
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 1, Verified: 1})

	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].Inline = string(f.newCA.PEM()) })
	held := waitCondition(t, p.Name, v1alpha1.RolloutHeldCondition, metav1.ConditionTrue, v1alpha1.ReasonPreflightFailed)
	desired := waitRollout(t, p.Name, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.Preflight).To(Equal(v1alpha1.PreflightFailed))
	}).Status.Rollout.DesiredDigest
	g.Expect(conditions.GetMessage(held, v1alpha1.RolloutHeldCondition)).To(ContainSubstring(desired))

	// Forcing another digest changes nothing; forcing this one rolls out.
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) {
		p.Annotations = map[string]string{v1alpha1.ForceRolloutAnnotation: "sha256:not-this-one"}
	})
	g.Consistently(func(g Gomega) { g.Expect(secretDigest(g, ns)).NotTo(Equal(desired)) }, time.Second*2, poll).Should(Succeed())
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) {
		p.Annotations = map[string]string{v1alpha1.ForceRolloutAnnotation: desired}
	})
	waitSecretDigest(t, ns, "notation-config", desired)
	forced := waitRollout(t, p.Name, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.Preflight).To(Equal(v1alpha1.PreflightForced))
	})
	g.Expect(conditions.Has(forced, v1alpha1.RolloutHeldCondition)).To(BeFalse())
	expectEvent(t, p.Name, corev1.EventTypeWarning, "RolloutForced")
	// The artifact now fails, as accepted.
	waitArtifacts(t, p.Name, v1alpha1.ArtifactCounts{Matched: 1, Failed: 1})
}

// stagedFixture is a three-stage policy over one namespace per stage, each
// with one governed OCIRepository.
type stagedFixture struct {
	*rotationFixture
	policy string
	ns     [3]string
	arts   [3]artifact
	tier   string
}

func newStagedFixture(t *testing.T, ready [3]bool) *stagedFixture {
	f := &stagedFixture{rotationFixture: newRotationFixture(t), tier: uniqueName("tier")}
	for i, stage := range []string{"canary", "early", "late"} {
		f.ns[i] = newNamespace(t, map[string]string{f.tier: stage})
		f.arts[i] = f.artifact(t, "apps/"+stage, ready[i])
		newOCIRepository(t, f.ns[i], f.arts[i], repoOptions{insecure: true})
	}
	p := newPolicy(f.oldCA)
	p.Spec.Target.Namespaces = nil
	p.Spec.Target.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: f.tier, Operator: metav1.LabelSelectorOpExists}}}
	p.Spec.Rollout = v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStaged, Stages: []v1alpha1.RolloutStage{
		{Name: "canary", Namespaces: []string{f.ns[0]}},
		{Name: "early", NamespaceSelector: selectorFor(map[string]string{f.tier: "early"})},
		{Name: "late", NamespaceSelector: selectorFor(map[string]string{f.tier: "late"})},
	}}
	create(t, p)
	f.policy = p.Name
	// The first configuration rolls out through the stages too.
	waitRollout(t, p.Name, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.StableDigest).To(Equal(p.Status.TrustDigest))
	})
	waitReady(t, p.Name)
	return f
}

func (f *stagedFixture) rotate(t *testing.T) {
	updatePolicy(t, f.policy, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].Inline = string(f.newCA.PEM()) })
}

func TestStagedRolloutProceedsStageByStage(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	f := newStagedFixture(t, [3]bool{true, true, true})
	before := getPolicy(g, f.policy).Status.TrustDigest

	// Every status the rotation goes through, in the API server's order: a
	// watch delivers each version, so no intermediate state can be missed.
	w, err := k8sWatch.Watch(ctx, &v1alpha1.VerificationPolicyList{}, client.MatchingFields{"metadata.name": f.policy})
	g.Expect(err).NotTo(HaveOccurred())
	defer w.Stop()
	f.rotate(t)

	var seen []*v1alpha1.RolloutStatus
	var done *v1alpha1.VerificationPolicy
	for done == nil {
		select {
		case ev, ok := <-w.ResultChan():
			g.Expect(ok).To(BeTrue(), "the watch ended")
			p, isPolicy := ev.Object.(*v1alpha1.VerificationPolicy)
			if !isPolicy || p.Status.Rollout == nil || p.Status.Rollout.DesiredDigest == before {
				continue
			}
			seen = append(seen, p.Status.Rollout.DeepCopy())
			if st := p.Status.Rollout; st.StableDigest == st.DesiredDigest {
				done = p
			}
		case <-ctx.Done():
			t.Fatalf("the rollout did not complete within %s; statuses seen: %d", timeout, len(seen))
		}
	}

	st := done.Status.Rollout
	g.Expect(st.Stages).To(HaveLen(3))
	for i, name := range []string{"canary", "early", "late"} {
		s := st.Stages[i]
		g.Expect(s.Name).To(Equal(name))
		g.Expect(s.Namespaces).To(BeEquivalentTo(1))
		g.Expect(s.State).To(Equal(v1alpha1.StageVerified))
		g.Expect(s.Digest).To(Equal(st.DesiredDigest))
		g.Expect(s.CompletedAt).NotTo(BeNil())
		waitSecretDigest(t, f.ns[i], "notation-config", st.DesiredDigest)
	}
	// Stage by stage: in every status written, the stages verified with the
	// new digest are a prefix that only grows, and a stage receives the new
	// digest only once every stage before it is verified.
	prefix := 0
	for n, s := range seen {
		verified := 0
		for verified < len(s.Stages) && s.Stages[verified].State == v1alpha1.StageVerified && s.Stages[verified].Digest == s.DesiredDigest {
			verified++
		}
		g.Expect(verified).To(BeNumerically(">=", prefix), "status %d: a verified stage went back", n)
		prefix = verified
		for i, stage := range s.Stages {
			if stage.Digest == s.DesiredDigest {
				g.Expect(i).To(BeNumerically("<=", verified), "status %d: stage %s got the new digest before stage %d was verified", n, stage.Name, i-1)
			}
		}
	}
	g.Expect(len(seen)).To(BeNumerically(">=", 3), "fewer statuses than stages")

	// The events of this rollout (not the fixture's first one) name its digest.
	short := text.ShortDigest(st.DesiredDigest)
	for _, name := range []string{"canary", "early", "late"} {
		expectEventWith(t, f.policy, "StageVerified", fmt.Sprintf("stage %q", name), short)
	}
	expectEventWith(t, f.policy, v1alpha1.ReasonRolloutComplete, short)
	waitReady(t, f.policy)
}

func TestFailingStageHoldsLaterStagesOnThePreviousConfiguration(t *testing.T) {
	g := NewWithT(t)
	// The "early" stage's artifact is not re-signed for the new CA.
	f := newStagedFixture(t, [3]bool{true, false, true})
	old := getPolicy(g, f.policy).Status.TrustDigest
	f.rotate(t)

	held := waitCondition(t, f.policy, v1alpha1.RolloutHeldCondition, metav1.ConditionTrue, v1alpha1.ReasonStageFailed)
	st := waitRollout(t, f.policy, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.Stages[1].State).To(Equal(v1alpha1.StageFailed))
	}).Status.Rollout
	g.Expect(st.Stages[0].State).To(Equal(v1alpha1.StageVerified))
	g.Expect(st.Stages[1].State).To(Equal(v1alpha1.StageFailed))
	g.Expect(st.Stages[1].Message).To(ContainSubstring(f.ns[1] + "/"))
	g.Expect(st.Stages[2].State).To(Equal(v1alpha1.StagePending))
	g.Expect(conditions.GetMessage(held, v1alpha1.RolloutHeldCondition)).To(ContainSubstring(`stage "early" (2/3)`))
	g.Expect(conditions.GetReason(held, meta.ReadyCondition)).To(Equal(v1alpha1.ReasonStageFailed))
	expectEvent(t, f.policy, corev1.EventTypeWarning, v1alpha1.ReasonStageFailed)

	g.Expect(secretDigest(g, f.ns[0])).To(Equal(st.DesiredDigest))
	g.Expect(secretDigest(g, f.ns[1])).To(Equal(st.DesiredDigest))
	g.Consistently(func(g Gomega) { g.Expect(secretDigest(g, f.ns[2])).To(Equal(old)) }, 2*time.Second, poll).Should(Succeed())

	// A namespace joining the not-yet-rolled stage gets the OLD configuration.
	late := newNamespace(t, map[string]string{f.tier: "late"})
	s := waitSecretDigest(t, late, "notation-config", old)
	g.Expect(s.Data["root.crt"]).To(Equal(f.oldCA.PEM()))

	// Re-signing the failing artifact lets the rollout finish by itself.
	f.resign(t, f.arts[1])
	waitRollout(t, f.policy, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.StableDigest).To(Equal(st.DesiredDigest))
	})
	for _, ns := range []string{f.ns[2], late} {
		waitSecretDigest(t, ns, "notation-config", st.DesiredDigest)
	}
}

func TestSpecChangeMidRolloutRestartsFromTheFirstStage(t *testing.T) {
	g := NewWithT(t)
	f := newStagedFixture(t, [3]bool{true, false, true})
	f.rotate(t)
	waitCondition(t, f.policy, v1alpha1.RolloutHeldCondition, metav1.ConditionTrue, v1alpha1.ReasonStageFailed)
	first := waitRollout(t, f.policy, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.Stages).To(HaveLen(3))
		g.Expect(p.Status.Rollout.Stages[1].State).To(Equal(v1alpha1.StageFailed))
	}).Status.Rollout.DesiredDigest

	// A new spec change (adding the old CA back next to the new one, so
	// every artifact verifies) restarts the rollout with the newer digest.
	updatePolicy(t, f.policy, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates = append(p.Spec.Certificates, v1alpha1.CertificateSource{Name: "previous", Inline: string(f.oldCA.PEM())})
	})
	done := waitRollout(t, f.policy, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.DesiredDigest).NotTo(Equal(first))
		g.Expect(p.Status.Rollout.StableDigest).To(Equal(p.Status.Rollout.DesiredDigest))
	})
	for i, s := range done.Status.Rollout.Stages {
		g.Expect(s.State).To(Equal(v1alpha1.StageVerified))
		g.Expect(s.Digest).To(Equal(done.Status.Rollout.DesiredDigest))
		waitSecretDigest(t, f.ns[i], "notation-config", done.Status.Rollout.DesiredDigest)
	}
	g.Expect(conditions.Has(done, v1alpha1.RolloutHeldCondition)).To(BeFalse())
}

// A stage forced through with the force-rollout annotation is done, but is
// not reported as Verified: its artifacts fail, and its message says which.
func TestAForcedStageIsNotVerified(t *testing.T) {
	g := NewWithT(t)
	f := newStagedFixture(t, [3]bool{true, false, true})
	f.rotate(t)
	held := waitRollout(t, f.policy, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.Stages[1].State).To(Equal(v1alpha1.StageFailed))
	})
	desired := held.Status.Rollout.DesiredDigest
	updatePolicy(t, f.policy, func(p *v1alpha1.VerificationPolicy) {
		p.Annotations = map[string]string{v1alpha1.ForceRolloutAnnotation: desired}
	})
	done := waitRollout(t, f.policy, func(g Gomega, p *v1alpha1.VerificationPolicy) {
		g.Expect(p.Status.Rollout.StableDigest).To(Equal(desired))
	})
	st := done.Status.Rollout.Stages
	g.Expect(st[0].State).To(Equal(v1alpha1.StageVerified))
	g.Expect(st[1].State).To(Equal(v1alpha1.StageForced))
	g.Expect(st[1].Message).To(ContainSubstring(f.ns[1] + "/"))
	g.Expect(st[1].Message).To(ContainSubstring("UntrustedSigner"))
	g.Expect(st[2].State).To(Equal(v1alpha1.StageVerified))
	expectEventWith(t, f.policy, v1alpha1.ReasonStageForced, `stage "early"`, f.ns[1]+"/")
	waitSecretDigest(t, f.ns[2], "notation-config", desired)
}
