package e2e

import (
	"context"
	"fmt"
	"os"
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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
)

const (
	// timeout bounds each wait; a healthy run needs a few seconds at most.
	timeout = 30 * time.Second
	poll    = 100 * time.Millisecond
	// stopTimeout is how long a manager may take to exit after SIGTERM; its
	// Deployment gives it 10 s (terminationGracePeriodSeconds).
	stopTimeout = 10 * time.Second
)

var nameSeq atomic.Int64

// uniqueName returns a DNS label unique within this test binary's run.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}

// uniqueLabel returns a namespace label no earlier test (or earlier run,
// with -count) used: envtest has no namespace controller, so namespaces are
// never really deleted, and a shared label would pull them into later
// tests' policies.
func uniqueLabel() map[string]string {
	return map[string]string{"e2e.flux-notation.io/run": uniqueName("run")}
}

// startManager runs bin/manager as the ServiceAccount until the test ends,
// then stops it with SIGTERM and requires a clean exit (code 0). A manager
// the test killed itself is left alone. Its log is shown if the test fails.
func startManager(t *testing.T, args ...string) *cluster.Manager {
	t.Helper()
	return startManagerWith(t, managerKubeconfig, args...)
}

// usesRealFlux marks a test that relies on the shared source-controller:
// if it fails, what source-controller logged during the test is printed
// next to the manager's log (the suite's dir, which keeps the whole log,
// is kept when the run fails). Call it before startManager: cleanups run
// last first, so source-controller's lines come right after the manager's.
func usesRealFlux(t *testing.T) {
	t.Helper()
	mark := flux.LogSize()
	t.Cleanup(func() {
		if t.Failed() {
			// flux, not a copy: stopFlux may have replaced the process;
			// the log file is the same and restarts append to it.
			t.Logf("source-controller (pid %d) log %s, during this test, ends with:\n%s",
				flux.PID(), flux.LogFile(), flux.LogTailSince(mark, 40))
		}
	})
}

// expectNoForbidden fails if the manager was ever refused by RBAC: with
// the shipped RBAC, nothing it does may be forbidden, not even a watch
// whose failure would only show in its log.
func expectNoForbidden(t *testing.T, m *cluster.Manager) {
	t.Helper()
	data, err := os.ReadFile(m.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	var refused []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(strings.ToLower(line), "forbidden") {
			refused = append(refused, line)
		}
	}
	if len(refused) > 0 {
		t.Errorf("RBAC refused the manager %d times (is config/rbac/role.yaml current? make manifests); the first:\n%s",
			len(refused), strings.Join(refused[:min(3, len(refused))], "\n"))
	}
}

// createNamespaces creates n namespaces named <prefix>-<seq> with labels.
func createNamespaces(t *testing.T, prefix string, n int, labels map[string]string) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = uniqueName(prefix)
		createNamespace(t, names[i], labels)
	}
	return names
}

// createNamespace creates namespace name with labels.
func createNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

// newPolicy returns a policy that sends the given certificates to every
// namespace carrying selector's labels.
func newPolicy(name string, selector map[string]string, sources ...v1alpha1.CertificateSource) *v1alpha1.VerificationPolicy {
	return &v1alpha1.VerificationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.VerificationPolicySpec{
			TrustPolicies: []v1alpha1.TrustPolicyStatement{{
				Name:                  "releases",
				RegistryScopes:        []string{"*"},
				SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"},
				TrustedIdentities:     []string{"*"},
			}},
			Certificates: sources,
			Target:       v1alpha1.Target{NamespaceSelector: &metav1.LabelSelector{MatchLabels: selector}},
		},
	}
}

func inlineCA(name string, ca *certs.Cert) v1alpha1.CertificateSource {
	return v1alpha1.CertificateSource{Name: name, Inline: string(ca.PEM())}
}

// wantDigest is the trust digest the operator must write for policy p when
// its sources hold pems (in spec order), computed with the operator's own
// pure renderer from the policy as the API server stored it (defaults
// applied). The test then checks that the real binary, through the API
// server, writes exactly that.
func wantDigest(t *testing.T, p *v1alpha1.VerificationPolicy, pems ...[]byte) string {
	t.Helper()
	if len(pems) != len(p.Spec.Certificates) {
		t.Fatalf("%d PEMs for %d certificate sources", len(pems), len(p.Spec.Certificates))
	}
	srcs := make([]trustconfig.Source, len(pems))
	for i, c := range p.Spec.Certificates {
		srcs[i] = trustconfig.Source{Name: c.Name, Type: c.Type, Origin: "e2e", PEM: pems[i]}
	}
	res, err := trustconfig.Render(trustconfig.Input{Statements: p.Spec.TrustPolicies, Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	return res.TrustDigest
}

func getPolicy(g Gomega, name string) *v1alpha1.VerificationPolicy {
	p := &v1alpha1.VerificationPolicy{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Name: name}, p)).To(Succeed())
	return p
}

// updatePolicy applies mutate to the latest version, retrying on conflicts.
func updatePolicy(t *testing.T, name string, mutate func(*v1alpha1.VerificationPolicy)) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		p := getPolicy(g, name)
		mutate(p)
		g.Expect(k8s.Update(context.Background(), p)).To(Succeed())
	}, timeout, poll).Should(Succeed())
}

// waitReady waits until the policy has handled its current generation and
// is Ready=True, and returns it.
func waitReady(t *testing.T, name string) *v1alpha1.VerificationPolicy {
	t.Helper()
	return waitCondition(t, name, meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason)
}

// waitCondition waits until the policy has handled its current generation
// and the condition has status and reason, and returns it.
func waitCondition(t *testing.T, name, condType string, status metav1.ConditionStatus, reason string) *v1alpha1.VerificationPolicy {
	t.Helper()
	var out *v1alpha1.VerificationPolicy
	NewWithT(t).Eventually(func(g Gomega) {
		p := getPolicy(g, name)
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation), "observed generation")
		c := conditions.Get(p, condType)
		g.Expect(c).NotTo(BeNil(), "condition %s missing", condType)
		g.Expect(c.Status).To(Equal(status), "%s: %s: %s", condType, c.Reason, c.Message)
		g.Expect(c.Reason).To(Equal(reason), "%s: %s", condType, c.Message)
		out = p
	}, timeout, poll).Should(Succeed())
	return out
}

// secretsOf returns the policy's Secrets by namespace, read from the API
// server.
func secretsOf(g Gomega, policy string) map[string]*corev1.Secret {
	var list corev1.SecretList
	g.Expect(k8s.List(context.Background(), &list, client.MatchingLabels{
		v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
		v1alpha1.PolicyLabel:    policy,
	})).To(Succeed())
	out := make(map[string]*corev1.Secret, len(list.Items))
	for i := range list.Items {
		if list.Items[i].Labels[v1alpha1.RoleLabel] != "" {
			continue // the operator's own bookkeeping, not a Secret for Flux
		}
		out[list.Items[i].Namespace] = &list.Items[i]
	}
	return out
}

// waitSecrets waits until the policy's Secrets are in exactly namespaces,
// each announcing digest and holding data that really has that digest.
func waitSecrets(t *testing.T, policy string, namespaces []string, digest string) map[string]*corev1.Secret {
	t.Helper()
	var out map[string]*corev1.Secret
	NewWithT(t).Eventually(func(g Gomega) {
		out = secretsOf(g, policy)
		g.Expect(out).To(HaveLen(len(namespaces)), "Secrets of %s", policy)
		for _, ns := range namespaces {
			s := out[ns]
			g.Expect(s).NotTo(BeNil(), "no Secret in %s", ns)
			g.Expect(s.Annotations).To(HaveKeyWithValue(v1alpha1.TrustDigestAnnotation, digest), "Secret in %s", ns)
			g.Expect(trustconfig.TrustDigest(s.Data)).To(Equal(digest), "digest of the data in %s", ns)
		}
	}, timeout, poll).Should(Succeed())
	return out
}

// deletePolicy deletes the policy and waits until it and its Secrets are gone.
func deletePolicy(t *testing.T, name string) {
	t.Helper()
	g := NewWithT(t)
	p := &v1alpha1.VerificationPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
	g.Expect(client.IgnoreNotFound(k8s.Delete(context.Background(), p))).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKey{Name: name}, p))
	}, timeout, poll).Should(BeTrue(), "policy %s still exists (finalizer not removed?)", name)
	g.Eventually(func(g Gomega) {
		g.Expect(secretsOf(g, name)).To(BeEmpty())
	}, timeout, poll).Should(Succeed(), "Secrets of deleted policy %s", name)
}

// hasEvent reports whether the policy has a core/v1 Event with the reason.
func hasEvent(g Gomega, policy, reason string) bool {
	var list corev1.EventList
	g.Expect(k8s.List(context.Background(), &list)).To(Succeed())
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == v1alpha1.VerificationPolicyKind && e.InvolvedObject.Name == policy && e.Reason == reason {
			return true
		}
	}
	return false
}
