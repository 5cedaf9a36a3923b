package e2e

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
)

// TestKilledAtRandomPointsConverges SIGKILLs the manager five times while
// it syncs a policy to 500 namespaces and then rotates its CA, each time at
// a point drawn at random, and restarts it each time. After the last
// restart every namespace holds the Secret of the latest spec, and the
// status says so.
//
// Progress runs from 0 to 1000: the number of namespaces holding the first
// configuration (the sync, 0..500), then 500 plus the number holding the
// rotated one (the rotation, 500..1000). The kill points are drawn one in
// each fifth of that range, so at least two fall in the sync and two in
// the rotation. The seed is logged; E2E_SEED=<seed> replays the same points.
func TestKilledAtRandomPointsConverges(t *testing.T) {
	const (
		n     = 500
		kills = 5
		// Each point keeps this far from the edges of its fifth, so points
		// stay apart even when a kill lands a few writes late.
		edge = 10
		// The last point keeps this far from the end of the rotation (one
		// second at 50 writes a second): a kill that lands late, behind a
		// lagging watch on a busy machine, must still come before the end.
		tail = 50
	)
	// 50 writes a second: the sync and the rotation take ten seconds each,
	// and a kill lands within a few writes of its point.
	throttled := []string{"--kube-api-qps=50", "--kube-api-burst=10"}
	ctx := context.Background()
	g := NewWithT(t)

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("E2E_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		g.Expect(err).NotTo(HaveOccurred(), "E2E_SEED")
		seed = v
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	width := 2 * n / kills
	points := make([]int, kills)
	for i := range points {
		span := width - 2*edge
		if i == kills-1 {
			span = width - edge - tail
		}
		points[i] = i*width + edge + rng.IntN(span)
	}
	t.Logf("kill points (progress 0..%d): %v; seed %d (E2E_SEED=%d replays them)", 2*n, points, seed, seed)

	label := uniqueLabel()
	namespaces := createNamespaces(t, "kill", n, label)
	name := uniqueName("kill")
	g1, g2 := certs.NewCA("kill root G1"), certs.NewCA("kill root G2")

	m := startManager(t, throttled...)
	g.Expect(k8s.Create(ctx, newPolicy(name, label, inlineCA("root", g1)))).To(Succeed())
	stored := getPolicy(g, name)
	first := wantDigest(t, stored, g1.PEM())
	rotatedSpec := stored.DeepCopy()
	rotatedSpec.Spec.Certificates[0] = inlineCA("root", g2)
	second := wantDigest(t, rotatedSpec, g2.PEM())
	progress := func(f fleet) int { return f.count(first, second) + f.count(second) }

	fw := watchFleet(t, k8s, name)
	rotated := false
	for i, point := range points {
		if point > n && !rotated {
			// The sync is complete: rotate.
			waitReady(t, name)
			updatePolicy(t, name, func(p *v1alpha1.VerificationPolicy) { p.Spec.Certificates = rotatedSpec.Spec.Certificates })
			rotated = true
		}
		fw.waitFor(t, timeout, "progress "+strconv.Itoa(point), func(f fleet) bool { return progress(f) >= point })
		g.Expect(m.Kill()).To(Succeed())

		// What the API server holds after the kill: every Secret announces
		// one of the two configurations and holds exactly that data
		// (listFleet checks), and the work is not done.
		at := listFleet(g, k8s, name)
		g.Expect(at.count(first, second)).To(Equal(len(at)), "Secrets announcing neither configuration")
		g.Expect(progress(at)).To(BeNumerically("<", 2*n), "kill %d came after the rotation had finished", i+1)
		t.Logf("kill %d (SIGKILL, pid %d) at progress %d (point %d): %d namespaces without a Secret, %d on the first configuration, %d on the rotated one",
			i+1, m.PID(), progress(at), point, n-len(at), at.count(first), at.count(second))

		if i < kills-1 {
			m = startManager(t, throttled...)
		}
	}
	g.Expect(rotated).To(BeTrue())

	// The last restart runs with the default client rate limits.
	start := time.Now()
	m = startManager(t)
	ready := time.Since(start)
	waitConverged(t, k8s, name, namespaces, second, timeout)
	t.Logf("after the last kill, the restarted manager was ready in %s and had converged all %d namespaces to the rotated configuration %s after its start",
		ready.Round(time.Millisecond), n, time.Since(start).Round(time.Millisecond))

	deletePolicy(t, name)
	expectNoForbidden(t, m)
}
