package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Users the API server tells apart in its audit log: one per system
// measured, plus the harness itself (not audited).
const (
	userOurs         = "bench-verification-operator"
	userTrustManager = "bench-trust-manager"
	userLimit        = "bench-plain-client"
	userHarness      = "bench-harness"
)

// auditPolicy records every mutating request of the measured systems (and
// nothing else), so writes are counted by the API server itself, per user,
// without a proxy in the data path.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  users: ["` + userOurs + `", "` + userTrustManager + `", "` + userLimit + `"]
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: None
`

// cluster is one kube-apiserver and etcd shared by every system measured.
type cluster struct {
	env       *envtest.Environment
	dir       string
	auditPath string
	// harness is an unthrottled cluster-admin for setup and observation.
	harness *rest.Config
	kube    kubernetes.Interface
	dyn     dynamic.Interface
	users   map[string]*envtest.AuthenticatedUser
	// etcdDir is etcd's data folder when the harness chose it (tmpfs).
	etcdDir string
}

func startCluster(dir string, crdDirs []string) (*cluster, error) {
	policyPath := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policyPath, []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, auditPath: filepath.Join(dir, "audit.log"), users: map[string]*envtest.AuthenticatedUser{}}
	c.env = &envtest.Environment{
		CRDDirectoryPaths:        crdDirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	api := c.env.ControlPlane.GetAPIServer()
	args := api.Configure()
	args.Set("audit-policy-file", policyPath)
	args.Set("audit-log-path", c.auditPath)
	args.Set("audit-log-format", "json")
	args.Set("audit-log-maxsize", "0") // no rotation: the harness reads one file
	logFile, err := os.Create(filepath.Join(dir, "control-plane.log"))
	if err != nil {
		return nil, err
	}
	api.Out, api.Err = logFile, logFile
	c.env.ControlPlane.Etcd = &envtest.Etcd{Out: logFile, Err: logFile}
	// etcd on tmpfs: the machine's disk is shared, and an fsync stalled by
	// someone else's I/O stalls every write for seconds, whichever system
	// is being measured. Every system gets the same fast etcd.
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "bench-etcd-"); err == nil {
			c.env.ControlPlane.Etcd.DataDir = d
			c.etcdDir = d
		}
	}

	if _, err := c.env.Start(); err != nil {
		_ = c.stop()
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	for _, name := range []string{userOurs, userTrustManager, userLimit, userHarness} {
		u, err := c.env.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, &rest.Config{})
		if err != nil {
			_ = c.stop()
			return nil, fmt.Errorf("provisioning user %s: %w", name, err)
		}
		c.users[name] = u
	}
	c.harness = rest.CopyConfig(c.users[userHarness].Config())
	c.harness.QPS, c.harness.Burst = -1, -1 // no client-side limit for setup
	if c.kube, err = kubernetes.NewForConfig(c.harness); err != nil {
		return nil, err
	}
	if c.dyn, err = dynamic.NewForConfig(c.harness); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *cluster) stop() error {
	err := c.env.Stop()
	if c.etcdDir != "" {
		_ = os.RemoveAll(c.etcdDir)
	}
	return err
}

// kubeconfig writes a kubeconfig for user and returns its path.
func (c *cluster) kubeconfig(user string) (string, error) {
	data, err := c.users[user].KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.dir, user+".kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// restConfig returns user's client configuration with the given client-side
// rate limit.
func (c *cluster) restConfig(user string, qps float32, burst int) *rest.Config {
	cfg := rest.CopyConfig(c.users[user].Config())
	cfg.QPS, cfg.Burst = qps, burst
	cfg.UserAgent = user
	return cfg
}

// createNamespaces creates n namespaces bench-0000... labelled with every
// size class they belong to, so each system selects exactly the first N.
func (c *cluster) createNamespaces(ctx context.Context, n int, sizes []int, extra ...string) ([]string, error) {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%04d", i)
	}
	err := parallel(ctx, 32, n, func(ctx context.Context, i int) error {
		labels := map[string]string{}
		for _, s := range sizes {
			if i < s {
				labels[sizeLabel(s)] = "true"
			}
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: names[i], Labels: labels}}
		_, err := c.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, name := range extra {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := c.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	return names, nil
}

func sizeLabel(n int) string { return fmt.Sprintf("bench.flux-notation.io/n%d", n) }

// deleteSecrets deletes the Secret name in each namespace, ignoring those
// already gone.
func (c *cluster) deleteSecrets(ctx context.Context, name string, namespaces []string) error {
	return parallel(ctx, 32, len(namespaces), func(ctx context.Context, i int) error {
		err := c.kube.CoreV1().Secrets(namespaces[i]).Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// parallel runs fn for 0..n-1 on workers goroutines and returns the first
// error.
func parallel(ctx context.Context, workers, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
