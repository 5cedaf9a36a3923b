package e2e

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
)

// TestKilledMidRotationConverges kills the manager with SIGKILL while it is
// rolling a new CA out to 150 namespaces, which leaves some namespaces on
// the old trust configuration and some on the new one, and shows that a
// restarted manager brings every namespace to the latest one.
func TestKilledMidRotationConverges(t *testing.T) {
	const (
		n = 150
		// The kill lands once this many namespaces have the new digest:
		// past the rate limiter's initial burst, far from the end.
		killAfter = 40
	)
	// Throttled to 25 writes per second, the rotation takes about six
	// seconds, so "mid-sync" is a wide target rather than a race.
	throttled := []string{"--kube-api-qps=25", "--kube-api-burst=25"}
	ctx := context.Background()
	g := NewWithT(t)

	label := uniqueLabel()
	namespaces := createNamespaces(t, "fleet", n, label)
	name := uniqueName("fleet")
	first := startManager(t, throttled...)
	g.Expect(k8s.Create(ctx, newPolicy(name, label, inlineCA("root", certs.NewCA("fleet root G1"))))).To(Succeed())
	old := waitReady(t, name).Status.TrustDigest
	waitSecrets(t, name, namespaces, old)

	// Rotate, and kill the manager as soon as enough namespaces have the
	// new trust configuration. The watch starts before the update, so no
	// write can be missed.
	watchCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w, err := k8s.Watch(watchCtx, &corev1.SecretList{}, client.MatchingLabels{v1alpha1.PolicyLabel: name})
	g.Expect(err).NotTo(HaveOccurred())
	defer w.Stop()
	updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates[0] = inlineCA("root", certs.NewCA("fleet root G2"))
	})
	rotated := map[string]bool{}
	for len(rotated) < killAfter {
		ev, ok := <-w.ResultChan()
		g.Expect(ok).To(BeTrue(), "the watch ended after %d rotated namespaces", len(rotated))
		if s, isSecret := ev.Object.(*corev1.Secret); isSecret && ev.Type != watch.Deleted {
			if d := s.Annotations[v1alpha1.TrustDigestAnnotation]; d != "" && d != old {
				rotated[s.Namespace] = true
			}
		}
	}
	g.Expect(first.Kill()).To(Succeed())
	t.Logf("killed the manager (SIGKILL) after %d namespaces had the new trust digest", len(rotated))

	// What the API server holds now is a half-done rotation.
	byDigest := map[string]int{}
	for _, s := range secretsOf(g, name) {
		byDigest[s.Annotations[v1alpha1.TrustDigestAnnotation]]++
	}
	g.Expect(byDigest[old]).To(BeNumerically(">", 0), "the kill came after the rotation finished: %v", byDigest)
	g.Expect(byDigest).To(HaveLen(2), "namespaces hold one old and one new digest: %v", byDigest)
	t.Logf("after the kill: %d namespaces on the old digest, %d on the new one", byDigest[old], n-byDigest[old])

	start := time.Now()
	restarted := startManager(t)
	p := waitReady(t, name)
	g.Expect(p.Status.TrustDigest).NotTo(Equal(old))
	g.Expect(p.Status.TrustDigest).To(Equal(wantDigest(t, p, []byte(p.Spec.Certificates[0].Inline))))
	g.Expect(p.Status.Namespaces.Summary).To(Equal("150/150"))
	waitSecrets(t, name, namespaces, p.Status.TrustDigest)
	t.Logf("the restarted manager converged all %d namespaces in %s", n, time.Since(start).Round(time.Millisecond))

	// Leave nothing for later tests' managers to do.
	deletePolicy(t, name)
	expectNoForbidden(t, restarted)
}
