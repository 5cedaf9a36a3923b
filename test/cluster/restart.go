package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// errNotRestartable is returned for a plane started without Restartable:
// envtest would give a restarted kube-apiserver a new port, serving CA and
// client CA, and every client of the plane would be locked out.
var errNotRestartable = errors.New("the control plane was not started with ControlPlaneOptions.Restartable")

// StopAPIServer stops kube-apiserver (SIGTERM, as a rolling restart or a
// drained control-plane node would) and waits until it has exited. etcd
// keeps running, so every object survives; until StartAPIServer, every
// client gets "connection refused".
func (c *ControlPlane) StopAPIServer() error {
	if c.certDir == "" {
		return errNotRestartable
	}
	return c.env.ControlPlane.GetAPIServer().Stop()
}

// StartAPIServer starts kube-apiserver again after StopAPIServer: same
// address and port, same serving certificate, same client CA and
// service-account keys, so every kubeconfig and rest.Config handed out
// before keeps working. It returns once /readyz answers, that is once the
// API server has synced its informers (RBAC among them), or fails after
// timeout.
func (c *ControlPlane) StartAPIServer(ctx context.Context, timeout time.Duration) error {
	if c.certDir == "" {
		return errNotRestartable
	}
	// envtest reuses the certificates it finds in CertDir, the port it
	// picked the first time and the authenticator's CA; it waits for
	// /healthz only.
	if err := c.env.ControlPlane.GetAPIServer().Start(); err != nil {
		return fmt.Errorf("starting kube-apiserver again: %w", err)
	}
	admin, err := kubernetes.NewForConfig(c.Admin())
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, last = admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver did not become ready within %s: %w (last answer: %v)", timeout, err, last)
	}
	return nil
}
