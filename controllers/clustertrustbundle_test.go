package controllers_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// within bounds how long a bundle change may take to reach the Secrets:
// the watch delivers it in milliseconds.
const within = 10 * time.Second

// newBundle returns a ClusterTrustBundle holding the PEM of cas. With a
// signer, its name must start with the signer name, '/' written ':'.
func newBundle(name, signer string, labels map[string]string, cas ...*certs.Cert) *certificatesv1beta1.ClusterTrustBundle {
	return &certificatesv1beta1.ClusterTrustBundle{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       certificatesv1beta1.ClusterTrustBundleSpec{SignerName: signer, TrustBundle: pemOf(cas...)},
	}
}

func pemOf(cas ...*certs.Cert) string {
	var b strings.Builder
	for _, ca := range cas {
		b.Write(ca.PEM())
	}
	return b.String()
}

func updateBundle(t *testing.T, c client.Client, name string, mutate func(*certificatesv1beta1.ClusterTrustBundle)) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		b := &certificatesv1beta1.ClusterTrustBundle{}
		if err := c.Get(context.Background(), client.ObjectKey{Name: name}, b); err != nil {
			return err
		}
		mutate(b)
		return c.Update(context.Background(), b)
	}, timeout, poll).Should(Succeed())
}

// bundlePolicy is a policy whose only certificate source is src.
func bundlePolicy(src *v1alpha1.ClusterTrustBundleSource, namespaces ...string) *v1alpha1.VerificationPolicy {
	p := newPolicy(certs.NewCA("unused"), namespaces...)
	p.Spec.Certificates = []v1alpha1.CertificateSource{{Name: "bundle", ClusterTrustBundle: src}}
	return p
}

// waitSecretData waits until ns holds the policy's Secret with exactly these
// certificate keys and contents (besides trustpolicy.json).
func waitSecretData(t *testing.T, ns string, want map[string]*certs.Cert) *corev1.Secret {
	t.Helper()
	var out *corev1.Secret
	wantCNs := map[string]string{}
	for k, ca := range want {
		wantCNs[k] = ca.Cert.Subject.CommonName
	}
	NewWithT(t).Eventually(func(g Gomega) {
		s := getSecret(g, ns, "notation-config")
		// Compared by subject, so a failure reads as names, not bytes.
		got := map[string]string{}
		for k, v := range s.Data {
			if k == "trustpolicy.json" {
				continue
			}
			block, _ := pem.Decode(v)
			g.Expect(block).NotTo(BeNil(), "key %s", k)
			cert, err := x509.ParseCertificate(block.Bytes)
			g.Expect(err).NotTo(HaveOccurred())
			got[k] = cert.Subject.CommonName
		}
		g.Expect(got).To(Equal(wantCNs))
		for k, ca := range want {
			g.Expect(s.Data[k]).To(Equal(ca.PEM()), "key %s", k)
		}
		out = s
	}, within, poll).Should(Succeed())
	return out
}

func sourcesOf(p *v1alpha1.VerificationPolicy) map[string]string {
	out := map[string]string{}
	for _, c := range p.Status.Certificates {
		out[c.Key] = c.Source
	}
	return out
}

// One bundle by name: its certificates reach the Secrets; an edit of the
// bundle is there within seconds; deleting it keeps the last good Secrets
// (optional: false), and with optional: true the other sources are written
// without it, until it comes back.
func TestClusterTrustBundleByName(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t, nil)
	g1, g2, g3, inline := certs.NewCA("ctb g1"), certs.NewCA("ctb g2"), certs.NewCA("ctb g3"), certs.NewCA("ctb inline")
	b := newBundle(uniqueName("platform-roots"), "", nil, g1)
	create(t, b)

	p := bundlePolicy(&v1alpha1.ClusterTrustBundleSource{Name: b.Name}, ns)
	p.Spec.Certificates = append(p.Spec.Certificates, v1alpha1.CertificateSource{Name: "inline", Inline: string(inline.PEM())})
	create(t, p)
	ready := waitReady(t, p.Name)
	waitSecretData(t, ns, map[string]*certs.Cert{"bundle.crt": g1, "inline.crt": inline})
	g.Expect(sourcesOf(ready)).To(Equal(map[string]string{
		"bundle.crt": "bundle (ClusterTrustBundle " + b.Name + ")",
		"inline.crt": "inline",
	}))

	// Edited: two certificates now, keyed <name>-<n>.crt.
	start := time.Now()
	updateBundle(t, k8s, b.Name, func(b *certificatesv1beta1.ClusterTrustBundle) { b.Spec.TrustBundle = pemOf(g2, g3) })
	edited := waitSecretData(t, ns, map[string]*certs.Cert{"bundle-1.crt": g2, "bundle-2.crt": g3, "inline.crt": inline})
	t.Logf("a bundle edit reached the Secret after %s", time.Since(start).Round(time.Millisecond))
	after := waitReady(t, p.Name)
	g.Expect(sourcesOf(after)).To(HaveKeyWithValue("bundle-2.crt", "bundle (ClusterTrustBundle "+b.Name+")"))

	// Deleted, not optional: SourceNotFound, not stalled, nothing written.
	g.Expect(k8s.Delete(ctx, b)).To(Succeed())
	nf := waitCondition(t, p.Name, meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonSourceNotFound)
	g.Expect(conditions.GetMessage(nf, meta.ReadyCondition)).To(ContainSubstring("ClusterTrustBundle " + b.Name + " not found"))
	g.Expect(conditions.Has(nf, meta.StalledCondition)).To(BeFalse())
	expectEventWith(t, p.Name, v1alpha1.ReasonSourceNotFound, b.Name)
	g.Expect(nf.Status.TrustDigest).To(Equal(after.Status.TrustDigest), "status keeps describing what is deployed")
	g.Expect(getSecret(g, ns, "notation-config").ResourceVersion).To(Equal(edited.ResourceVersion), "the last good Secret stays")

	// Optional: the inline source alone is written.
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].ClusterTrustBundle.Optional = true })
	waitSecretData(t, ns, map[string]*certs.Cert{"inline.crt": inline})
	g.Expect(sourcesOf(waitReady(t, p.Name))).To(Equal(map[string]string{"inline.crt": "inline"}))

	// The bundle comes back: the watch wakes the policy.
	create(t, newBundle(b.Name, "", nil, g3))
	waitSecretData(t, ns, map[string]*certs.Cert{"bundle.crt": g3, "inline.crt": inline})
}

// Bundles selected by signer and labels, across three bundles, in name
// order; a bundle added to, relabelled out of, or deleted from the
// selection re-renders every policy that uses it, through the same
// bad-input rules.
func TestClusterTrustBundlesBySignerAndLabels(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t, nil)
	signer := "example.com/" + uniqueName("releases")
	prefix := strings.ReplaceAll(signer, "/", ":") + ":"
	prod := map[string]string{"rollout.example.com/ring": "prod"}
	canary := map[string]string{"rollout.example.com/ring": "canary"}
	a, b, c, d, other := certs.NewCA("ctb a"), certs.NewCA("ctb b"), certs.NewCA("ctb c"), certs.NewCA("ctb d"), certs.NewCA("ctb other signer")

	// Created out of name order; one of the signer is not selected, and one
	// with the same labels belongs to another signer.
	create(t, newBundle(prefix+"c", signer, prod, c))
	create(t, newBundle(prefix+"a", signer, prod, a))
	create(t, newBundle(prefix+"b", signer, prod, b))
	create(t, newBundle(prefix+"canary", signer, canary, d))
	otherSigner := "example.com/" + uniqueName("other")
	create(t, newBundle(strings.ReplaceAll(otherSigner, "/", ":")+":a", otherSigner, prod, other))

	p := bundlePolicy(&v1alpha1.ClusterTrustBundleSource{SignerName: signer, LabelSelector: selectorFor(prod)}, ns)
	create(t, p)
	// A second policy names one of the bundles: both follow it.
	ns2 := newNamespace(t, nil)
	q := bundlePolicy(&v1alpha1.ClusterTrustBundleSource{Name: prefix + "b"}, ns2)
	create(t, q)

	// The bundles were created just before the policy.
	waitReadyWith(t, p.Name, func(g Gomega, ready *v1alpha1.VerificationPolicy) {
		g.Expect(sourcesOf(ready)).To(Equal(map[string]string{
			"bundle-1.crt": "bundle (ClusterTrustBundle " + prefix + "a)",
			"bundle-2.crt": "bundle (ClusterTrustBundle " + prefix + "b)",
			"bundle-3.crt": "bundle (ClusterTrustBundle " + prefix + "c)",
		}))
	})
	waitSecretData(t, ns, map[string]*certs.Cert{"bundle-1.crt": a, "bundle-2.crt": b, "bundle-3.crt": c})
	waitReady(t, q.Name)
	waitSecretData(t, ns2, map[string]*certs.Cert{"bundle.crt": b})

	// Relabelled into the selection ("<prefix>canary" sorts after "<prefix>c").
	updateBundle(t, k8s, prefix+"canary", func(x *certificatesv1beta1.ClusterTrustBundle) { x.Labels = prod })
	waitSecretData(t, ns, map[string]*certs.Cert{"bundle-1.crt": a, "bundle-2.crt": b, "bundle-3.crt": c, "bundle-4.crt": d})

	// Relabelled out of it.
	updateBundle(t, k8s, prefix+"a", func(x *certificatesv1beta1.ClusterTrustBundle) { x.Labels = canary })
	waitSecretData(t, ns, map[string]*certs.Cert{"bundle-1.crt": b, "bundle-2.crt": c, "bundle-3.crt": d})

	// Edited: both policies follow.
	e := certs.NewCA("ctb e")
	updateBundle(t, k8s, prefix+"b", func(x *certificatesv1beta1.ClusterTrustBundle) { x.Spec.TrustBundle = pemOf(e) })
	waitSecretData(t, ns, map[string]*certs.Cert{"bundle-1.crt": e, "bundle-2.crt": c, "bundle-3.crt": d})
	waitSecretData(t, ns2, map[string]*certs.Cert{"bundle.crt": e})

	// A new bundle of the signer, last in name order.
	create(t, newBundle(prefix+"d", signer, prod, a))
	waitSecretData(t, ns, map[string]*certs.Cert{"bundle-1.crt": e, "bundle-2.crt": c, "bundle-3.crt": d, "bundle-4.crt": a})

	// Every selected bundle deleted, one after the other (optional: false):
	// each smaller selection is written while it lasts; the empty one is
	// SourceNotFound, and the last good Secret stays.
	for _, n := range []string{"b", "c", "d", "canary"} {
		g.Expect(k8s.Delete(ctx, &certificatesv1beta1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: prefix + n}})).To(Succeed())
	}
	nf := waitCondition(t, p.Name, meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonSourceNotFound)
	g.Expect(conditions.GetMessage(nf, meta.ReadyCondition)).To(ContainSubstring("no ClusterTrustBundle of signer " + signer + " matches the label selector"))
	last := getSecret(g, ns, "notation-config")
	g.Expect(last.Annotations[v1alpha1.TrustDigestAnnotation]).To(Equal(nf.Status.TrustDigest), "status keeps describing what is deployed")
	g.Consistently(func(g Gomega) {
		g.Expect(getSecret(g, ns, "notation-config").ResourceVersion).To(Equal(last.ResourceVersion))
	}, time.Second, poll).Should(Succeed())

	// optional: true, and no other source: still nothing written, since
	// Flux refuses a Secret without certificates.
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0].ClusterTrustBundle.Optional = true })
	g.Eventually(func(g Gomega) {
		got := getPolicy(g, p.Name)
		g.Expect(got.Status.ObservedGeneration).To(BeNumerically("<", got.Generation), "waiting, not handled")
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(v1alpha1.ReasonSourceNotFound))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("no other source supplies a certificate"))
	}, timeout, poll).Should(Succeed())
	g.Expect(getSecret(g, ns, "notation-config").ResourceVersion).To(Equal(last.ResourceVersion))

	// A matching bundle appears: synced again.
	create(t, newBundle(prefix+"z", signer, prod, c))
	waitSecretData(t, ns, map[string]*certs.Cert{"bundle.crt": c})
	waitReady(t, p.Name)
}

// A ClusterTrustBundle holding a certificate without the CA bit cannot
// exist: the API server refuses it on create and on update, so the last good
// Secrets stay. (The operator refuses one as well, should one get through:
// controllers/trustconfig TestRenderPartsRejectBadInput.)
func TestClusterTrustBundleWithANonCACertificate(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t, nil)
	root := certs.NewCA("ctb root")
	leaf := certs.NewCodeSigner("ctb release signing", root)
	selfSignedLeaf := certs.New("ctb self-signed non-CA", nil, certs.Options{CodeSigning: true})

	b := newBundle(uniqueName("roots"), "", nil, root)
	create(t, b)
	p := bundlePolicy(&v1alpha1.ClusterTrustBundleSource{Name: b.Name}, ns)
	create(t, p)
	good := waitReady(t, p.Name)
	s := waitSecretData(t, ns, map[string]*certs.Cert{"bundle.crt": root})

	for _, nonCA := range []*certs.Cert{leaf, selfSignedLeaf} {
		err := k8s.Create(ctx, newBundle(uniqueName("leaf"), "", nil, root, nonCA))
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(ContainSubstring("does not have the CA bit set"))

		current := &certificatesv1beta1.ClusterTrustBundle{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: b.Name}, current)).To(Succeed())
		current.Spec.TrustBundle = pemOf(root, nonCA)
		err = k8s.Update(ctx, current)
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	}
	requestReconcile(t, p.Name)
	after := waitReady(t, p.Name)
	g.Expect(after.Status.TrustDigest).To(Equal(good.Status.TrustDigest))
	g.Expect(getSecret(g, ns, "notation-config").ResourceVersion).To(Equal(s.ResourceVersion))
}

// On an API server without the ClusterTrustBundle API, a policy with such a
// source says so and writes nothing, keeping its last good Secrets, while a
// policy with inline sources on the same manager syncs. When the API
// appears (kube-apiserver restarted with the feature gate), the policy
// syncs by itself.
func TestClusterTrustBundleAPINotServed(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c, env := isolatedPlaneWith(t, testenv.Options{WithoutClusterTrustBundles: true, CertDir: t.TempDir()})
	nsFresh, nsSynced, nsInline := uniqueName("ns"), uniqueName("ns"), uniqueName("ns")
	for _, ns := range []string{nsFresh, nsSynced, nsInline} {
		g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}
	get := func(g Gomega, name string) *v1alpha1.VerificationPolicy {
		p := &v1alpha1.VerificationPolicy{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: name}, p)).To(Succeed())
		return p
	}
	secretOf := func(g Gomega, ns string) *corev1.Secret {
		s := &corev1.Secret{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "notation-config"}, s)).To(Succeed())
		return s
	}
	notServed := func(g Gomega, name string) {
		p := get(g, name)
		ready := conditions.Get(p, meta.ReadyCondition)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonClusterTrustBundleAPINotServed), ready.Message)
		g.Expect(ready.Message).To(ContainSubstring("--feature-gates=ClusterTrustBundle=true"))
		g.Expect(ready.Message).To(ContainSubstring("certificates[bundle]"))
		g.Expect(conditions.GetReason(p, v1alpha1.SecretsSyncedCondition)).To(Equal(v1alpha1.ReasonClusterTrustBundleAPINotServed))
		g.Expect(conditions.Has(p, meta.StalledCondition)).To(BeFalse(), "the API can appear: not stalled")
	}

	bundleName := uniqueName("platform-roots")
	root := certs.NewCA("ctb root")
	fresh := bundlePolicy(&v1alpha1.ClusterTrustBundleSource{Name: bundleName}, nsFresh)
	g.Expect(c.Create(ctx, fresh)).To(Succeed())

	// A policy that synced with inline sources, then gains a bundle source.
	inlineCA := certs.NewCA("inline root")
	synced := newPolicy(inlineCA, nsSynced)
	g.Expect(c.Create(ctx, synced)).To(Succeed())
	var lastGood *corev1.Secret
	g.Eventually(func(g Gomega) {
		g.Expect(conditions.IsTrue(get(g, synced.Name), meta.ReadyCondition)).To(BeTrue())
		lastGood = secretOf(g, nsSynced)
	}, timeout, poll).Should(Succeed())
	g.Eventually(func() error {
		p := get(g, synced.Name)
		p.Spec.Certificates = append(p.Spec.Certificates, v1alpha1.CertificateSource{Name: "bundle",
			ClusterTrustBundle: &v1alpha1.ClusterTrustBundleSource{Name: bundleName, Optional: true}})
		return c.Update(ctx, p)
	}, timeout, poll).Should(Succeed())

	inline := newPolicy(certs.NewCA("other inline root"), nsInline)
	g.Expect(c.Create(ctx, inline)).To(Succeed())

	g.Eventually(func(g Gomega) {
		notServed(g, fresh.Name)
		notServed(g, synced.Name)
		g.Expect(conditions.IsTrue(get(g, inline.Name), meta.ReadyCondition)).To(BeTrue(), "policies without such a source are unaffected")
		secretOf(g, nsInline)
	}, timeout, poll).Should(Succeed())
	err := c.Get(ctx, client.ObjectKey{Namespace: nsFresh, Name: "notation-config"}, &corev1.Secret{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "nothing is written: %v", err)
	g.Expect(secretOf(g, nsSynced).ResourceVersion).To(Equal(lastGood.ResourceVersion), "the last good Secret stays")

	// kube-apiserver restarted with the API: discovery finds it, the watch
	// starts, and both policies sync without anyone touching them.
	g.Expect(testenv.RestartAPIServer(env, func(api *envtest.APIServer) { testenv.ServeClusterTrustBundles(api) })).To(Succeed())
	g.Eventually(func() error { return c.Create(ctx, newBundle(bundleName, "", nil, root)) }, timeout, poll).Should(Succeed())
	g.Eventually(func(g Gomega) {
		for _, p := range []*v1alpha1.VerificationPolicy{fresh, synced} {
			got := get(g, p.Name)
			g.Expect(conditions.IsTrue(got, meta.ReadyCondition)).To(BeTrue(), "%s Ready: %v", p.Name, conditions.Get(got, meta.ReadyCondition))
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		}
		g.Expect(secretOf(g, nsFresh).Data).To(HaveKeyWithValue("bundle.crt", root.PEM()))
		g.Expect(secretOf(g, nsSynced).Data).To(And(HaveKeyWithValue("bundle.crt", root.PEM()), HaveKeyWithValue("root.crt", inlineCA.PEM())))
	}, 2*timeout, poll).Should(Succeed())
}
