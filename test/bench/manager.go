package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// managerConfig is how one bin/manager process is started: its API client
// settings and the Secret names it may write (--target-secret-names; the
// manager refuses to write any other name).
type managerConfig struct {
	client      clientSettings
	secretNames []string
}

// manager is one running bin/manager process.
type manager struct {
	proc *process
	// base serves /metrics and /debug/pprof; probe serves /readyz.
	base, probe string
	// startedAt is just before the process was executed, readyAt when its
	// /readyz first answered 200 (polled every readyPoll).
	startedAt, readyAt time.Time
}

// readyPoll is how often /readyz is polled: the resolution of time to Ready.
const readyPoll = 50 * time.Millisecond

func (m *manager) metricsURL() string { return m.base + "/metrics" }

// startManager starts bin/manager as user userOurs with cfg and waits until
// it is ready. It does not warm anything up: callers that time work do.
func (b *bench) startManager(ctx context.Context, cfg managerConfig) (*manager, error) {
	kubeconfig, err := b.cluster.kubeconfig(userOurs)
	if err != nil {
		return nil, err
	}
	probe, err := freePort()
	if err != nil {
		return nil, err
	}
	metrics, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &manager{
		base:  fmt.Sprintf("http://127.0.0.1:%d", metrics),
		probe: fmt.Sprintf("http://127.0.0.1:%d/readyz", probe),
	}
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--trust-namespace=" + trustNamespaceOurs,
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probe),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metrics),
		"--metrics-secure=false",
		"--enable-pprof",
		"--log-encoding=console",
		"--target-secret-names=" + strings.Join(cfg.secretNames, ","),
		fmt.Sprintf("--kube-api-qps=%g", cfg.client.qps),
		fmt.Sprintf("--kube-api-burst=%d", cfg.client.burst),
		fmt.Sprintf("--write-concurrency=%d", cfg.client.writeConcurrency),
		fmt.Sprintf("--concurrency=%d", cfg.client.concurrency),
	}
	b.runs++
	m.startedAt = time.Now()
	p, err := startProcess("bin/manager", b.opts.manager, args, filepath.Join(b.dir, fmt.Sprintf("manager-%02d.log", b.runs)), b.opts.managerEnv...)
	if err != nil {
		return nil, err
	}
	m.proc = p
	// The manager checks its access for every allowed name before it
	// serves anything; with many names that is part of its start-up.
	if err := p.waitHTTPEvery(ctx, m.probe, 3*time.Minute, readyPoll); err != nil {
		p.stop()
		return nil, err
	}
	m.readyAt = time.Now()
	return m, nil
}

// ---- Prometheus metrics ------------------------------------------------

// sample is one line of a Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metricSet is one scrape of a process's metrics.
type metricSet []sample

// scrape reads the Prometheus text exposition at url.
func scrape(ctx context.Context, url string) (metricSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var out metricSet
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", url, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// parseSample parses `name{k="v",...} value [timestamp]`; label values may
// hold escaped quotes, commas and braces (reasons, messages).
func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value in %q", line)
	}
	s.name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, ", ")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return s, fmt.Errorf("bad labels in %q", line)
			}
			key := rest[:eq]
			rest = rest[eq+2:]
			var v strings.Builder
			j := 0
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
					switch rest[j] {
					case 'n':
						v.WriteByte('\n')
					default:
						v.WriteByte(rest[j])
					}
					continue
				}
				v.WriteByte(rest[j])
			}
			if j == len(rest) {
				return s, fmt.Errorf("unterminated label value in %q", line)
			}
			s.labels[key] = v.String()
			rest = rest[j+1:]
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return s, fmt.Errorf("no value in %q", line)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, fmt.Errorf("value of %q: %w", line, err)
	}
	s.value = v
	return s, nil
}

// sum adds the values of the samples called name whose labels include
// every pair of match.
func (ms metricSet) sum(name string, match map[string]string) float64 {
	total := 0.0
	for _, s := range ms {
		if s.name == name && s.matches(match) {
			total += s.value
		}
	}
	return total
}

// has reports whether any sample is called name.
func (ms metricSet) has(name string) bool {
	for _, s := range ms {
		if s.name == name {
			return true
		}
	}
	return false
}

func (s sample) matches(match map[string]string) bool {
	for k, v := range match {
		if s.labels[k] != v {
			return false
		}
	}
	return true
}

// reconcileCounts sums controller-runtime's reconcile counter per
// controller.
func (ms metricSet) reconcileCounts() map[string]int {
	out := map[string]int{}
	for _, s := range ms {
		if s.name == "controller_runtime_reconcile_total" {
			out[s.labels["controller"]] += int(s.value)
		}
	}
	return out
}

// reconciles returns controller-runtime's reconcile counter of every
// controller in a process, from its metrics endpoint.
func reconciles(ctx context.Context, metricsURL string) (map[string]int, error) {
	ms, err := scrape(ctx, metricsURL)
	if err != nil {
		return nil, err
	}
	return ms.reconcileCounts(), nil
}
