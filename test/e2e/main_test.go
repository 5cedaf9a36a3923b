// Package e2e runs bin/manager, built from ./cmd, as its own process against
// a real kube-apiserver and etcd, with nothing but the RBAC that
// config/default ships: the manager authenticates as its ServiceAccount
// (impersonated), so a permission missing from config/rbac fails these
// tests the way it would fail in a cluster. The tests then check what users
// see: Secrets in namespaces, policy status, events, probes and exit codes.
//
// Each test starts its own manager and stops it with SIGTERM, requiring exit
// code 0. Tests run one after another: two managers at once would fight.
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

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/cluster"
)

// setupTimeout bounds building the manager and starting the control plane
// and source-controller. On a cold build cache the manager's -trimpath build
// shares nothing with the test builds and recompiles every dependency while
// other packages test beside it (cluster.BuildManager allows it 10 minutes).
const setupTimeout = 15 * time.Minute

var (
	// k8s is the tests' own client, as cluster admin and uncached, so
	// assertions see the API server's truth.
	k8s    client.WithWatch
	scheme = runtime.NewScheme()
	// install is config/default as rendered by kustomize.
	install *cluster.Install
	// managerBinary is bin/manager, freshly built from ./cmd.
	managerBinary string
	// managerKubeconfig authenticates as the manager's ServiceAccount.
	managerKubeconfig string
	// flux is Flux's real source-controller, reconciling every
	// OCIRepository of the run: what it reports is asserted next to what
	// the operator reports.
	flux       *cluster.SourceController
	fluxConfig cluster.SourceControllerConfig
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return code
}

func setUp(m *testing.M) (code int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "verification-operator-e2e-")
	if err != nil {
		return 0, err
	}
	// dir holds source-controller's log and artifact storage: a failed run
	// keeps it, for the whole log and what Flux stored, beyond the tails
	// printed. Deferred first, so it runs once every process has stopped.
	defer func() {
		if code != 0 || err != nil {
			fmt.Fprintf(os.Stderr, "e2e: kept %s (source-controller's log and storage, kubeconfigs)\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	// Building the manager (a no-op when bin/manager is current) and
	// starting the control plane are independent: overlap them.
	var plane *cluster.ControlPlane
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		managerBinary, err = cluster.BuildManager(gctx)
		return err
	})
	g.Go(func() (err error) {
		plane, err = cluster.StartControlPlane(cluster.ControlPlaneOptions{})
		return err
	})
	err = g.Wait()
	if plane != nil {
		defer func() {
			if err := plane.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: stopping the control plane:", err)
			}
		}()
		stopOnSignal(plane)
	}
	if err != nil {
		return 0, err
	}

	// Our CRD, and Flux's source CRDs: the companion reconciler watches
	// OCIRepositories whenever the API serves them, and source-controller
	// needs every kind it reconciles.
	if err := plane.InstallCRDs("config/crd/bases", "test/crd/flux"); err != nil {
		return 0, err
	}
	adminKubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if err := plane.WriteAdminKubeconfig(adminKubeconfig); err != nil {
		return 0, err
	}
	fluxConfig = cluster.SourceControllerConfig{Kubeconfig: adminKubeconfig, Dir: dir}
	if flux, err = cluster.StartSourceController(ctx, fluxConfig); err != nil {
		return 0, err
	}
	defer func() {
		if _, err := flux.Stop(stopTimeout); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping source-controller:", err)
		}
	}()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return 0, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return 0, err
	}
	if k8s, err = client.NewWithWatch(plane.Admin(), client.Options{Scheme: scheme}); err != nil {
		return 0, err
	}
	if install, err = cluster.RenderInstall(); err != nil {
		return 0, err
	}
	if err := install.ApplyRBAC(ctx, k8s); err != nil {
		return 0, err
	}
	managerKubeconfig = filepath.Join(dir, "manager.kubeconfig")
	if err := plane.WriteImpersonatingKubeconfig(managerKubeconfig, install.User()); err != nil {
		return 0, err
	}
	code = m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: source-controller's log (%s) ends with:\n%s\n", flux.LogFile(), flux.LogTail(15))
	}
	return code, nil
}

// stopOnSignal stops the control plane when the test binary is interrupted
// (Ctrl-C, or go test's parent being stopped): kube-apiserver and etcd run
// in process groups of their own and would otherwise outlive us. Managers
// die with us by themselves (see cluster.StartManager).
func stopOnSignal(plane *cluster.ControlPlane) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "e2e: %s: stopping the control plane\n", sig)
		_ = plane.Stop()
		os.Exit(1)
	}()
}
