package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
)

// Hostile or broken input: each gets a clear answer and never a crash. The
// manager keeps serving the other tests in this binary throughout, which is
// itself the proof that none of these panicked it.

func TestTooManyCertificateSourcesAreRefusedByTheAPIServer(t *testing.T) {
	g := NewWithT(t)
	p := newPolicy(certs.NewCA("root"), "default")
	pem := string(certs.NewCA("one").PEM())
	p.Spec.Certificates = nil
	for i := range 1000 {
		p.Spec.Certificates = append(p.Spec.Certificates, v1alpha1.CertificateSource{Name: fmt.Sprintf("ca-%d", i), Inline: pem})
	}
	err := k8s.Create(context.Background(), p)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("spec.certificates: Too many: 1000: must have at most 64 items"))
}

func TestAHugeInlineCertificateIsRefusedByTheAPIServer(t *testing.T) {
	g := NewWithT(t)
	p := newPolicy(certs.NewCA("root"), "default")
	p.Spec.Certificates[0].Inline = "-----BEGIN CERTIFICATE-----\n" + strings.Repeat("A", 2<<20) + "\n-----END CERTIFICATE-----\n"
	err := k8s.Create(context.Background(), p)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(Or(ContainSubstring("Too long"), ContainSubstring("too large"), ContainSubstring("Request entity too large")))
}

func TestRenderedDataOverTheSecretLimitIsRefused(t *testing.T) {
	ns := newNamespace(t, nil)
	// Two sources near the ConfigMap limit: each is fine, together they
	// exceed what a Secret can hold.
	var refs []v1alpha1.CertificateSource
	for i := range 2 {
		// Distinct certificates per source: identical ones are written once.
		var bundle strings.Builder
		for bundle.Len() < 600<<10 {
			bundle.Write(certs.NewCA("bundle member").PEM())
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("big"), Namespace: trustNS},
			Data: map[string]string{"bundle.pem": bundle.String()}}
		create(t, cm)
		refs = append(refs, v1alpha1.CertificateSource{Name: fmt.Sprintf("big-%d", i), ConfigMapRef: &v1alpha1.KeyReference{Name: cm.Name, Key: "bundle.pem"}})
	}
	p := newPolicy(certs.NewCA("root"), ns)
	p.Spec.Certificates = refs
	create(t, p)
	waitCondition(t, p.Name, meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonSecretTooLarge)
}

func TestACertificateWithAHugeSubjectStaysReadable(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t, nil)
	ca := certs.NewCA(strings.Repeat("x", 10_000))
	p := newPolicy(ca, ns)
	create(t, p)
	got := waitReady(t, p.Name)
	g.Eventually(func(g Gomega) {
		got = getPolicy(g, p.Name)
		g.Expect(got.Status.Certificates).To(HaveLen(1))
	}, timeout, poll).Should(Succeed())
	g.Expect(len(got.Status.Certificates[0].Subject)).To(BeNumerically("<", 1024), "the subject is bounded in status")
	s := waitSecretDigest(t, ns, "notation-config", got.Status.TrustDigest)
	g.Expect(s.Data["root.crt"]).To(Equal(ca.PEM()), "the certificate itself is written whole")
}

func TestInvalidRegistryScopesAreRejectedWithTheStatementNamed(t *testing.T) {
	for _, scope := range []string{"registry.example.com/team/*", "régistry.example.com/app", "*/app", "registry.example.com/app:v1"} {
		t.Run(scope, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t, nil)
			p := newPolicy(certs.NewCA("root"), ns)
			p.Spec.TrustPolicies[0].RegistryScopes = []string{scope}
			create(t, p)
			got := waitCondition(t, p.Name, meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonInvalidTrustPolicy)
			g.Expect(conditions.IsTrue(got, meta.StalledCondition)).To(BeTrue())
			g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("trustPolicies[apps]"))
			g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "notation-config"}, &corev1.Secret{})).NotTo(Succeed())
		})
	}
}

// A user who may create policies but not read Secrets in another namespace
// cannot make the operator copy one: references have no namespace, an extra
// namespace field is refused by strict field validation, and the manager
// never even reads Secrets in that namespace.
func TestSourcesAreNeverReadOutsideTheTrustNamespace(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	victim := newNamespace(t, nil)
	private := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-credentials", Namespace: victim},
		Data: map[string][]byte{"ca.crt": certs.NewCA("victim").PEM()}}
	g.Expect(k8s.Create(ctx, private)).To(Succeed())
	target := newNamespace(t, nil)

	// kubectl's default strict field validation refuses the namespace field.
	u := policyAsUnstructured(g, newPolicy(certs.NewCA("root"), target))
	certsField := u.Object["spec"].(map[string]any)["certificates"].([]any)
	certsField[0] = map[string]any{"name": "stolen", "secretRef": map[string]any{"name": "db-credentials", "key": "ca.crt", "namespace": victim}}
	err := k8s.Create(ctx, u, client.FieldValidation("Strict"))
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring(`unknown field "spec.certificates[0].secretRef.namespace"`))

	// Without strict validation the field is pruned: the reference resolves
	// in the trust namespace, where there is no such Secret.
	g.Expect(k8s.Create(ctx, u)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(ctx, u) })
	got := waitCondition(t, u.GetName(), meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonSourceNotFound)
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(trustNS + "/db-credentials not found"))
	g.Expect(writes.requestsTo(victim, "secrets")).To(BeZero(), "the manager sent requests for Secrets in %s", victim)
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: target, Name: "notation-config"}, &corev1.Secret{})).NotTo(Succeed())
}

func TestNonCertificateSourceContentIsNeverLogged(t *testing.T) {
	g := NewWithT(t)
	signer := certs.NewCA("root")
	src := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("oops"), Namespace: trustNS},
		Data: map[string][]byte{"ca.crt": signer.KeyPEM()}}
	create(t, src)
	p := newPolicy(signer, newNamespace(t, nil))
	p.Spec.Certificates[0] = v1alpha1.CertificateSource{Name: "root", SecretRef: &v1alpha1.KeyReference{Name: src.Name, Key: "ca.crt"}}
	create(t, p)
	waitCondition(t, p.Name, meta.ReadyCondition, metav1.ConditionFalse, v1alpha1.ReasonPrivateKeyRejected)

	logs := managerLogs.String()
	g.Expect(logs).To(ContainSubstring(p.Name), "the manager's logs were not captured")
	key := string(signer.KeyPEM())
	body := strings.Join(strings.Split(key, "\n")[1:3], "")
	for i := 0; i+16 <= len(body); i += 8 {
		g.Expect(logs).NotTo(ContainSubstring(body[i:i+16]), "private key material reached the logs")
	}
}

func TestAHundredPoliciesOnOneNamespace(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t, nil)
	var names []string
	for i := range 100 {
		p := newPolicy(certs.NewCA(fmt.Sprintf("root %d", i)), ns)
		create(t, p)
		names = append(names, p.Name)
	}
	var owner string
	g.Eventually(func(g Gomega) {
		s := getSecret(g, ns, "notation-config")
		owner = s.Labels[v1alpha1.PolicyLabel]
		ready, conflicted := 0, 0
		for _, n := range names {
			p := getPolicy(g, n)
			switch {
			case conditions.IsTrue(p, meta.ReadyCondition):
				ready++
				g.Expect(n).To(Equal(owner))
			case conditions.GetReason(p, v1alpha1.SecretsSyncedCondition) == v1alpha1.ReasonSecretConflict:
				conflicted++
				g.Expect(p.Status.NamespaceIssues).To(HaveLen(1))
				g.Expect(p.Status.NamespaceIssues[0].Message).To(ContainSubstring(owner))
			}
		}
		g.Expect(ready).To(Equal(1))
		g.Expect(conflicted).To(Equal(99))
	}, 2*timeout, poll).Should(Succeed())
}
