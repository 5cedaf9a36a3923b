package cluster

import (
	"fmt"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// InstallCRDs creates the CRDs found in dirs (relative to the repository
// root) and waits until the API server serves them. A missing directory is
// an error: a CRD that silently is not installed would make the manager
// fail later, far from the cause.
func (c *ControlPlane) InstallCRDs(dirs ...string) error {
	paths := make([]string, len(dirs))
	for i, d := range dirs {
		paths[i] = filepath.Join(testenv.RepoRoot(), d)
	}
	_, err := envtest.InstallCRDs(c.Admin(), envtest.CRDInstallOptions{
		Paths:              paths,
		ErrorIfPathMissing: true,
		// Discovery can lag on a loaded machine; envtest's default is 10 s.
		MaxTime: testenv.CRDInstallTimeout,
	})
	if err != nil {
		return fmt.Errorf("installing CRDs from %v: %w", dirs, err)
	}
	return nil
}
