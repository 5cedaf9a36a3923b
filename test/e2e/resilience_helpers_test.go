package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/test/cluster"
)

// Helpers of the resilience tests (outage, SIGKILL, leader election). They
// take the client to use, because the API server outage runs on a control
// plane of its own.

// startManagerWith is startManager with another kubeconfig: a control
// plane of the test's own, or a proxy that tells replicas apart.
func startManagerWith(t *testing.T, kubeconfig string, args ...string) *cluster.Manager {
	t.Helper()
	m, err := cluster.StartManager(cluster.ManagerConfig{
		Binary:         managerBinary,
		Kubeconfig:     kubeconfig,
		TrustNamespace: install.Namespace,
		LogFile:        filepath.Join(t.TempDir(), "manager.log"),
		Args:           args,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-m.Done():
		default:
			if code, err := m.Stop(stopTimeout); err != nil || code != 0 {
				t.Errorf("manager (pid %d) did not exit cleanly on SIGTERM: exit code %d, %v", m.PID(), code, err)
			}
		}
		if t.Failed() {
			t.Logf("manager (pid %d, args %q) log %s ends with:\n%s", m.PID(), m.Args, m.LogFile(), m.LogTail(40))
		}
	})
	if err := m.WaitReady(context.Background(), timeout); err != nil {
		t.Fatal(err)
	}
	return m
}

// fleet is the state of a policy's Secrets, as the API server reports
// them: namespace -> trust digest annotation.
type fleet map[string]string

// count is the number of namespaces whose Secret announces one of digests.
func (f fleet) count(digests ...string) int {
	n := 0
	for _, d := range f {
		for _, want := range digests {
			if d == want {
				n++
				break
			}
		}
	}
	return n
}

// listFleet reads the policy's Secrets from the API server, and fails if
// any of them holds data whose digest is not the one it announces: a torn
// or half-written Secret.
func listFleet(g Gomega, c client.Client, policy string) fleet {
	var list corev1.SecretList
	g.Expect(c.List(context.Background(), &list, policySecrets(policy))).To(Succeed())
	out := make(fleet, len(list.Items))
	for i := range list.Items {
		s := &list.Items[i]
		g.Expect(tornSecret(s)).To(BeEmpty())
		out[s.Namespace] = s.Annotations[v1alpha1.TrustDigestAnnotation]
	}
	return out
}

func policySecrets(policy string) client.MatchingLabels {
	return client.MatchingLabels{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: policy}
}

// tornSecret describes s if its data does not have the digest its
// annotation announces, and is empty otherwise.
func tornSecret(s *corev1.Secret) string {
	announced := s.Annotations[v1alpha1.TrustDigestAnnotation]
	if got := trustconfig.TrustDigest(s.Data); got != announced {
		return fmt.Sprintf("Secret %s/%s (resourceVersion %s) announces %s but its data has digest %s",
			s.Namespace, s.Name, s.ResourceVersion, announced, got)
	}
	return ""
}

// fleetWatch follows a policy's Secrets with a watch on the API server,
// independent of any manager, so a test can act the moment the manager
// reaches a point of its work. Every Secret version the watch delivers is
// checked for torn data.
type fleetWatch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	state   fleet
	torn    []string
	changed chan struct{} // closed, and replaced, on every change
	err     error         // why the watch ended, if it did
}

// watchFleet starts a fleetWatch; it stops when the test ends, or earlier
// with stop.
func watchFleet(t *testing.T, c client.WithWatch, policy string) *fleetWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var list corev1.SecretList
	if err := c.List(ctx, &list, policySecrets(policy)); err != nil {
		cancel()
		t.Fatal(err)
	}
	w, err := c.Watch(ctx, &corev1.SecretList{}, policySecrets(policy),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	fw := &fleetWatch{cancel: cancel, done: make(chan struct{}), state: fleet{}, changed: make(chan struct{})}
	for i := range list.Items {
		fw.apply(watch.Added, &list.Items[i])
	}
	go fw.run(ctx, w)
	t.Cleanup(func() {
		fw.stop()
		fw.mu.Lock()
		defer fw.mu.Unlock()
		if len(fw.torn) > 0 {
			t.Errorf("%d torn Secret versions were written; the first: %s", len(fw.torn), fw.torn[0])
		}
	})
	return fw
}

func (fw *fleetWatch) run(ctx context.Context, w watch.Interface) {
	defer close(fw.done)
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Added, watch.Modified, watch.Deleted:
			if s, ok := ev.Object.(*corev1.Secret); ok {
				fw.apply(ev.Type, s)
			}
		case watch.Error:
			fw.end(fmt.Errorf("the watch of Secrets failed: %w", apierrors.FromObject(ev.Object)))
			return
		}
	}
	if ctx.Err() == nil {
		fw.end(errors.New("the API server ended the watch of Secrets"))
	}
}

func (fw *fleetWatch) apply(typ watch.EventType, s *corev1.Secret) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if typ == watch.Deleted {
		delete(fw.state, s.Namespace)
	} else {
		fw.state[s.Namespace] = s.Annotations[v1alpha1.TrustDigestAnnotation]
		if torn := tornSecret(s); torn != "" {
			fw.torn = append(fw.torn, torn)
		}
	}
	close(fw.changed)
	fw.changed = make(chan struct{})
}

func (fw *fleetWatch) end(err error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.err = err
	close(fw.changed)
	fw.changed = make(chan struct{})
}

// stop ends the watch and waits until it has.
func (fw *fleetWatch) stop() {
	fw.cancel()
	<-fw.done
}

// snapshot returns a copy of the state the watch has seen so far.
func (fw *fleetWatch) snapshot() fleet {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return maps.Clone(fw.state)
}

// waitFor waits until cond holds for the state the watch has seen, and
// returns that state. It fails when within passes first or the watch ends.
func (fw *fleetWatch) waitFor(t *testing.T, within time.Duration, what string, cond func(fleet) bool) fleet {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		fw.mu.Lock()
		changed, err := fw.changed, fw.err
		if cond(fw.state) {
			out := maps.Clone(fw.state)
			fw.mu.Unlock()
			return out
		}
		fw.mu.Unlock()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%s did not happen within %s", what, within)
		}
	}
}

// waitConverged waits until the policy has reached the exact state a
// finished sync leaves, and returns how long that took:
//   - status: the current generation handled, Ready=True (Succeeded),
//     trustDigest digest, every namespace synced and none conflicted or
//     failed, no namespace issue;
//   - Secrets: exactly one in each namespace and none elsewhere, each
//     announcing digest and holding data that has that digest.
func waitConverged(t *testing.T, c client.Client, policy string, namespaces []string, digest string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	n := int32(len(namespaces))
	want := make(map[string]bool, len(namespaces))
	for _, ns := range namespaces {
		want[ns] = true
	}
	NewWithT(t).Eventually(func(g Gomega) {
		p := &v1alpha1.VerificationPolicy{}
		g.Expect(c.Get(context.Background(), client.ObjectKey{Name: policy}, p)).To(Succeed())
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation), "observed generation")
		ready := conditions.Get(p, meta.ReadyCondition)
		g.Expect(ready).NotTo(BeNil(), "no Ready condition")
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "Ready: %s: %s", ready.Reason, ready.Message)
		g.Expect(ready.Reason).To(Equal(meta.SucceededReason), ready.Message)
		g.Expect(p.Status.TrustDigest).To(Equal(digest), "status.trustDigest")
		g.Expect(p.Status.Namespaces).To(Equal(v1alpha1.NamespaceCounts{
			Targeted: n, Synced: n, Summary: fmt.Sprintf("%d/%d", n, n),
		}), "status.namespaces")
		g.Expect(p.Status.NamespaceIssues).To(BeEmpty(), "status.namespaceIssues")

		got := listFleet(g, c, policy)
		var wrong, extra []string
		for ns := range want {
			if got[ns] != digest {
				wrong = append(wrong, fmt.Sprintf("%s=%q", ns, got[ns]))
			}
		}
		for ns := range got {
			if _, ok := want[ns]; !ok {
				extra = append(extra, ns)
			}
		}
		sort.Strings(wrong)
		g.Expect(extra).To(BeEmpty(), "Secrets outside the target namespaces")
		g.Expect(len(wrong)).To(BeZero(), "namespaces not announcing %s, the first: %v", digest, wrong[:min(5, len(wrong))])
	}, within, poll).Should(Succeed())
	return time.Since(start)
}
