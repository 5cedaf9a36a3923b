package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/test/certs"
)

func TestSyncWritesTheRenderedSecretToEveryTargetNamespace(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	inlineCA, cmCA, secretCA := certs.NewCA("inline root"), certs.NewCA("configmap root"), certs.NewCA("secret root")

	team := map[string]string{"flux-notation.io/verify": uniqueName("team")}
	a, b := newNamespace(t, team), newNamespace(t, team)
	byName := newNamespace(t, nil)
	untargeted := newNamespace(t, nil)

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("roots"), Namespace: trustNS},
		Data: map[string]string{"ca.pem": string(cmCA.PEM())}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("roots"), Namespace: trustNS},
		Data: map[string][]byte{"ca.crt": secretCA.PEM()}}
	create(t, cm)
	create(t, sec)

	p := newPolicy(inlineCA, byName)
	p.Spec.Certificates = append(p.Spec.Certificates,
		v1alpha1.CertificateSource{Name: "from-cm", ConfigMapRef: &v1alpha1.KeyReference{Name: cm.Name, Key: "ca.pem"}},
		v1alpha1.CertificateSource{Name: "from-secret", SecretRef: &v1alpha1.KeyReference{Name: sec.Name, Key: "ca.crt"}},
	)
	p.Spec.Target.NamespaceSelector = &metav1.LabelSelector{MatchLabels: team}
	p.Spec.Target.Labels = map[string]string{"team.example.com/owner": "platform"}
	p.Spec.Target.Annotations = map[string]string{"example.com/note": "managed centrally"}
	create(t, p)

	got := waitReadyWith(t, p.Name, func(g Gomega, got *v1alpha1.VerificationPolicy) {
		g.Expect(got.Status.Namespaces).To(Equal(v1alpha1.NamespaceCounts{Targeted: 3, Synced: 3, Summary: "3/3"}))
		g.Expect(got.Status.NamespaceIssues).To(BeEmpty())
		g.Expect(got.Status.Certificates).To(HaveLen(3))
	})
	g.Expect(conditions.IsTrue(got, v1alpha1.SecretsSyncedCondition)).To(BeTrue())
	g.Expect(conditions.Has(got, meta.ReconcilingCondition)).To(BeFalse())
	g.Expect(conditions.Has(got, meta.StalledCondition)).To(BeFalse())

	for _, ns := range []string{a, b, byName} {
		s := getSecret(g, ns, "notation-config")
		g.Expect(s.Type).To(Equal(corev1.SecretTypeOpaque))
		g.Expect(s.Labels).To(HaveKeyWithValue(v1alpha1.ManagedByLabel, v1alpha1.ManagedByValue))
		g.Expect(s.Labels).To(HaveKeyWithValue(v1alpha1.PolicyLabel, p.Name))
		g.Expect(s.Labels).To(HaveKeyWithValue("team.example.com/owner", "platform"))
		g.Expect(s.Annotations).To(HaveKeyWithValue("example.com/note", "managed centrally"))
		g.Expect(s.Annotations).To(HaveKeyWithValue(v1alpha1.TrustDigestAnnotation, got.Status.TrustDigest))
		g.Expect(hasOwnerRef(s, got)).To(BeTrue())

		// The exact data: one certificate per key, byte for byte, and a
		// trust policy listing a ca store for the statement.
		g.Expect(s.Data).To(HaveLen(4))
		g.Expect(s.Data["root.crt"]).To(Equal(inlineCA.PEM()))
		g.Expect(s.Data["from-cm.crt"]).To(Equal(cmCA.PEM()))
		g.Expect(s.Data["from-secret.crt"]).To(Equal(secretCA.PEM()))
		var doc trustpolicy.Document
		g.Expect(json.Unmarshal(s.Data["trustpolicy.json"], &doc)).To(Succeed())
		g.Expect(doc.Validate()).To(Succeed())
		g.Expect(doc.TrustPolicies).To(HaveLen(1))
		g.Expect(doc.TrustPolicies[0].TrustStores).To(Equal([]string{"ca:apps"}))
		g.Expect(doc.TrustPolicies[0].TrustedIdentities).To(Equal([]string{"*"}))

		g.Expect(trustconfig.TrustDigest(s.Data)).To(Equal(got.Status.TrustDigest))
		g.Expect(trustconfig.FluxFingerprint("notation", s.Data)).To(Equal(got.Status.FluxFingerprint))
	}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: untargeted, Name: "notation-config"}, &corev1.Secret{})).NotTo(Succeed())
	expectEvent(t, p.Name, corev1.EventTypeNormal, "SecretsWritten")

	// Rotation: a spec change reaches every namespace.
	rotated := certs.NewCA("rotated root")
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].Inline = string(rotated.PEM()) })
	after := waitReady(t, p.Name)
	g.Expect(after.Status.TrustDigest).NotTo(Equal(got.Status.TrustDigest))
	for _, ns := range []string{a, b, byName} {
		s := waitSecretDigest(t, ns, "notation-config", after.Status.TrustDigest)
		g.Expect(s.Data["root.crt"]).To(Equal(rotated.PEM()))
	}
}

func TestSyncFollowsNamespacesAsTheyAppearAndChange(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	key := uniqueName("team")
	p := newPolicy(certs.NewCA("root"))
	p.Spec.Target.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"verify": key}}
	create(t, p)
	waitCondition(t, p.Name, v1alpha1.SecretsSyncedCondition, metav1.ConditionFalse, v1alpha1.ReasonNoTargetNamespaces)

	// A namespace created later gets its Secret within seconds.
	start := time.Now()
	ns := newNamespace(t, map[string]string{"verify": key})
	ready := waitReady(t, p.Name)
	waitSecretDigest(t, ns, "notation-config", ready.Status.TrustDigest)
	t.Logf("namespace created later got its Secret after %s", time.Since(start).Round(time.Millisecond))

	// Relabelled out: our Secret is pruned.
	nsObj := &corev1.Namespace{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, nsObj)).To(Succeed())
	nsObj.Labels["verify"] = "someone-else"
	g.Expect(k8s.Update(ctx, nsObj)).To(Succeed())
	waitSecretGone(t, ns, "notation-config")

	// Relabelled back in: restored.
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, nsObj)).To(Succeed())
	nsObj.Labels["verify"] = key
	g.Expect(k8s.Update(ctx, nsObj)).To(Succeed())
	waitSecretDigest(t, ns, "notation-config", ready.Status.TrustDigest)
}

func TestSyncSkipsTerminatingNamespaces(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	live := newNamespace(t, nil)
	dying := newNamespace(t, nil)
	// envtest runs no namespace controller: a deleted namespace stays
	// Terminating, which is exactly the state under test.
	g.Expect(k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dying}})).To(Succeed())

	missing := uniqueName("not-there")
	p := newPolicy(certs.NewCA("root"), live, dying, missing)
	create(t, p)
	got := waitReadyWith(t, p.Name, func(g Gomega, got *v1alpha1.VerificationPolicy) {
		g.Expect(got.Status.Namespaces).To(Equal(v1alpha1.NamespaceCounts{Targeted: 1, Synced: 1, Summary: "1/1"}))
		g.Expect(got.Status.NamespaceIssues).To(ConsistOf(
			v1alpha1.NamespaceIssue{Namespace: dying, Reason: v1alpha1.ReasonTerminating, Message: "namespace is terminating; it is skipped"},
			HaveField("Reason", v1alpha1.ReasonNamespaceNotFound),
		))
	})
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: dying, Name: "notation-config"}, &corev1.Secret{})).NotTo(Succeed())

	// The missing namespace appears later: it gets the Secret.
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: missing}}
	g.Expect(k8s.Create(ctx, nsObj)).To(Succeed())
	waitSecretDigest(t, missing, "notation-config", got.Status.TrustDigest)
}

func TestSyncNeverTouchesASecretItDoesNotOwn(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	taken, free := newNamespace(t, nil), newNamespace(t, nil)
	theirs := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "notation-config", Namespace: taken, Labels: map[string]string{"owner": "team"}},
		Data:       map[string][]byte{"trustpolicy.json": []byte(`{"hand":"made"}`)},
	}
	g.Expect(k8s.Create(ctx, theirs)).To(Succeed())

	p := newPolicy(certs.NewCA("root"), taken, free)
	create(t, p)
	var got *v1alpha1.VerificationPolicy
	g.Eventually(func(g Gomega) {
		got = getPolicy(g, p.Name)
		c := conditions.Get(got, meta.ReadyCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonSecretConflict), c.Message)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		// The second namespace was created just before the policy.
		g.Expect(got.Status.Namespaces).To(Equal(v1alpha1.NamespaceCounts{Targeted: 2, Synced: 1, Conflicted: 1, Summary: "1/2"}))
	}, timeout, poll).Should(Succeed())
	g.Expect(got.Status.NamespaceIssues).To(HaveLen(1))
	g.Expect(got.Status.NamespaceIssues[0].Namespace).To(Equal(taken))
	g.Expect(got.Status.NamespaceIssues[0].Reason).To(Equal(v1alpha1.ReasonSecretConflict))
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("1 conflicted"))
	waitSecretDigest(t, free, "notation-config", got.Status.TrustDigest)
	expectEvent(t, p.Name, corev1.EventTypeWarning, v1alpha1.ReasonSecretConflict)

	// Untouched, byte for byte and version for version.
	still := getSecret(g, taken, "notation-config")
	g.Expect(still.ResourceVersion).To(Equal(theirs.ResourceVersion))
	g.Expect(still.Data).To(Equal(theirs.Data))

	// Once the owner removes it, the namespace is synced on the next retry.
	g.Expect(k8s.Delete(ctx, theirs)).To(Succeed())
	waitSecretDigest(t, taken, "notation-config", got.Status.TrustDigest)
	// Ready and the counts are written in one request: the Ready status
	// carries the counts it was derived with.
	g.Expect(waitReady(t, p.Name).Status.Namespaces).To(Equal(v1alpha1.NamespaceCounts{Targeted: 2, Synced: 2, Summary: "2/2"}))
}

func TestTheFirstPolicyKeepsASharedSecret(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t, nil)
	first := newPolicy(certs.NewCA("first"), ns)
	create(t, first)
	firstReady := waitReady(t, first.Name)

	second := newPolicy(certs.NewCA("second"), ns)
	create(t, second)
	got := waitCondition(t, second.Name, v1alpha1.SecretsSyncedCondition, metav1.ConditionFalse, v1alpha1.ReasonSecretConflict)
	g.Expect(got.Status.NamespaceIssues).To(HaveLen(1))
	g.Expect(got.Status.NamespaceIssues[0].Message).To(ContainSubstring(fmt.Sprintf("managed by VerificationPolicy %q", first.Name)))

	s := getSecret(g, ns, "notation-config")
	g.Expect(s.Labels[v1alpha1.PolicyLabel]).To(Equal(first.Name))
	g.Expect(s.Annotations[v1alpha1.TrustDigestAnnotation]).To(Equal(firstReady.Status.TrustDigest))
}

func TestSyncRestoresDrift(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ca := certs.NewCA("root")
	ns := newNamespace(t, nil)
	p := newPolicy(ca, ns)
	create(t, p)
	ready := waitReady(t, p.Name)
	s := waitSecretDigest(t, ns, "notation-config", ready.Status.TrustDigest)
	want := map[string][]byte{}
	for k, v := range s.Data {
		want[k] = v
	}

	// A hand edit that keeps our digest annotation is still caught: the data
	// itself is compared by digest.
	intruder, extra := certs.NewCA("intruder").PEM(), certs.NewCA("extra").PEM()
	updateSecret(t, ns, "notation-config", func(s *corev1.Secret) {
		s.Data["root.crt"] = intruder
		s.Data["extra.crt"] = extra
	})
	g.Eventually(func(g Gomega) {
		g.Expect(getSecret(g, ns, "notation-config").Data).To(Equal(want))
	}, timeout, poll).Should(Succeed())

	// A hand delete is restored.
	g.Expect(k8s.Delete(ctx, getSecret(g, ns, "notation-config"))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(getSecret(g, ns, "notation-config").Data).To(Equal(want))
	}, timeout, poll).Should(Succeed())
}

// TestAResyncReadsNoSecret: the Secrets are cached as metadata only, and
// their managedFields prove the data is what the operator wrote, so a full
// resync sends no request at all for them; a foreign edit of the data is
// seen in the metadata, read once, and restored.
func TestAResyncReadsNoSecret(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t, nil)
	p := newPolicy(certs.NewCA("root"), ns)
	create(t, p)
	ready := waitReady(t, p.Name)
	want := waitSecretDigest(t, ns, "notation-config", ready.Status.TrustDigest).Data

	before := writes.requestsTo(ns, "secrets")
	requestReconcile(t, p.Name)
	requestReconcile(t, p.Name)
	g.Expect(writes.requestsTo(ns, "secrets")).To(Equal(before), "a resync read or wrote the Secret")

	intruder := certs.NewCA("intruder").PEM()
	updateSecret(t, ns, "notation-config", func(s *corev1.Secret) { s.Data["root.crt"] = intruder }, client.FieldOwner("kubectl-edit"))
	g.Eventually(func(g Gomega) {
		g.Expect(getSecret(g, ns, "notation-config").Data).To(Equal(want))
	}, timeout, poll).Should(Succeed())
	// One read (the data could no longer be vouched for) and one update.
	g.Expect(writes.requestsTo(ns, "secrets") - before).To(BeNumerically("<=", 2))
	restored := writes.requestsTo(ns, "secrets")
	requestReconcile(t, p.Name)
	g.Expect(writes.requestsTo(ns, "secrets")).To(Equal(restored), "the restored Secret is vouched for again")
}

func TestSourceChangesReachEveryCopy(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	nsA, nsB := newNamespace(t, nil), newNamespace(t, nil)
	oldCA, newCA := certs.NewCA("old"), certs.NewCA("new")
	src := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("roots"), Namespace: trustNS},
		Data: map[string][]byte{"ca.crt": oldCA.PEM()}}
	create(t, src)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("roots"), Namespace: trustNS},
		Data: map[string]string{"ca.crt": string(oldCA.PEM())}}
	create(t, cm)

	p := newPolicy(certs.NewCA("inline"), nsA, nsB)
	p.Spec.Certificates = []v1alpha1.CertificateSource{
		{Name: "from-secret", SecretRef: &v1alpha1.KeyReference{Name: src.Name, Key: "ca.crt"}},
		{Name: "from-cm", ConfigMapRef: &v1alpha1.KeyReference{Name: cm.Name, Key: "ca.crt"}},
	}
	create(t, p)
	before := waitReady(t, p.Name)

	src.Data["ca.crt"] = newCA.PEM()
	g.Expect(k8s.Update(ctx, src)).To(Succeed())
	for _, ns := range []string{nsA, nsB} {
		g.Eventually(func(g Gomega) {
			s := getSecret(g, ns, "notation-config")
			g.Expect(s.Data).To(HaveKey("from-secret.crt"), "keys: %v", keys(s.Data))
			g.Expect(s.Data["from-secret.crt"]).To(Equal(newCA.PEM()))
		}, timeout, poll).Should(Succeed())
	}
	mid := waitReady(t, p.Name)
	g.Expect(mid.Status.TrustDigest).NotTo(Equal(before.Status.TrustDigest))

	// A different certificate: an identical one would be deduplicated away.
	cmCA := certs.NewCA("configmap new")
	cm.Data["ca.crt"] = string(cmCA.PEM())
	g.Expect(k8s.Update(ctx, cm)).To(Succeed())
	for _, ns := range []string{nsA, nsB} {
		g.Eventually(func(g Gomega) {
			g.Expect(getSecret(g, ns, "notation-config").Data["from-cm.crt"]).To(Equal(cmCA.PEM()))
		}, timeout, poll).Should(Succeed())
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	signer := certs.NewCA("root")
	nsA, nsB := newNamespace(t, nil), newNamespace(t, nil)
	p := newPolicy(signer, nsA, nsB)
	create(t, p)
	good := waitReady(t, p.Name)
	versions := map[string]string{}
	for _, ns := range []string{nsA, nsB} {
		versions[ns] = waitSecretDigest(t, ns, "notation-config", good.Status.TrustDigest).ResourceVersion
	}

	// A private key pasted as a certificate: refused, never echoed, stalled
	// (only a spec change can fix an inline source), nothing written.
	keyPEM := string(signer.KeyPEM())
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].Inline = keyPEM })
	bad := waitCondition(t, p.Name, meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonPrivateKeyRejected)
	g.Expect(conditions.IsTrue(bad, meta.StalledCondition)).To(BeTrue())
	// Stalled means handled: observedGeneration is written with it.
	g.Expect(bad.Status.ObservedGeneration).To(Equal(bad.Generation))
	msg := conditions.GetMessage(bad, meta.ReadyCondition)
	g.Expect(msg).To(ContainSubstring("certificates[root]"))
	g.Expect(msg).To(ContainSubstring("last good configuration"))
	g.Expect(containsAny(msg, keyPEM[40:80], keyPEM[100:140])).To(BeFalse(), "the key leaked into the message: %s", msg)
	ev := expectEvent(t, p.Name, corev1.EventTypeWarning, v1alpha1.ReasonPrivateKeyRejected)
	g.Expect(containsAny(ev.Message, keyPEM[40:80], keyPEM[100:140])).To(BeFalse())
	g.Expect(bad.Status.TrustDigest).To(Equal(good.Status.TrustDigest), "status keeps describing what is deployed")

	// A missing source: not stalled (creating the source fixes it).
	missing := uniqueName("absent")
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates[0] = v1alpha1.CertificateSource{Name: "root", Type: "ca",
			SecretRef: &v1alpha1.KeyReference{Name: missing, Key: "ca.crt"}}
	})
	nf := waitCondition(t, p.Name, meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonSourceNotFound)
	g.Expect(conditions.Has(nf, meta.StalledCondition)).To(BeFalse())
	g.Expect(conditions.GetMessage(nf, meta.ReadyCondition)).To(ContainSubstring(missing))

	for _, ns := range []string{nsA, nsB} {
		s := getSecret(g, ns, "notation-config")
		g.Expect(s.ResourceVersion).To(Equal(versions[ns]), "the last good Secret in %s was rewritten", ns)
	}

	// A source with the key missing, then fixed: the policy recovers.
	src := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: missing, Namespace: trustNS},
		Data: map[string][]byte{"other.crt": signer.PEM()}}
	create(t, src)
	waitCondition(t, p.Name, meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonSourceKeyNotFound)
	src.Data = map[string][]byte{"ca.crt": signer.PEM()}
	g.Expect(k8s.Update(ctx, src)).To(Succeed())
	recovered := waitReady(t, p.Name)
	g.Expect(recovered.Status.TrustDigest).To(Equal(good.Status.TrustDigest), "same certificate, same digest")
}

func TestPolicyDeletionRemovesOrReleasesSecrets(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()

	nsDel := newNamespace(t, nil)
	del := newPolicy(certs.NewCA("root"), nsDel)
	g.Expect(k8s.Create(ctx, del)).To(Succeed())
	ready := waitReady(t, del.Name)
	waitSecretDigest(t, nsDel, "notation-config", ready.Status.TrustDigest)
	g.Expect(k8s.Delete(ctx, del)).To(Succeed())
	waitSecretGone(t, nsDel, "notation-config")
	g.Eventually(func() bool {
		err := k8s.Get(ctx, client.ObjectKey{Name: del.Name}, &v1alpha1.VerificationPolicy{})
		return apierrors.IsNotFound(err)
	}, timeout, poll).Should(BeTrue(), "the policy's finalizer was not removed")

	nsOrphan := newNamespace(t, nil)
	orphan := newPolicy(certs.NewCA("root"), nsOrphan)
	orphan.Spec.Target.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
	orphan.Spec.Target.Labels = map[string]string{"team": "a"}
	g.Expect(k8s.Create(ctx, orphan)).To(Succeed())
	oReady := waitReady(t, orphan.Name)
	s := waitSecretDigest(t, nsOrphan, "notation-config", oReady.Status.TrustDigest)
	g.Expect(s.OwnerReferences).To(BeEmpty(), "Orphan policies set no owner reference")
	data := s.Data
	g.Expect(k8s.Delete(ctx, orphan)).To(Succeed())
	g.Eventually(func(g Gomega) {
		s := getSecret(g, nsOrphan, "notation-config")
		g.Expect(s.Labels).NotTo(HaveKey(v1alpha1.ManagedByLabel))
		g.Expect(s.Labels).NotTo(HaveKey(v1alpha1.PolicyLabel))
		g.Expect(s.Annotations).NotTo(HaveKey(v1alpha1.TrustDigestAnnotation))
		g.Expect(s.Labels).To(HaveKeyWithValue("team", "a"))
		g.Expect(s.Data).To(Equal(data))
	}, timeout, poll).Should(Succeed())
}

func TestSuspendedPolicyWritesNothing(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t, nil)
	p := newPolicy(certs.NewCA("root"), ns)
	create(t, p)
	before := waitReady(t, p.Name)
	rv := waitSecretDigest(t, ns, "notation-config", before.Status.TrustDigest).ResourceVersion

	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Suspend = true })
	waitCondition(t, p.Name, v1alpha1.SecretsSyncedCondition, metav1.ConditionFalse, v1alpha1.ReasonSuspended)
	rotated := certs.NewCA("rotated")
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].Inline = string(rotated.PEM()) })
	g.Consistently(func(g Gomega) {
		g.Expect(getSecret(g, ns, "notation-config").ResourceVersion).To(Equal(rv))
	}, 2*time.Second, poll).Should(Succeed())

	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Suspend = false })
	after := waitReady(t, p.Name)
	s := waitSecretDigest(t, ns, "notation-config", after.Status.TrustDigest)
	g.Expect(s.Data["root.crt"]).To(Equal(rotated.PEM()))
}

func TestSteadyStateMakesNoWrites(t *testing.T) {
	g := NewWithT(t)
	var namespaces []string
	for range 5 {
		namespaces = append(namespaces, newNamespace(t, nil))
	}
	p := newPolicy(certs.NewCA("root"), namespaces...)
	p.Spec.Target.Labels = map[string]string{"a": "b"}
	create(t, p)
	ready := waitReady(t, p.Name)
	for _, ns := range namespaces {
		waitSecretDigest(t, ns, "notation-config", ready.Status.TrustDigest)
	}

	g.Expect(writes.carriedOut(namespaces...)).To(Equal(len(namespaces)), "one create per namespace")
	before := writes.in(namespaces...)
	for range 3 {
		requestReconcile(t, p.Name)
	}
	g.Expect(writes.in(namespaces...)-before).To(BeZero(), "a reconcile with nothing to change wrote Secrets")
}

func TestTargetMetadataChangesWithoutFightingOtherTools(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t, nil)
	p := newPolicy(certs.NewCA("root"), ns)
	p.Spec.Target.Labels = map[string]string{"keep": "1", "drop": "1"}
	create(t, p)
	ready := waitReady(t, p.Name)
	waitSecretDigest(t, ns, "notation-config", ready.Status.TrustDigest)

	// Another tool annotates our Secret: that is not drift we fight.
	updateSecret(t, ns, "notation-config", func(s *corev1.Secret) { s.Annotations["backup.example.com/include"] = "true" })

	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Target.Labels = map[string]string{"keep": "2"} })
	g.Eventually(func(g Gomega) {
		s := getSecret(g, ns, "notation-config")
		g.Expect(s.Labels).To(HaveKeyWithValue("keep", "2"))
		g.Expect(s.Labels).NotTo(HaveKey("drop"))
		g.Expect(s.Annotations).To(HaveKeyWithValue("backup.example.com/include", "true"))
	}, timeout, poll).Should(Succeed())
}

func TestRenamingTheSecretMovesIt(t *testing.T) {
	ns := newNamespace(t, nil)
	p := newPolicy(certs.NewCA("root"), ns)
	create(t, p)
	ready := waitReady(t, p.Name)
	waitSecretDigest(t, ns, "notation-config", ready.Status.TrustDigest)

	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Target.SecretName = "notation-trust" })
	waitSecretDigest(t, ns, "notation-trust", ready.Status.TrustDigest)
	waitSecretGone(t, ns, "notation-config")
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
