// Package envtest starts a real kube-apiserver and etcd for tests, with the
// operator's CRDs installed. The binaries come from KUBEBUILDER_ASSETS, which
// `make test` points at the control plane it builds from the module proxy.
package envtest

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot is the repository's root folder, found from this file's path so
// tests work from any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start starts a control plane with the CRDs in config/crd/bases and any
// extra CRD folders (paths relative to the repository root) installed, and
// ClusterTrustBundles served. It fails, rather than skipping, when the
// binaries are not there: a test that cannot run must not pass.
func Start(extraCRDDirs ...string) (*envtest.Environment, *rest.Config, error) {
	return StartWith(Options{CRDDirs: extraCRDDirs})
}

// Options tune StartWith.
type Options struct {
	// CRDDirs are CRD folders to install besides config/crd/bases, relative
	// to the repository root.
	CRDDirs []string
	// WithoutClusterTrustBundles starts an API server that serves no
	// ClusterTrustBundle API, as Kubernetes 1.33 to 1.36 do by default.
	WithoutClusterTrustBundles bool
	// CertDir, when set, holds kube-apiserver's certificates and keys and
	// outlives it, so RestartAPIServer can restart it with the same address
	// and identity (every rest.Config handed out keeps working).
	CertDir string
}

// The timeouts for control planes on this machine. envtest's defaults (20 s
// to start each of etcd and kube-apiserver, 10 s for CRDs to be served) are
// too short for a cold start on two cores shared with another test package.
const (
	StartTimeout      = time.Minute
	StopTimeout       = 30 * time.Second
	CRDInstallTimeout = time.Minute
)

// StartWith starts a control plane as Start does, tuned by o.
func StartWith(o Options) (*envtest.Environment, *rest.Config, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, nil, errors.New("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds kube-apiserver and etcd into bin/k8s")
	}
	dirs := []string{filepath.Join(RepoRoot(), "config", "crd", "bases")}
	for _, d := range o.CRDDirs {
		dirs = append(dirs, filepath.Join(RepoRoot(), d))
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:        dirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: StartTimeout,
		ControlPlaneStopTimeout:  StopTimeout,
		CRDInstallOptions:        envtest.CRDInstallOptions{MaxTime: CRDInstallTimeout},
	}
	api := env.ControlPlane.GetAPIServer()
	if !o.WithoutClusterTrustBundles {
		ServeClusterTrustBundles(api)
	}
	if o.CertDir != "" {
		api.CertDir = o.CertDir
		// On SIGTERM, drain requests and close watches at once instead of
		// waiting out their timeout, as in a rolling restart.
		api.Configure().Set("shutdown-send-retry-after", "true")
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, err
	}
	return env, cfg, nil
}

// ServeClusterTrustBundles makes api serve ClusterTrustBundles
// (certificates.k8s.io/v1beta1), which Kubernetes 1.33 to 1.36 serve only
// with the ClusterTrustBundle feature gate on and the API version enabled.
// The flags are appended, so flags set elsewhere are kept.
func ServeClusterTrustBundles(api *envtest.APIServer) {
	args := api.Configure()
	args.Append("feature-gates", "ClusterTrustBundle=true")
	args.Append("runtime-config", "certificates.k8s.io/v1beta1=true")
}

// RestartAPIServer stops kube-apiserver, lets configure change its flags,
// and starts it again, with etcd (and every object) kept. The plane must
// have been started with Options.CertDir.
func RestartAPIServer(env *envtest.Environment, configure func(*envtest.APIServer)) error {
	api := env.ControlPlane.GetAPIServer()
	if err := api.Stop(); err != nil {
		return err
	}
	if configure != nil {
		configure(api)
	}
	return api.Start()
}
