package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
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
	cmd      *exec.Cmd
	logFile  string
	probeURL string
	done     chan struct{} // closed when the process has exited
}

// StartManager starts the manager as its own process, in its own process
// group so that a Ctrl-C in the terminal reaches only our caller, which
// then stops the manager in order.
func StartManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.ProbeAddr == "" {
		addr, err := FreeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		cfg.ProbeAddr = addr
	}
	log, err := os.Create(cfg.LogFile)
	if err != nil {
		return nil, err
	}
	// The child writes to the file directly; our copy can go once it started.
	defer log.Close()

	args := append([]string{
		"--kubeconfig=" + cfg.Kubeconfig,
		"--trust-namespace=" + cfg.TrustNamespace,
		"--health-probe-bind-address=" + cfg.ProbeAddr,
		"--metrics-bind-address=0",
		"--log-encoding=console",
	}, cfg.Args...)
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// No inherited KUBECONFIG or POD_NAMESPACE: only the flags above count.
	cmd.Env = EnvWithout(os.Environ(), "KUBECONFIG", "POD_NAMESPACE")
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cfg.Binary, err)
	}
	m := &Manager{cmd: cmd, logFile: cfg.LogFile, probeURL: "http://" + cfg.ProbeAddr, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the outcome is read from cmd.ProcessState
		close(m.done)
	}()
	return m, nil
}

// PID is the manager's process id.
func (m *Manager) PID() int { return m.cmd.Process.Pid }

// LogFile is where the manager's output goes.
func (m *Manager) LogFile() string { return m.logFile }

// ProbeURL is the base URL of /healthz and /readyz.
func (m *Manager) ProbeURL() string { return m.probeURL }

// Done is closed when the process has exited.
func (m *Manager) Done() <-chan struct{} { return m.done }

// ExitCode is the exit code once Done is closed; -1 if a signal ended it.
func (m *Manager) ExitCode() int { return m.cmd.ProcessState.ExitCode() }

// Probe returns the HTTP status of GET <ProbeURL>/<path>.
func (m *Manager) Probe(ctx context.Context, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.probeURL+"/"+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// WaitReady waits until /readyz answers 200. It returns early, with the end
// of the log, if the manager exits first (a bad flag, a port in use, a
// missing permission at start-up).
func (m *Manager) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if code, err := m.Probe(ctx, "readyz"); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-m.done:
			return fmt.Errorf("the manager exited (%s) before it was ready; its log ends with:\n%s", m.cmd.ProcessState, m.LogTail(20))
		case <-ctx.Done():
			return fmt.Errorf("the manager was not ready within %s: %w; its log ends with:\n%s", timeout, ctx.Err(), m.LogTail(20))
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM and waits up to timeout for the manager to exit, then
// returns its exit code. A manager that does not stop in time is killed and
// reported as an error: a clean shutdown is part of what is tested.
func (m *Manager) Stop(timeout time.Duration) (int, error) {
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return -1, err
	}
	select {
	case <-m.done:
		return m.ExitCode(), nil
	case <-time.After(timeout):
		_ = m.Kill()
		return -1, fmt.Errorf("the manager did not exit within %s of SIGTERM and was killed", timeout)
	}
}

// Kill sends SIGKILL, as the kubelet does when a pod is evicted without
// grace or the node dies, and waits for the process to be gone.
func (m *Manager) Kill() error {
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-m.done
	return nil
}

// LogTail returns the last n lines of the manager's log.
func (m *Manager) LogTail(n int) string {
	data, err := os.ReadFile(m.logFile)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// FreeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago. Another process may take it before the manager binds it; the
// manager then exits with "address already in use", which WaitReady reports.
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// EnvWithout returns env without the variables named in drop, so a child
// process does not inherit settings (KUBECONFIG, POD_NAMESPACE) meant for us.
func EnvWithout(env []string, drop ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			keep = keep && name != d
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}
