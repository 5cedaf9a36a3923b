package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
)

// defaultBundleReaders is the binding kube-apiserver creates with the
// ClusterTrustBundle feature gate: every ServiceAccount may read bundles.
const defaultBundleReaders = "system:cluster-trust-bundle-discovery"

var readBundles = []cluster.Grant{
	{Verb: "get", Group: "certificates.k8s.io", Resource: "clustertrustbundles"},
	{Verb: "list", Group: "certificates.k8s.io", Resource: "clustertrustbundles"},
	{Verb: "watch", Group: "certificates.k8s.io", Resource: "clustertrustbundles"},
}

// TestClusterTrustBundlesWithTheShippedRBAC: bin/manager, as its
// ServiceAccount with only config/rbac (the API server's default binding
// that lets every ServiceAccount read bundles is removed for the test, so
// the shipped rule is the one that counts), renders a policy from the
// bundles of a signer and follows a new bundle of it.
func TestClusterTrustBundlesWithTheShippedRBAC(t *testing.T) {
	ctx := context.Background()
	label := uniqueLabel()
	namespaces := createNamespaces(t, "ctb", 2, label)
	name := uniqueName("ctb")
	signer := "example.com/" + uniqueName("release-roots")
	prefix := strings.ReplaceAll(signer, "/", ":") + ":"
	g1, g2 := certs.NewCA("e2e ctb g1"), certs.NewCA("e2e ctb g2")
	withoutDefaultBundleReaders(t)

	steps(t,
		step{"only the shipped RBAC lets the manager read ClusterTrustBundles", func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(install.Grants()).To(ContainElements(readBundles))
			g.Expect(cluster.WaitAuthorized(ctx, k8s, install.User(), readBundles...)).To(Succeed())
			// And the test would notice if it did not.
			role := clusterRoleGranting(t, readBundles[1])
			g.Expect(cluster.Apply(ctx, k8s, withoutGrant(t, role, readBundles[1]))).To(Succeed())
			g.Expect(cluster.WaitDenied(ctx, k8s, install.User(), readBundles[1])).To(Succeed())
			restore(t, role)
		}},
		step{"the manager renders the bundles of a signer", func(t *testing.T) {
			g := NewWithT(t)
			m := startManager(t)
			// The admin (system:masters) may attest for any signer; in a
			// real cluster, creating these needs "attest" on the signer.
			for _, b := range []*certificatesv1beta1.ClusterTrustBundle{
				bundleOf(prefix+"g1", signer, g1),
				bundleOf(uniqueName("unrelated"), "", certs.NewCA("e2e ctb unrelated")),
			} {
				g.Expect(k8s.Create(ctx, b)).To(Succeed())
				t.Cleanup(func() { _ = k8s.Delete(context.Background(), b) })
			}
			p := newPolicy(name, label, v1alpha1.CertificateSource{Name: "roots",
				ClusterTrustBundle: &v1alpha1.ClusterTrustBundleSource{SignerName: signer}})
			g.Expect(k8s.Create(ctx, p)).To(Succeed())
			t.Cleanup(func() { deletePolicy(t, name) })
			ready := waitReady(t, name)
			g.Expect(ready.Status.TrustDigest).To(Equal(wantDigest(t, ready, g1.PEM())))
			waitSecrets(t, name, namespaces, ready.Status.TrustDigest)
			g.Expect(ready.Status.Certificates).To(ConsistOf(HaveField("Source", "roots (ClusterTrustBundle "+prefix+"g1)")))

			// A new bundle of the signer reaches every namespace.
			b2 := bundleOf(prefix+"g2", signer, g2)
			g.Expect(k8s.Create(ctx, b2)).To(Succeed())
			t.Cleanup(func() { _ = k8s.Delete(context.Background(), b2) })
			start := time.Now()
			g.Eventually(func(g Gomega) {
				secrets := secretsOf(g, name)
				g.Expect(secrets).To(HaveLen(len(namespaces)))
				for _, s := range secrets {
					g.Expect(s.Data).To(HaveKeyWithValue("roots-1.crt", g1.PEM()))
					g.Expect(s.Data).To(HaveKeyWithValue("roots-2.crt", g2.PEM()))
				}
			}, timeout, poll).Should(Succeed())
			t.Logf("a new bundle of the signer reached %d namespaces after %s", len(namespaces), time.Since(start).Round(time.Millisecond))
			waitReady(t, name)
			expectNoForbidden(t, m)
		}},
	)
}

func bundleOf(name, signer string, ca *certs.Cert) *certificatesv1beta1.ClusterTrustBundle {
	return &certificatesv1beta1.ClusterTrustBundle{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       certificatesv1beta1.ClusterTrustBundleSpec{SignerName: signer, TrustBundle: string(ca.PEM())},
	}
}

// withoutDefaultBundleReaders removes the API server's default binding
// until the test ends (kube-apiserver recreates it only when it starts).
func withoutDefaultBundleReaders(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	b := &rbacv1.ClusterRoleBinding{}
	err := k8s.Get(ctx, client.ObjectKey{Name: defaultBundleReaders}, b)
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		saved := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: b.Name, Labels: b.Labels, Annotations: b.Annotations},
			RoleRef: b.RoleRef, Subjects: b.Subjects}
		if err := k8s.Create(context.Background(), saved); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Errorf("restoring %s: %v", defaultBundleReaders, err)
		}
	})
}
