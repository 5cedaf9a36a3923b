package e2e

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
)

// leaseName is the manager's leader election ID (cmd/main.go); the Lease
// lives in the trust namespace.
const leaseName = "verification-operator.flux-notation.io"

// replica is one manager process with the proxy that records its requests.
type replica struct {
	name    string
	manager *cluster.Manager
	proxy   *cluster.APIProxy
}

// startReplica runs a manager whose every API request goes through a
// proxy of its own, which authenticates as the manager's ServiceAccount
// exactly as managerKubeconfig does.
func startReplica(t *testing.T, name string, args ...string) *replica {
	t.Helper()
	upstream, err := clientcmd.BuildConfigFromFlags("", managerKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := cluster.StartAPIProxy(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close) // after the manager has stopped
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := proxy.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	return &replica{name: name, manager: startManagerWith(t, kubeconfig, args...), proxy: proxy}
}

// requests returns the replica's requests that match.
func (r *replica) requests(match func(cluster.APIRequest) bool) []cluster.APIRequest {
	var out []cluster.APIRequest
	for _, req := range r.proxy.Requests() {
		if match(req) {
			out = append(out, req)
		}
	}
	return out
}

// isWrite is a write the API server carried out. A refused one is not: two
// replicas starting at once may both try to create the lease, and the
// loser's create fails with AlreadyExists.
func isWrite(r cluster.APIRequest) bool { return r.IsWrite() && r.Succeeded() }

func isLeaseWrite(r cluster.APIRequest) bool {
	return r.IsWrite() && r.Succeeded() && r.Group == coordinationv1.GroupName && r.Resource == "leases" && r.Name == leaseName
}

func isSecretWrite(verb string) func(cluster.APIRequest) bool {
	return func(r cluster.APIRequest) bool {
		return r.Verb == verb && r.Succeeded() && r.Group == "" && r.Resource == "secrets"
	}
}

// tally counts requests by verb and resource, for failure messages:
// "create secrets: 50, patch verificationpolicies/status: 8".
func tally(reqs []cluster.APIRequest) string {
	counts := map[string]int{}
	for _, r := range reqs {
		what := r.Resource
		if r.Subresource != "" {
			what += "/" + r.Subresource
		}
		counts[r.Verb+" "+what]++
	}
	keys := slices.Sorted(maps.Keys(counts))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// TestOnlyTheLeaderWrites runs two replicas with leader election, as a
// Deployment with two pods does, each behind a proxy that records its API
// requests: only the leader writes anything, the other only reads. Then the
// leader is SIGKILLed (it cannot release the lease) and the CA rotated: the
// other replica takes over once the lease has expired, and converges the
// rotation by itself.
func TestOnlyTheLeaderWrites(t *testing.T) {
	const (
		n             = 50
		leaseDuration = 8 * time.Second
		renewDeadline = 6 * time.Second
		retryPeriod   = time.Second
		// A replica without the lease looks at it every retryPeriod plus up
		// to 1.2 times as much (client-go's jitter). It counts the lease
		// duration from when it saw the last renewal, which is at most one
		// such retry after the renewal, and takes the lease at most one
		// retry after the duration has passed; 5 s more for the requests
		// and for scheduling on a loaded machine.
		jitteredRetry = retryPeriod * 22 / 10
		handoverBound = leaseDuration + 2*jitteredRetry + 5*time.Second
	)
	leaderArgs := []string{
		"--leader-elect",
		"--leader-election-lease-duration=" + leaseDuration.String(),
		// A leader that cannot renew for renewDeadline gives up and exits:
		// 6 s leaves room for a slow API server on two busy cores.
		"--leader-election-renew-deadline=" + renewDeadline.String(),
		"--leader-election-retry-period=" + retryPeriod.String(),
	}
	ctx := context.Background()
	g := NewWithT(t)
	label := uniqueLabel()
	namespaces := createNamespaces(t, "ha", n, label)

	a, b := startReplica(t, "a", leaderArgs...), startReplica(t, "b", leaderArgs...)
	var leader, follower *replica
	g.Eventually(func(g Gomega) {
		la, lb := len(a.requests(isLeaseWrite)), len(b.requests(isLeaseWrite))
		g.Expect(la > 0 || lb > 0).To(BeTrue(), "no replica has taken the lease")
		g.Expect(la > 0 && lb > 0).To(BeFalse(), "both replicas wrote the lease")
		leader, follower = a, b
		if lb > 0 {
			leader, follower = b, a
		}
	}, timeout, poll).Should(Succeed())
	lease := &coordinationv1.Lease{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: install.Namespace, Name: leaseName}, lease)).To(Succeed())
	g.Expect(lease.Spec.LeaseDurationSeconds).To(HaveValue(BeEquivalentTo(leaseDuration.Seconds())), "the lease carries --leader-election-lease-duration")
	t.Logf("replica %s (pid %d) leads, holding the lease as %s; replica %s (pid %d) follows",
		leader.name, leader.manager.PID(), *lease.Spec.HolderIdentity, follower.name, follower.manager.PID())

	name := uniqueName("ha")
	g1, g2 := certs.NewCA("ha root G1"), certs.NewCA("ha root G2")
	g.Expect(k8s.Create(ctx, newPolicy(name, label, inlineCA("root", g1)))).To(Succeed())
	first := wantDigest(t, getPolicy(g, name), g1.PEM())
	waitConverged(t, k8s, name, namespaces, first, timeout)

	// The follower reads (it polls the lease through its proxy) but has
	// never written anything, not even the lease; the leader created each
	// Secret exactly once.
	writes := follower.requests(isWrite)
	g.Expect(len(writes)).To(BeZero(), "the follower wrote (%s)", tally(writes))
	g.Expect(follower.requests(func(r cluster.APIRequest) bool { return r.Verb == "get" && r.Resource == "leases" })).
		NotTo(BeEmpty(), "the follower's requests do not go through its proxy")
	g.Expect(leader.requests(isSecretWrite("create"))).To(HaveLen(n), "Secrets the leader created")
	g.Expect(leader.requests(isSecretWrite("update"))).To(BeEmpty(), "Secrets the leader updated")

	// Kill the leader, then rotate while nobody leads.
	g.Expect(leader.manager.Kill()).To(Succeed())
	killed := time.Now()
	renewals := leader.requests(isLeaseWrite)
	lastRenewal := renewals[len(renewals)-1].Start
	updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates[0] = inlineCA("root", g2) })
	second := wantDigest(t, getPolicy(g, name), g2.PEM())

	var acquired time.Time
	g.Eventually(func(g Gomega) {
		taken := follower.requests(isLeaseWrite)
		g.Expect(taken).NotTo(BeEmpty(), "the follower has not taken the lease")
		acquired = taken[0].Start
	}, handoverBound+timeout, poll).Should(Succeed())
	handover := acquired.Sub(killed)
	t.Logf("the follower took the lease %s after the leader was killed, %s after the leader last renewed it (lease duration %s)",
		handover.Round(time.Millisecond), acquired.Sub(lastRenewal).Round(time.Millisecond), leaseDuration)
	g.Expect(acquired.Sub(lastRenewal)).To(BeNumerically(">=", leaseDuration),
		"the follower took the lease before it expired: two leaders at once")
	g.Expect(handover).To(BeNumerically("<=", handoverBound), "handover")

	waitConverged(t, k8s, name, namespaces, second, timeout)
	t.Logf("the new leader converged the rotation of all %d namespaces %s after the kill",
		n, time.Since(killed).Round(time.Millisecond))
	g.Expect(follower.requests(isSecretWrite("update"))).To(HaveLen(n), "Secrets the new leader updated")
	g.Expect(follower.requests(isSecretWrite("create"))).To(BeEmpty(), "Secrets the new leader created")

	deletePolicy(t, name)
	expectNoForbidden(t, a.manager)
	expectNoForbidden(t, b.manager)
}
