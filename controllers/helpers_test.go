package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
)

const (
	timeout = 30 * time.Second
	poll    = 100 * time.Millisecond
	// forceBackoff is the in-process operator's wait before a second force:
	// far wider than the default 2 s, so the state between two forces
	// (Flux wrote the old verdict back; the force is repeated later) lasts
	// long enough to be seen on a loaded machine. 5 s was not (a CI run
	// beside two other test runs missed it).
	forceBackoff = 15 * time.Second
)

var nameSeq atomic.Int64

// uniqueName returns a DNS-label name unique within the test binary run.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}

// newNamespace creates a namespace and returns its name.
func newNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	name := uniqueName("ns")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	NewWithT(t).Expect(k8s.Create(context.Background(), ns)).To(Succeed())
	return name
}

// newPolicy returns a valid policy trusting ca, targeting namespaces by name.
func newPolicy(ca *certs.Cert, namespaces ...string) *v1alpha1.VerificationPolicy {
	return &v1alpha1.VerificationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("policy")},
		Spec: v1alpha1.VerificationPolicySpec{
			TrustPolicies: []v1alpha1.TrustPolicyStatement{{
				Name:                  "apps",
				RegistryScopes:        []string{"*"},
				SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"},
				TrustedIdentities:     []string{"*"},
			}},
			Certificates: []v1alpha1.CertificateSource{{Name: "root", Inline: string(ca.PEM())}},
			Target:       v1alpha1.Target{Namespaces: namespaces},
		},
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	NewWithT(t).Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })
}

func getPolicy(g Gomega, name string) *v1alpha1.VerificationPolicy {
	p := &v1alpha1.VerificationPolicy{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Name: name}, p)).To(Succeed())
	return p
}

// updatePolicy applies mutate to the latest version, retrying on conflicts.
func updatePolicy(t *testing.T, name string, mutate func(*v1alpha1.VerificationPolicy)) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		p := &v1alpha1.VerificationPolicy{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, p); err != nil {
			return err
		}
		mutate(p)
		return k8s.Update(context.Background(), p)
	}, timeout, poll).Should(Succeed())
}

// updateSecret applies mutate to the latest version of a Secret, retrying
// on conflicts (the operator writes the Secrets it owns).
func updateSecret(t *testing.T, ns, name string, mutate func(*corev1.Secret), opts ...client.UpdateOption) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		s := getSecret(g, ns, name)
		mutate(s)
		g.Expect(k8s.Update(context.Background(), s, opts...)).To(Succeed())
	}, timeout, poll).Should(Succeed())
}

// waitReady waits until the policy has reconciled its current generation
// and is Ready=True, and returns it.
func waitReady(t *testing.T, name string) *v1alpha1.VerificationPolicy {
	t.Helper()
	return waitReadyWith(t, name, func(Gomega, *v1alpha1.VerificationPolicy) {})
}

// waitReadyWith waits as waitReady does, until the Ready status also
// passes expect. Use it for what a test asserts about objects it created
// just before the policy: a first pass may run before the manager's
// caches hold them all, and be Ready on fewer.
func waitReadyWith(t *testing.T, name string, expect func(Gomega, *v1alpha1.VerificationPolicy)) *v1alpha1.VerificationPolicy {
	t.Helper()
	var out *v1alpha1.VerificationPolicy
	NewWithT(t).Eventually(func(g Gomega) {
		p := getPolicy(g, name)
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
		g.Expect(conditions.IsTrue(p, meta.ReadyCondition)).To(BeTrue(), "Ready: %v", conditions.Get(p, meta.ReadyCondition))
		expect(g, p)
		out = p
	}, timeout, poll).Should(Succeed())
	return out
}

// waitCondition waits for a condition with the given status and reason.
func waitCondition(t *testing.T, name, condType string, status metav1.ConditionStatus, reason string) *v1alpha1.VerificationPolicy {
	t.Helper()
	var out *v1alpha1.VerificationPolicy
	NewWithT(t).Eventually(func(g Gomega) {
		p := getPolicy(g, name)
		c := conditions.Get(p, condType)
		g.Expect(c).NotTo(BeNil(), "condition %s missing", condType)
		g.Expect(c.Status).To(Equal(status), "%s: %s", condType, c.Message)
		g.Expect(c.Reason).To(Equal(reason), "%s: %s", condType, c.Message)
		out = p
	}, timeout, poll).Should(Succeed())
	return out
}

func getSecret(g Gomega, ns, name string) *corev1.Secret {
	s := &corev1.Secret{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s)).To(Succeed())
	return s
}

// waitSecretDigest waits until ns holds the policy's Secret with digest.
func waitSecretDigest(t *testing.T, ns, name, digest string) *corev1.Secret {
	t.Helper()
	var out *corev1.Secret
	NewWithT(t).Eventually(func(g Gomega) {
		s := getSecret(g, ns, name)
		g.Expect(s.Annotations[v1alpha1.TrustDigestAnnotation]).To(Equal(digest))
		out = s
	}, timeout, poll).Should(Succeed())
	return out
}

func waitSecretGone(t *testing.T, ns, name string) {
	t.Helper()
	NewWithT(t).Eventually(func() bool {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &corev1.Secret{})
		return apierrors.IsNotFound(err)
	}, timeout, poll).Should(BeTrue(), "Secret %s/%s still exists", ns, name)
}

// expectEvent waits for an event on the policy with type and reason.
func expectEvent(t *testing.T, policy, eventType, reason string) *corev1.Event {
	t.Helper()
	var out *corev1.Event
	NewWithT(t).Eventually(func(g Gomega) {
		var list corev1.EventList
		g.Expect(k8s.List(context.Background(), &list, client.MatchingFields{"involvedObject.name": policy})).To(Succeed())
		for i := range list.Items {
			e := &list.Items[i]
			if e.InvolvedObject.Name == policy && e.InvolvedObject.Kind == v1alpha1.VerificationPolicyKind &&
				e.Type == eventType && e.Reason == reason {
				out = e
				return
			}
		}
		g.Expect(out).NotTo(BeNil(), "no %s event %s for %s", eventType, reason, policy)
	}, timeout, poll).Should(Succeed())
	return out
}

// expectEventWith waits for an event on the policy with reason whose
// message contains every one of parts.
func expectEventWith(t *testing.T, policy, reason string, parts ...string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		var list corev1.EventList
		g.Expect(k8s.List(context.Background(), &list, client.MatchingFields{"involvedObject.name": policy})).To(Succeed())
		var messages []string
		for _, e := range list.Items {
			if e.InvolvedObject.Name != policy || e.InvolvedObject.Kind != v1alpha1.VerificationPolicyKind || e.Reason != reason {
				continue
			}
			messages = append(messages, e.Message)
			if containsAll(e.Message, parts...) {
				return
			}
		}
		g.Expect(messages).To(ContainElement(WithTransform(func(m string) bool { return containsAll(m, parts...) }, BeTrue())),
			"no %s event for %s containing all of %q", reason, policy, parts)
	}, timeout, poll).Should(Succeed())
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// requestReconcile sets reconcile.fluxcd.io/requestedAt and waits until the
// policy reports it handled.
func requestReconcile(t *testing.T, name string) {
	t.Helper()
	token := time.Now().Format(time.RFC3339Nano)
	updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[meta.ReconcileRequestAnnotation] = token
	})
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(getPolicy(g, name).Status.LastHandledReconcileAt).To(Equal(token))
	}, timeout, poll).Should(Succeed())
}

func hasOwnerRef(s *corev1.Secret, p *v1alpha1.VerificationPolicy) bool {
	for _, r := range s.OwnerReferences {
		if r.UID == p.UID && r.Kind == v1alpha1.VerificationPolicyKind {
			return true
		}
	}
	return false
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func selectorFor(l map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: l}
}

func policyAsUnstructured(g Gomega, p *v1alpha1.VerificationPolicy) *unstructured.Unstructured {
	p.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(v1alpha1.VerificationPolicyKind))
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	g.Expect(err).NotTo(HaveOccurred())
	return &unstructured.Unstructured{Object: obj}
}
