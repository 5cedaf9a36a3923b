package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/cluster"
)

// managerStopTimeout matches the Deployment's terminationGracePeriodSeconds.
const managerStopTimeout = 10 * time.Second

func (d *demo) buildManager(ctx context.Context) error {
	binary, err := cluster.BuildManager(ctx)
	d.binary = binary
	return err
}

func (d *demo) startControlPlane(ctx context.Context) error {
	logPath := filepath.Join(d.dir, "control-plane.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	d.onCleanUp(func() { _ = log.Close() })
	plane, err := cluster.StartControlPlane(cluster.ControlPlaneOptions{Log: log})
	if err != nil {
		return err
	}
	d.plane = plane
	d.onCleanUp(func() {
		if err := plane.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "demo: stopping the control plane: %v\n", err)
		}
	})

	d.kubeconfig = filepath.Join(d.dir, "kubeconfig")
	if err := plane.WriteAdminKubeconfig(d.kubeconfig); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	if d.k8s, err = client.NewWithWatch(plane.Admin(), client.Options{Scheme: scheme}); err != nil {
		return err
	}
	d.printf("    API server %s, admin kubeconfig %s\n", plane.URL(), d.rel(d.kubeconfig))
	return nil
}

func (d *demo) installOperator(ctx context.Context) error {
	if err := d.plane.InstallCRDs("config/crd/bases", "test/crd/flux"); err != nil {
		return err
	}
	install, err := cluster.RenderInstall()
	if err != nil {
		return err
	}
	d.install = install
	return install.ApplyRBAC(ctx, d.k8s)
}

func (d *demo) createNamespaces(ctx context.Context) error {
	for _, name := range append(append([]string{}, teams...), sandbox) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if name != sandbox {
			ns.Labels = map[string]string{verifyLabel: "true"}
		}
		if err := d.k8s.Create(ctx, ns); err != nil {
			return err
		}
	}
	return nil
}

// startManager runs bin/manager the way its Deployment does, minus the
// container: its own process, as the ServiceAccount config/default binds
// the RBAC to, with the install namespace as trust namespace.
func (d *demo) startManager(ctx context.Context) error {
	// The one fixed port of the demo: say clearly when it is taken rather
	// than leaving it to the manager's log.
	l, err := net.Listen("tcp", d.probeAddr)
	if err != nil {
		return fmt.Errorf("the manager's probe address %s is not available (%v); set DEMO_PROBE_ADDR to a free host:port", d.probeAddr, err)
	}
	_ = l.Close()

	kubeconfig := filepath.Join(d.dir, "manager.kubeconfig")
	if err := d.plane.WriteImpersonatingKubeconfig(kubeconfig, d.install.User()); err != nil {
		return err
	}
	m, err := cluster.StartManager(cluster.ManagerConfig{
		Binary:         d.binary,
		Kubeconfig:     kubeconfig,
		TrustNamespace: d.install.Namespace,
		LogFile:        filepath.Join(d.dir, "manager.log"),
		ProbeAddr:      d.probeAddr,
	})
	if err != nil {
		return err
	}
	d.manager = m
	d.onCleanUp(func() {
		select {
		case <-m.Done():
			return
		default:
		}
		if code, err := m.Stop(managerStopTimeout); err != nil || code != 0 {
			fmt.Fprintf(os.Stderr, "demo: the manager did not stop cleanly (exit code %d, %v); see %s\n", code, err, d.rel(m.LogFile()))
		}
	})
	if err := m.WaitReady(ctx, stepTimeout); err != nil {
		return err
	}
	d.printf("    as %s\n", d.install.User())
	d.printf("    pid %d, ready at %s/readyz, log %s\n", m.PID(), m.ProbeURL(), d.rel(m.LogFile()))
	return nil
}

// startFlux runs Flux's source-controller against the control plane, as
// the cluster admin (Flux's own RBAC is not what the demo shows).
func (d *demo) startFlux(ctx context.Context) error {
	binary, err := cluster.SourceControllerBinary()
	if err != nil {
		return err
	}
	version, err := cluster.SourceControllerVersion(binary)
	if err != nil {
		return err
	}
	sc, err := cluster.StartSourceController(ctx, cluster.SourceControllerConfig{Kubeconfig: d.kubeconfig, Dir: d.dir})
	if err != nil {
		return err
	}
	d.flux = sc
	d.onCleanUp(func() {
		if _, err := sc.Stop(managerStopTimeout); err != nil {
			fmt.Fprintf(os.Stderr, "demo: stopping source-controller: %v\n", err)
		}
	})
	d.printf("    %s, pid %d, log %s\n", version, sc.PID(), d.rel(sc.LogFile()))
	return nil
}
