package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	testcluster "github.com/flux-notation/verification-operator/test/cluster"
)

// process is a controller running as its own OS process, as in a cluster.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// running tracks every process started, so an interrupted run stops them.
var running sync.Map // *process -> struct{}

// startProcess starts binary with the harness's environment (minus the
// kubeconfig and namespace variables) plus env.
func startProcess(name, binary string, args []string, logPath string, env ...string) (*process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child holds its own descriptor
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(testcluster.EnvWithout(os.Environ(), "KUBECONFIG", "POD_NAMESPACE"), env...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	running.Store(p, struct{}{})
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// waitHTTP waits until url answers 200, failing early if the process exits.
func (p *process) waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	return p.waitHTTPEvery(ctx, url, timeout, 100*time.Millisecond)
}

// waitHTTPEvery is waitHTTP polling every interval.
func (p *process) waitHTTPEvery(ctx context.Context, url string, timeout, interval time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%s); see %s", p.name, p.cmd.ProcessState, p.logPath)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s; see %s", p.name, timeout, p.logPath)
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits, then kills.
func (p *process) stop() {
	defer running.Delete(p)
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func stopAll() {
	running.Range(func(k, _ any) bool {
		k.(*process).stop()
		return true
	})
}

// memory is a process's resident set size: peak (VmHWM) and current
// (VmRSS), in bytes, from /proc/<pid>/status; the current one split into
// anonymous memory (heap, stacks, runtime) and file-backed pages (mostly
// the executable's own code and data).
type memory struct{ peak, current, anon, file int64 }

func (p *process) memory() (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, value, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmHWM":
			dst = &m.peak
		case "VmRSS":
			dst = &m.current
		case "RssAnon":
			dst = &m.anon
		case "RssFile":
			dst = &m.file
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
		if err != nil {
			return memory{}, err
		}
		*dst = kb * 1024
	}
	if m.peak == 0 {
		return memory{}, errors.New("no VmHWM in /proc status")
	}
	return m, s.Err()
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
