// Package envtest starts a real kube-apiserver and etcd for tests, with the
// operator's CRDs installed. The binaries come from KUBEBUILDER_ASSETS, which
// `make test` points at the control plane it builds from the module proxy.
package envtest

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"

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
// extra CRD folders (paths relative to the repository root) installed.
// It fails, rather than skipping, when the binaries are not there: a test
// that cannot run must not pass.
func Start(extraCRDDirs ...string) (*envtest.Environment, *rest.Config, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, nil, errors.New("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds kube-apiserver and etcd into bin/k8s")
	}
	dirs := []string{filepath.Join(RepoRoot(), "config", "crd", "bases")}
	for _, d := range extraCRDDirs {
		dirs = append(dirs, filepath.Join(RepoRoot(), d))
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     dirs,
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, err
	}
	return env, cfg, nil
}
