package controllers_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
)

// TestSyncAndRotateAcross200Namespaces is the acceptance figure:
// time for a new policy to reach Ready with 200 namespaces synced, and for a
// certificate rotation to reach all 200. Detailed comparisons with the
// plain-client limit and trust-manager live in test/bench.
func TestSyncAndRotateAcross200Namespaces(t *testing.T) {
	const n = 200
	g := NewWithT(t)
	label := map[string]string{"scale-test": uniqueName("run")}
	for range n {
		newNamespace(t, label)
	}

	p := newPolicy(certs.NewCA("scale root"))
	p.Spec.Target.Namespaces = nil
	p.Spec.Target.NamespaceSelector = selectorFor(label)
	start := time.Now()
	create(t, p)
	ready := waitReadyWith(t, p.Name, func(g Gomega, ready *v1alpha1.VerificationPolicy) {
		g.Expect(ready.Status.Namespaces.Synced).To(BeEquivalentTo(n))
	})
	waitAllDigests(t, label, p.SecretName(), ready.Status.TrustDigest, n)
	t.Logf("FIGURE sync: %d namespaces synced, Ready=True after %s", n, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	updatePolicy(t, p.Name, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates[0].Inline = string(certs.NewCA("rotated scale root").PEM())
	})
	var rotated *v1alpha1.VerificationPolicy
	g.Eventually(func(g Gomega) {
		rotated = getPolicy(g, p.Name)
		g.Expect(rotated.Status.TrustDigest).NotTo(Equal(ready.Status.TrustDigest))
	}, timeout, poll).Should(Succeed())
	waitAllDigests(t, label, p.SecretName(), rotated.Status.TrustDigest, n)
	t.Logf("FIGURE rotation: new trust digest in all %d namespaces after %s", n, time.Since(start).Round(time.Millisecond))
}

// waitAllDigests waits until every Secret of the policy in the labelled
// namespaces carries digest, read from the API server.
func waitAllDigests(t *testing.T, nsLabels map[string]string, name, digest string, n int) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		var nsList corev1.NamespaceList
		g.Expect(k8s.List(context.Background(), &nsList, client.MatchingLabels(nsLabels))).To(Succeed())
		g.Expect(nsList.Items).To(HaveLen(n))
		var secrets corev1.SecretList
		g.Expect(k8s.List(context.Background(), &secrets, client.MatchingLabels{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue})).To(Succeed())
		inScope := map[string]bool{}
		for _, ns := range nsList.Items {
			inScope[ns.Name] = true
		}
		current := 0
		for _, s := range secrets.Items {
			if inScope[s.Namespace] && s.Name == name && s.Annotations[v1alpha1.TrustDigestAnnotation] == digest {
				current++
			}
		}
		g.Expect(current).To(Equal(n))
	}, 2*timeout, 50*time.Millisecond).Should(Succeed())
}
