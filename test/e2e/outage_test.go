package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
)

// TestAPIServerOutageMidRotation stops kube-apiserver for 20 seconds while
// the manager rolls a new CA out to 300 namespaces, then starts it again
// (etcd keeps running, so nothing is lost). The same manager process, never
// restarted, must finish the rotation by itself: every namespace ends up
// with a Secret holding exactly the data of the new configuration, and the
// policy says Ready. No Secret may ever hold data other than the one its
// digest annotation announces.
//
// It runs on a control plane of its own, so the outage cannot disturb the
// other tests.
func TestAPIServerOutageMidRotation(t *testing.T) {
	const (
		n      = 300
		outage = 20 * time.Second
		// The outage starts once this many namespaces have the new
		// configuration: well into the rotation, far from its end.
		stopAt = n / 3
		// Bounds the recovery: the client-go reflectors back off for up to
		// 30 s between attempts to reach an API server that is down, and
		// failed reconciles back off exponentially.
		recoveryTimeout = 90 * time.Second
	)
	// At 40 writes a second the rotation takes about 8 s, so it is still
	// under way when the API server goes down.
	throttled := []string{"--kube-api-qps=40", "--kube-api-burst=10"}
	ctx := context.Background()
	g := NewWithT(t)
	plane, c, kubeconfig := startOwnControlPlane(t)

	label := uniqueLabel()
	namespaces := make([]string, n)
	for i := range namespaces {
		namespaces[i] = uniqueName("outage")
		g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaces[i], Labels: label}})).To(Succeed())
	}
	name := uniqueName("outage")
	g1, g2 := certs.NewCA("outage root G1"), certs.NewCA("outage root G2")

	// A first manager, with the default rate limits, does the initial sync;
	// it gives way to a throttled one for the rotation.
	first := startManagerWith(t, kubeconfig)
	g.Expect(c.Create(ctx, newPolicy(name, label, inlineCA("root", g1)))).To(Succeed())
	p := &v1alpha1.VerificationPolicy{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: name}, p)).To(Succeed())
	old := wantDigest(t, p, g1.PEM())
	waitConverged(t, c, name, namespaces, old, timeout)
	code, err := first.Stop(stopTimeout)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(code).To(BeZero(), "exit code of the first manager")

	m := startManagerWith(t, kubeconfig, throttled...)
	fw := watchFleet(t, c, name)
	var next string
	g.Eventually(func(g Gomega) {
		g.Expect(c.Get(ctx, client.ObjectKey{Name: name}, p)).To(Succeed())
		p.Spec.Certificates[0] = inlineCA("root", g2)
		next = wantDigest(t, p, g2.PEM())
		g.Expect(c.Update(ctx, p)).To(Succeed())
	}, timeout, poll).Should(Succeed())
	fw.waitFor(t, timeout, fmt.Sprintf("the rotation reaching %d namespaces", stopAt), func(f fleet) bool { return f.count(next) >= stopAt })

	stopping := time.Now()
	g.Expect(plane.StopAPIServer()).To(Succeed())
	down := time.Now()
	fw.stop() // its watch ended with the API server
	t.Logf("kube-apiserver stopped (SIGTERM, took %s) once %d/%d namespaces had the new configuration",
		down.Sub(stopping).Round(time.Millisecond), fw.snapshot().count(next), n)

	select {
	case <-m.Done():
		t.Fatalf("the manager exited while the API server was down (%s)", m.LogTail(20))
	case <-time.After(outage):
	}
	g.Expect(plane.StartAPIServer(ctx, time.Minute)).To(Succeed())
	up := time.Now()

	// The rotation was really cut: namespaces are still on the old
	// configuration (and none holds torn data: listFleet checks, and the
	// watches check every version written before and after the outage).
	at := listFleet(g, c, name)
	g.Expect(at.count(old, next)).To(Equal(n), "Secrets announcing neither configuration")
	g.Expect(at.count(old)).To(BeNumerically(">", 0), "the rotation finished before the API server went down")
	t.Logf("kube-apiserver was down for %s (%s, then %s to start and be ready); %d/%d namespaces on the new configuration",
		up.Sub(down).Round(time.Millisecond), outage, up.Sub(down.Add(outage)).Round(time.Millisecond), at.count(next), n)

	watchFleet(t, c, name).waitFor(t, recoveryTimeout, "the manager writing again after the outage",
		func(f fleet) bool { return f.count(next) > at.count(next) })
	resumed := time.Since(up)
	waitConverged(t, c, name, namespaces, next, recoveryTimeout)
	converged := time.Since(up)
	select {
	case <-m.Done():
		t.Fatalf("the manager exited (%s)", m.LogTail(20))
	default:
	}
	t.Logf("once the API server was ready, the same manager (pid %d) wrote again after %s and had converged all %d namespaces after %s",
		m.PID(), resumed.Round(time.Millisecond), n, converged.Round(time.Millisecond))
}

// startOwnControlPlane starts a control plane for one test, with the
// operator's CRDs, Flux's OCIRepository CRD and the shipped RBAC, as
// TestMain does for the shared one. It returns the plane, an admin client
// and a kubeconfig that authenticates as the manager's ServiceAccount.
// The plane's API server can be restarted.
func startOwnControlPlane(t *testing.T) (*cluster.ControlPlane, client.WithWatch, string) {
	t.Helper()
	ctx := context.Background()
	plane, err := cluster.StartControlPlane(cluster.ControlPlaneOptions{Restartable: true})
	if err != nil {
		t.Fatal(err)
	}
	// kube-apiserver and etcd run in process groups of their own: stop
	// them when the test ends, and if the test binary is interrupted
	// (TestMain stops the shared plane likewise).
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	ended := make(chan struct{})
	go func() {
		select {
		case <-signals:
			_ = plane.Stop()
		case <-ended:
		}
	}()
	t.Cleanup(func() {
		signal.Stop(signals)
		close(ended)
		if err := plane.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})

	if err := plane.InstallCRDs("config/crd/bases", "test/crd/flux"); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewWithWatch(plane.Admin(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := install.ApplyRBAC(ctx, c); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "manager.kubeconfig")
	if err := plane.WriteImpersonatingKubeconfig(kubeconfig, install.User()); err != nil {
		t.Fatal(err)
	}
	return plane, c, kubeconfig
}
