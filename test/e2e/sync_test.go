package e2e

import (
	"context"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
)

// TestSyncStory walks through what a platform engineer does and sees, in
// order: each step starts from the state the previous one left.
//
// The certificates come from a ConfigMap and a Secret in the trust
// namespace, so the namespaced half of the shipped RBAC (the trust Role) is
// exercised along with the cluster-wide half.
func TestSyncStory(t *testing.T) {
	ctx := context.Background()
	m := startManager(t)
	g := NewWithT(t)

	root, partner := certs.NewCA("e2e release root G1"), certs.NewCA("e2e partner root")
	roots := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: install.Namespace, Name: uniqueName("e2e-roots")},
		Data:       map[string]string{"root.crt": string(root.PEM())},
	}
	partnerRoot := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: install.Namespace, Name: uniqueName("e2e-partner")},
		Data:       map[string][]byte{"ca.crt": partner.PEM()},
	}
	g.Expect(k8s.Create(ctx, roots)).To(Succeed())
	g.Expect(k8s.Create(ctx, partnerRoot)).To(Succeed())

	label := uniqueLabel()
	teams := createNamespaces(t, "team", 3, label)
	unlabelled := createNamespaces(t, "sandbox", 1, nil)[0]
	secretIn := func(ns string) client.ObjectKey {
		return client.ObjectKey{Namespace: ns, Name: v1alpha1.DefaultSecretName}
	}

	// A Secret named like the policy's that the operator does not own, in a
	// namespace it does not target. The shipped ClusterRole grants delete
	// and update on every Secret of that name, so only the operator's own
	// ownership checks keep it from this one, through pruning and deletion.
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: unlabelled, Name: v1alpha1.DefaultSecretName},
		Data:       map[string][]byte{"root.crt": certs.NewCA("someone else's root").PEM()},
	}
	g.Expect(k8s.Create(ctx, foreign)).To(Succeed())
	expectForeignUntouched := func(t *testing.T) {
		t.Helper()
		got := &corev1.Secret{}
		g := NewWithT(t)
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(foreign), got)).To(Succeed(), "the Secret the operator does not own")
		g.Expect(got.UID).To(Equal(foreign.UID), "the Secret the operator does not own was replaced")
		g.Expect(got.ResourceVersion).To(Equal(foreign.ResourceVersion), "the Secret the operator does not own was written")
	}

	name := uniqueName("story")
	g.Expect(k8s.Create(ctx, newPolicy(name, label,
		v1alpha1.CertificateSource{Name: "root", ConfigMapRef: &v1alpha1.KeyReference{Name: roots.Name, Key: "root.crt"}},
		v1alpha1.CertificateSource{Name: "partner", SecretRef: &v1alpha1.KeyReference{Name: partnerRoot.Name, Key: "ca.crt"}},
	))).To(Succeed())
	t.Cleanup(func() { deletePolicy(t, name) }) // runs before the manager stops

	var digest string
	steps(t,
		step{"the policy writes the Secret to every target namespace", func(t *testing.T) {
			p := waitReady(t, name)
			digest = wantDigest(t, p, root.PEM(), partner.PEM())
			g := NewWithT(t)
			g.Expect(p.Status.TrustDigest).To(Equal(digest))
			secrets := waitSecrets(t, name, teams, digest)
			// The namespaces were created just before the policy: a first
			// pass may run before the manager's cache has them all.
			g.Eventually(func(g Gomega) string {
				return getPolicy(g, name).Status.Namespaces.Summary
			}, timeout, poll).Should(Equal("3/3"))
			for _, s := range secrets {
				g.Expect(s.Name).To(Equal(v1alpha1.DefaultSecretName))
				g.Expect(s.Data).To(HaveKeyWithValue("root.crt", root.PEM()))
				g.Expect(s.Data).To(HaveKeyWithValue("partner.crt", partner.PEM()))
				g.Expect(s.Data).To(HaveKey("trustpolicy.json"))
			}
			g.Expect(secretsOf(g, name)).NotTo(HaveKey(unlabelled), "an unlabelled namespace got the Secret")
			g.Eventually(func(g Gomega) bool { return hasEvent(g, name, "SecretsWritten") }, timeout, poll).
				Should(BeTrue(), "the manager records events")
		}},
		step{"a namespace created later gets the Secret", func(t *testing.T) {
			teams = append(teams, createNamespaces(t, "team", 1, label)...)
			waitSecrets(t, name, teams, digest)
			NewWithT(t).Eventually(func(g Gomega) string {
				return getPolicy(g, name).Status.Namespaces.Summary
			}, timeout, poll).Should(Equal("4/4"))
		}},
		step{"a CA rotation reaches every namespace", func(t *testing.T) {
			rotated := certs.NewCA("e2e release root G2")
			roots.Data["root.crt"] = string(rotated.PEM())
			NewWithT(t).Expect(k8s.Update(ctx, roots)).To(Succeed())
			p := getPolicy(NewWithT(t), name)
			next := wantDigest(t, p, rotated.PEM(), partner.PEM())
			NewWithT(t).Expect(next).NotTo(Equal(digest))
			digest = next
			waitSecrets(t, name, teams, digest)
			NewWithT(t).Eventually(func(g Gomega) {
				p := getPolicy(g, name)
				g.Expect(p.Status.TrustDigest).To(Equal(digest))
				g.Expect(conditions.IsReady(p)).To(BeTrue())
			}, timeout, poll).Should(Succeed())
		}},
		step{"drift and deletion behind the operator's back are repaired", func(t *testing.T) {
			g := NewWithT(t)
			rendered := secretsOf(g, name)
			edited, deleted := teams[0], teams[1]
			// Every namespace gets the same rendered data.
			want := rendered[edited].Data
			g.Expect(want).To(HaveKeyWithValue("root.crt", []byte(roots.Data["root.crt"])))
			g.Expect(rendered[deleted].Data).To(Equal(want))

			// Someone swaps in a CA of their own and adds one more, in
			// place: the labels and the digest annotation still say "ours,
			// up to date", only the data is not.
			intruder := certs.NewCA("not the policy's").PEM()
			var editedRV string
			g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
				s := &corev1.Secret{}
				if err := k8s.Get(ctx, secretIn(edited), s); err != nil {
					return err
				}
				s.Data["root.crt"] = intruder
				s.Data["extra.crt"] = intruder
				if err := k8s.Update(ctx, s); err != nil {
					return err
				}
				editedRV = s.ResourceVersion
				return nil
			})).To(Succeed())
			gone := rendered[deleted]
			g.Expect(k8s.Delete(ctx, gone, client.Preconditions{UID: &gone.UID})).To(Succeed())

			g.Eventually(func(g Gomega) {
				s := &corev1.Secret{}
				g.Expect(k8s.Get(ctx, secretIn(edited), s)).To(Succeed())
				g.Expect(s.ResourceVersion).NotTo(Equal(editedRV), "not written since the edit")
				g.Expect(s.Data).To(Equal(want))
			}, timeout, poll).Should(Succeed(), "the Secret edited in %s", edited)
			g.Eventually(func(g Gomega) {
				s := &corev1.Secret{}
				g.Expect(k8s.Get(ctx, secretIn(deleted), s)).To(Succeed())
				g.Expect(s.UID).NotTo(Equal(gone.UID))
				g.Expect(s.Data).To(Equal(want))
			}, timeout, poll).Should(Succeed(), "the Secret deleted in %s", deleted)
			// Labels and digest annotation too, and nothing elsewhere.
			waitSecrets(t, name, teams, digest)
		}},
		step{"a namespace no longer selected loses its Secret, and only that", func(t *testing.T) {
			g := NewWithT(t)
			dropped, kept := teams[len(teams)-1], teams[:len(teams)-1]
			g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
				ns := &corev1.Namespace{}
				if err := k8s.Get(ctx, client.ObjectKey{Name: dropped}, ns); err != nil {
					return err
				}
				for k := range label {
					delete(ns.Labels, k)
				}
				return k8s.Update(ctx, ns)
			})).To(Succeed())
			g.Eventually(func() error {
				return k8s.Get(ctx, secretIn(dropped), &corev1.Secret{})
			}, timeout, poll).Should(Satisfy(apierrors.IsNotFound), "the Secret in %s, no longer selected", dropped)
			teams = kept
			waitSecrets(t, name, teams, digest)
			g.Eventually(func(g Gomega) string {
				return getPolicy(g, name).Status.Namespaces.Summary
			}, timeout, poll).Should(Equal("3/3"))
			expectForeignUntouched(t)
		}},
		step{"bad input keeps the last good Secrets and says why", func(t *testing.T) {
			leaked := certs.NewCA("pasted by mistake").KeyPEM()
			roots.Data["root.crt"] = string(leaked)
			NewWithT(t).Expect(k8s.Update(ctx, roots)).To(Succeed())
			var ready *metav1.Condition
			NewWithT(t).Eventually(func(g Gomega) {
				ready = conditions.Get(getPolicy(g, name), meta.ReadyCondition)
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonPrivateKeyRejected), ready.Message)
			}, timeout, poll).Should(Succeed())
			g := NewWithT(t)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Message).NotTo(ContainSubstring("PRIVATE KEY-----"), "key material echoed in status")
			g.Expect(getPolicy(g, name).Status.TrustDigest).To(Equal(digest), "status keeps the last good digest")
			waitSecrets(t, name, teams, digest)
		}},
		step{"deleting the policy removes its Secrets", func(t *testing.T) {
			deletePolicy(t, name)
			g := NewWithT(t)
			for _, ns := range teams {
				err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: v1alpha1.DefaultSecretName}, &corev1.Secret{})
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "Secret left in %s: %v", ns, err)
			}
			expectForeignUntouched(t)
		}},
		step{"the manager was never refused a request", func(t *testing.T) {
			expectNoForbidden(t, m)
		}},
	)
}

// step is one part of a story whose parts build on each other.
type step struct {
	name string
	fn   func(t *testing.T)
}

// steps runs the steps as subtests in order and stops at the first failure:
// later steps start from the state earlier ones leave, so their failures
// would only be noise.
func steps(t *testing.T, all ...step) {
	t.Helper()
	for _, s := range all {
		if !t.Run(s.name, s.fn) {
			t.FailNow()
		}
	}
}
