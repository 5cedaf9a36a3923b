package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// ControlPlane is a kube-apiserver and etcd running on loopback.
type ControlPlane struct {
	env   *envtest.Environment
	admin *envtest.AuthenticatedUser
	// certDir holds kube-apiserver's certificates and keys when the plane
	// is Restartable; Stop removes it.
	certDir string
}

// ControlPlaneOptions tune StartControlPlane.
type ControlPlaneOptions struct {
	// Log receives the output of kube-apiserver and etcd; nil discards it.
	Log io.Writer
	// StartTimeout bounds the start of each of the two processes. The
	// default is a minute: on two shared cores a cold kube-apiserver can
	// take far longer than envtest's own 20 s default.
	StartTimeout time.Duration
	// Restartable keeps kube-apiserver's certificates and keys in a
	// directory that outlives the process, so StopAPIServer and
	// StartAPIServer can restart it with the same identity (see restart.go).
	Restartable bool
}

// StartControlPlane starts kube-apiserver and etcd from KUBEBUILDER_ASSETS,
// with RBAC authorization on (envtest's default, which the RBAC checks of
// the end-to-end tests rely on) and ClusterTrustBundles served. It fails, rather than skipping, when the
// binaries are not there: a test that cannot run must not pass.
func StartControlPlane(o ControlPlaneOptions) (*ControlPlane, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: use `make test` or `make demo`, " +
			"which build kube-apiserver and etcd into bin/k8s/<version> and point KUBEBUILDER_ASSETS there")
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = testenv.StartTimeout
	}
	env := &envtest.Environment{
		ControlPlaneStartTimeout: o.StartTimeout,
		ControlPlaneStopTimeout:  testenv.StopTimeout,
	}
	// ClusterTrustBundles, which the operator reads as certificate sources.
	testenv.ServeClusterTrustBundles(env.ControlPlane.GetAPIServer())
	if o.Log != nil {
		api := env.ControlPlane.GetAPIServer()
		api.Out, api.Err = o.Log, o.Log
		env.ControlPlane.Etcd = &envtest.Etcd{Out: o.Log, Err: o.Log}
	}
	plane := &ControlPlane{env: env}
	if o.Restartable {
		dir, err := os.MkdirTemp("", "verification-operator-apiserver-")
		if err != nil {
			return nil, err
		}
		// envtest leaves a CertDir it did not create in place on Stop.
		api := env.ControlPlane.GetAPIServer()
		api.CertDir = dir
		plane.certDir = dir
		// Without this, SIGTERM makes kube-apiserver wait for open watches
		// up to --request-timeout (60 s), and envtest kills it after
		// ControlPlaneStopTimeout. With it, kube-apiserver drains requests
		// in flight, answering new ones with 429 and Retry-After, and then
		// gives open connections 2 s, as in a rolling restart.
		api.Configure().Set("shutdown-send-retry-after", "true")
	}
	if _, err := env.Start(); err != nil {
		// A half-started plane may have left etcd running.
		_ = plane.Stop()
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	// Our own cluster-admin, rather than envtest's internal default user, so
	// the kubeconfig we hand out is one we provisioned on purpose. The
	// generous client rate limit keeps helpers that create hundreds of
	// objects from throttling themselves.
	admin, err := env.AddUser(envtest.User{Name: "cluster-admin", Groups: []string{"system:masters"}},
		&rest.Config{QPS: 500, Burst: 1000})
	if err != nil {
		_ = plane.Stop()
		return nil, fmt.Errorf("provisioning the admin user: %w", err)
	}
	plane.admin = admin
	return plane, nil
}

// Stop stops kube-apiserver and etcd and removes their data.
func (c *ControlPlane) Stop() error {
	err := c.env.Stop()
	if c.certDir != "" {
		err = errors.Join(err, os.RemoveAll(c.certDir))
	}
	return err
}

// URL is the API server's address, https://127.0.0.1:<port>.
func (c *ControlPlane) URL() string {
	return strings.TrimSuffix(c.Admin().Host, "/")
}

// Admin returns a client configuration for a member of system:masters.
func (c *ControlPlane) Admin() *rest.Config {
	return rest.CopyConfig(c.admin.Config())
}

// WriteAdminKubeconfig writes a kubeconfig for the cluster admin to path.
func (c *ControlPlane) WriteAdminKubeconfig(path string) error {
	data, err := c.admin.KubeConfig()
	if err != nil {
		return err
	}
	return writeFile(path, data)
}

// WriteImpersonatingKubeconfig writes a kubeconfig that authenticates as the
// cluster admin and then acts as user, for example
// system:serviceaccount:<namespace>:<name>. The API server authorizes every
// request as that user only, so a process using it has exactly the
// permissions RBAC grants the user. For a ServiceAccount the API server adds
// its groups (system:serviceaccounts, ...) itself.
func (c *ControlPlane) WriteImpersonatingKubeconfig(path, user string) error {
	data, err := c.admin.KubeConfig()
	if err != nil {
		return err
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return err
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = user
	}
	if data, err = clientcmd.Write(*cfg); err != nil {
		return err
	}
	return writeFile(path, data)
}

// writeFile writes data readable by the owner only: kubeconfigs hold the
// admin's private key.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}
