package cluster

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// SourceControllerEnv names the environment variable holding the path of
// Flux's source-controller binary; `make test`, `make e2e` and `make demo`
// build it (hack/setup-flux.sh) and set it.
const SourceControllerEnv = "FLUX_SOURCE_CONTROLLER"

// SourceControllerBinary returns the source-controller binary, or an error
// saying how to get it: a test that needs Flux fails without it, it never
// skips.
func SourceControllerBinary() (string, error) {
	path := os.Getenv(SourceControllerEnv)
	if path == "" {
		return "", errors.New(SourceControllerEnv + " is not set: use `make test`, `make e2e` or `make demo`, " +
			"which build Flux's source-controller into bin/flux/<version> and point " + SourceControllerEnv + " at it")
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s=%s: %w (run `make flux`)", SourceControllerEnv, path, err)
	}
	return path, nil
}

// SourceControllerConfig says how to run source-controller.
type SourceControllerConfig struct {
	// Kubeconfig it authenticates with (the cluster admin's is fine: the
	// operator's own RBAC is what the tests check, not Flux's).
	Kubeconfig string
	// Dir holds its artifact storage and its log (source-controller.log).
	// A restart appends to the log, so what the stopped process wrote stays
	// for the tail a failing test prints.
	Dir string
	// Namespace is its RUNTIME_NAMESPACE; it watches every namespace.
	// Default flux-system.
	Namespace string
}

// SourceController is Flux's real source-controller running as its own
// process against the control plane.
type SourceController struct {
	*Process
}

// StartSourceController starts source-controller on loopback ports, with
// its artifact storage in cfg.Dir, and waits until it is ready. Event
// forwarding to notification-controller is off (--events-addr empty); its
// Kubernetes events are recorded as usual.
func StartSourceController(ctx context.Context, cfg SourceControllerConfig) (*SourceController, error) {
	binary, err := SourceControllerBinary()
	if err != nil {
		return nil, err
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "flux-system"
	}
	storage := filepath.Join(cfg.Dir, "source-controller-storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return nil, err
	}
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = FreeLoopbackAddr(); err != nil {
			return nil, err
		}
	}
	storageAddr, metricsAddr, healthAddr := addrs[0], addrs[1], addrs[2]
	args := []string{
		"--storage-path=" + storage,
		"--storage-addr=" + storageAddr,
		"--storage-adv-addr=" + storageAddr,
		"--metrics-addr=" + metricsAddr,
		"--health-addr=" + healthAddr,
		"--events-addr=",
		"--log-level=debug",
	}
	env := append(EnvWithout(os.Environ(), "KUBECONFIG", "RUNTIME_NAMESPACE"),
		"KUBECONFIG="+cfg.Kubeconfig, "RUNTIME_NAMESPACE="+cfg.Namespace)
	logFile := filepath.Join(cfg.Dir, "source-controller.log")
	if err := markRestart(logFile); err != nil {
		return nil, err
	}
	p, err := startProcess("source-controller", binary, args, env, logFile, healthAddr, true)
	if err != nil {
		return nil, err
	}
	sc := &SourceController{Process: p}
	if err := sc.WaitReady(ctx, 2*time.Minute); err != nil {
		_ = sc.Kill()
		return nil, err
	}
	return sc, nil
}

// markRestart appends a line saying a new process starts to a log that
// already has lines, so a tail shows where one process ends.
func markRestart(logFile string) error {
	fi, err := os.Stat(logFile)
	if errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return nil
	} else if err != nil {
		return err
	}
	f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "==> source-controller started again at %s\n", time.Now().Format(time.RFC3339))
	return errors.Join(err, f.Close())
}

// SourceControllerVersion reads the source-controller module version the
// binary was built from.
func SourceControllerVersion(binary string) (string, error) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return "", err
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/fluxcd/source-controller" {
			return dep.Version, nil
		}
	}
	if info.Main.Path == "github.com/fluxcd/source-controller" {
		return info.Main.Version, nil
	}
	return "", fmt.Errorf("%s was not built from github.com/fluxcd/source-controller", binary)
}
