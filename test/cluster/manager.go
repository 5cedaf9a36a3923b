package cluster

import (
	"fmt"
	"os"
)

// ManagerConfig says how to run bin/manager.
type ManagerConfig struct {
	// Binary is the manager executable (BuildManager's result).
	Binary string
	// Kubeconfig is passed as --kubeconfig.
	Kubeconfig string
	// TrustNamespace is passed as --trust-namespace.
	TrustNamespace string
	// LogFile receives the manager's stdout and stderr (truncated first).
	LogFile string
	// ProbeAddr is --health-probe-bind-address; empty picks a free
	// loopback port.
	ProbeAddr string
	// Args are extra flags, appended last so they can override the above.
	Args []string
}

// Manager is a running bin/manager process.
type Manager struct {
	*Process
}

// StartManager starts the manager as its own process.
func StartManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.ProbeAddr == "" {
		addr, err := FreeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		cfg.ProbeAddr = addr
	}
	args := append([]string{
		"--kubeconfig=" + cfg.Kubeconfig,
		"--trust-namespace=" + cfg.TrustNamespace,
		"--health-probe-bind-address=" + cfg.ProbeAddr,
		"--metrics-bind-address=0",
		"--log-encoding=console",
	}, cfg.Args...)
	// No inherited KUBECONFIG or POD_NAMESPACE: only the flags above count.
	env := EnvWithout(os.Environ(), "KUBECONFIG", "POD_NAMESPACE")
	p, err := startProcess("the manager", cfg.Binary, args, env, cfg.LogFile, cfg.ProbeAddr)
	if err != nil {
		return nil, fmt.Errorf("the manager: %w", err)
	}
	return &Manager{Process: p}, nil
}
