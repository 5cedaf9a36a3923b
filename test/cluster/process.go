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

// Process is a binary this package runs as its own process (bin/manager,
// Flux's source-controller), with its output in a log file and an HTTP
// health endpoint.
type Process struct {
	name     string
	cmd      *exec.Cmd
	logFile  string
	probeURL string
	done     chan struct{} // closed when the process has exited
}

// startProcess starts binary with args and env, its output going to
// logFile (truncated first, unless appendLog), in its own process group so
// that a Ctrl-C in the terminal reaches only our caller, which then stops it
// in order.
func startProcess(name, binary string, args, env []string, logFile, probeAddr string, appendLog bool) (*Process, error) {
	mode := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendLog {
		mode = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	log, err := os.OpenFile(logFile, mode, 0o644)
	if err != nil {
		return nil, err
	}
	// The child writes to the file directly; our copy can go once it started.
	defer log.Close()
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = env
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	p := &Process{name: name, cmd: cmd, logFile: logFile, probeURL: "http://" + probeAddr, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the outcome is read from cmd.ProcessState
		close(p.done)
	}()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogFile is where the process's output goes.
func (p *Process) LogFile() string { return p.logFile }

// ProbeURL is the base URL of /healthz and /readyz.
func (p *Process) ProbeURL() string { return p.probeURL }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the exit code once Done is closed; -1 if a signal ended it.
func (p *Process) ExitCode() int { return p.cmd.ProcessState.ExitCode() }

// Probe returns the HTTP status of GET <ProbeURL>/<path>.
func (p *Process) Probe(ctx context.Context, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.probeURL+"/"+path, nil)
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
// of the log, if the process exits first (a bad flag, a port in use, a
// missing permission at start-up).
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if code, err := p.Probe(ctx, "readyz"); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%s) before it was ready; its log ends with:\n%s", p.name, p.cmd.ProcessState, p.LogTail(20))
		case <-ctx.Done():
			return fmt.Errorf("%s was not ready within %s: %w; its log ends with:\n%s", p.name, timeout, ctx.Err(), p.LogTail(20))
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// returns its exit code. A process that does not stop in time is killed and
// reported as an error: a clean shutdown is part of what is tested.
func (p *Process) Stop(timeout time.Duration) (int, error) {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return -1, err
	}
	select {
	case <-p.done:
		return p.ExitCode(), nil
	case <-time.After(timeout):
		_ = p.Kill()
		return -1, fmt.Errorf("%s did not exit within %s of SIGTERM and was killed", p.name, timeout)
	}
}

// Kill sends SIGKILL, as the kubelet does when a pod is evicted without
// grace or the node dies, and waits for the process to be gone.
func (p *Process) Kill() error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.done
	return nil
}

// LogTail returns the last n lines of the process's log.
func (p *Process) LogTail(n int) string { return p.LogTailSince(0, n) }

// LogSize is the current size of the process's log, a mark for
// LogTailSince; 0 if it cannot be read.
func (p *Process) LogSize() int64 {
	fi, err := os.Stat(p.logFile)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LogTailSince returns the last n lines the log gained after mark (a
// LogSize), so a process shared by many tests shows only what it logged
// during one. A log shorter than mark (rewritten since) is shown whole.
func (p *Process) LogTailSince(mark int64, n int) string {
	data, err := os.ReadFile(p.logFile)
	if err != nil {
		return err.Error()
	}
	if mark <= int64(len(data)) {
		data = data[mark:]
	}
	if len(data) == 0 {
		return "(nothing)"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// FreeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago. Another process may take it before the child binds it; the
// child then exits with "address already in use", which WaitReady reports.
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
