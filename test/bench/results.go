package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	benvtest "github.com/flux-notation/verification-operator/test/envtest"
)

// results collects every figure of a run and renders the report.
type results struct {
	opts  *options
	start time.Time
	took  time.Duration

	env    [][2]string
	loadAt [2]string

	sizes []*sizeResult

	idleFrom map[string]time.Time
	idle     map[string]writeCount
	// idleReconciles counts reconciles per controller during (most of)
	// the idle window: proof that idling was not doing nothing.
	idleReconciles map[string]map[string]int
	mem            map[string][2]memory

	unrelatedTook time.Duration
	verify        []verifyRun
	phases        []*phaseTime

	namespacesTook time.Duration
	// heap are the top entries of the manager's heap profiles.
	heap []heapTop
	// large holds the large profile's figures (large.go).
	large largeResults
}

type sizeResult struct {
	n        int
	conv     map[string][]measurement
	rot      map[string][]measurement
	tmCapped bool
	// mem is each system's RSS at the end of each run (after its
	// rotation; for a capped run, when the cap ended it).
	mem map[string][]memory
}

type phaseTime struct {
	name       string
	start, end time.Time
	p0, p1     pressure
}

func newResults(o *options) *results {
	return &results{
		opts: o, start: time.Now(),
		idleFrom: map[string]time.Time{}, idle: map[string]writeCount{}, idleReconciles: map[string]map[string]int{}, mem: map[string][2]memory{},
		loadAt: [2]string{loadAverage(), ""},
	}
}

// phaseHandle ends a phase.
type phaseHandle struct{ p *phaseTime }

func (h phaseHandle) end() { h.p.end, h.p.p1 = time.Now(), readPressure() }

func (r *results) phase(name string) phaseHandle {
	p := &phaseTime{name: name, start: time.Now(), p0: readPressure()}
	r.phases = append(r.phases, p)
	return phaseHandle{p}
}

func (r *results) finish() {
	r.took = time.Since(r.start)
	r.loadAt[1] = loadAverage()
}

func (r *results) size(n int) *sizeResult {
	for _, s := range r.sizes {
		if s.n == n {
			return s
		}
	}
	s := &sizeResult{n: n, conv: map[string][]measurement{}, rot: map[string][]measurement{}, mem: map[string][]memory{}}
	r.sizes = append(r.sizes, s)
	slices.SortFunc(r.sizes, func(a, b *sizeResult) int { return a.n - b.n })
	return s
}

func (s *sizeResult) add(system, kind string, m measurement) {
	if kind == "conv" {
		s.conv[system] = append(s.conv[system], m)
	} else {
		s.rot[system] = append(s.rot[system], m)
	}
}

// describeEnvironment records the machine and the versions.
func (r *results) describeEnvironment(ctx context.Context, c *cluster) error {
	cpu := fmt.Sprintf("%d cores", runtime.NumCPU())
	if model := firstLineWith("/proc/cpuinfo", "model name"); model != "" {
		_, m, _ := strings.Cut(model, ":")
		cpu += " (" + strings.TrimSpace(m) + ")"
	}
	memTotal := firstLineWith("/proc/meminfo", "MemTotal")
	if _, v, ok := strings.Cut(memTotal, ":"); ok {
		var kb int64
		_, _ = fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
		memTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	kubeVersion := "unknown"
	if v, err := c.kube.Discovery().ServerVersion(); err == nil {
		kubeVersion = v.GitVersion
	}
	etcdVersion := "unknown"
	if out, err := exec.CommandContext(ctx, filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "etcd"), "--version").Output(); err == nil {
		if line := strings.SplitN(string(out), "\n", 2)[0]; line != "" {
			etcdVersion = strings.TrimSpace(strings.TrimPrefix(line, "etcd Version:"))
		}
	}
	managerVersion := "unknown"
	if out, err := exec.CommandContext(ctx, r.opts.manager, "--version").Output(); err == nil {
		managerVersion = strings.TrimSpace(string(out))
	}
	tree := "unknown"
	if out, err := exec.CommandContext(ctx, "git", "-C", benvtest.RepoRoot(), "rev-parse", "--short", "HEAD").Output(); err == nil {
		tree = strings.TrimSpace(string(out))
		if out, err := exec.CommandContext(ctx, "git", "-C", benvtest.RepoRoot(), "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			tree += " with uncommitted changes"
		}
	}
	r.env = [][2]string{
		{"Date", r.start.UTC().Format("2006-01-02 15:04 MST")},
		{"CPU", cpu},
		{"Memory", memTotal},
		{"OS", runtime.GOOS + "/" + runtime.GOARCH},
		{"Go", runtime.Version()},
		{"Control plane", fmt.Sprintf("kube-apiserver %s, etcd %s (envtest binaries on loopback; audit log of the measured users' writes on; etcd data %s)", kubeVersion, etcdVersion, map[bool]string{true: "on tmpfs", false: "on disk"}[c.etcdDir != ""])},
		{"verification-operator", fmt.Sprintf("%s, tree %s", managerVersion, tree)},
		{"trust-manager", r.opts.tmVersion + " (built from the module proxy by hack/bench/build-trust-manager.sh)"},
	}
	return nil
}

func firstLineWith(path, prefix string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), prefix) {
			return s.Text()
		}
	}
	return ""
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// ---- statistics ----

func median(ms []measurement) (measurement, bool) {
	if len(ms) == 0 {
		return measurement{}, false
	}
	s := slices.Clone(ms)
	slices.SortFunc(s, func(a, b measurement) int { return int(a.projected() - b.projected()) })
	return s[len(s)/2], true
}

func secs(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

func cell(ms []measurement) string {
	m, ok := median(ms)
	if !ok {
		return "–"
	}
	if !m.complete {
		return fmt.Sprintf("≈%s projected (%d/%d in %s)", secs(m.projected()), m.matched, m.n, secs(m.d))
	}
	if len(ms) == 1 {
		return secs(m.d) + " (1 run)"
	}
	lo, hi := ms[0].d, ms[0].d
	for _, x := range ms {
		lo, hi = min(lo, x.d), max(hi, x.d)
	}
	return fmt.Sprintf("%s (%d runs, %s–%s)", secs(m.d), len(ms), secs(lo), secs(hi))
}

func ratio(a, b []measurement) (float64, bool) {
	ma, ok1 := median(a)
	mb, ok2 := median(b)
	if !ok1 || !ok2 || mb.projected() == 0 {
		return 0, false
	}
	return float64(ma.projected()) / float64(mb.projected()), true
}

func ratioCell(a, b []measurement) string {
	r, ok := ratio(a, b)
	if !ok {
		return "–"
	}
	mb, _ := median(b)
	approx := ""
	if !mb.complete {
		approx = "≈"
	}
	if r < 0.5 {
		return fmt.Sprintf("%s%.3fx (%s%.0fx faster)", approx, r, approx, 1/r)
	}
	return fmt.Sprintf("%s%.2fx", approx, r)
}

func writesCell(ms []measurement) string {
	m, ok := median(ms)
	if !ok || !m.complete {
		return "–"
	}
	return fmt.Sprintf("first after %s; %s", secs(m.reaction), m.writes)
}

func stallCell(ms []measurement) string {
	var cpu, io []float64
	for _, m := range ms {
		if m.stall.available {
			cpu, io = append(cpu, m.stall.cpu), append(io, m.stall.io)
		}
	}
	if len(cpu) == 0 {
		return "–"
	}
	slices.Sort(cpu)
	slices.Sort(io)
	if len(cpu) == 1 {
		return fmt.Sprintf("CPU %.0f%%, I/O %.0f%%", cpu[0], io[0])
	}
	return fmt.Sprintf("CPU %.0f%% (%.0f–%.0f), I/O %.0f%% (%.0f–%.0f)", cpu[len(cpu)/2], cpu[0], cpu[len(cpu)-1], io[len(io)/2], io[0], io[len(io)-1])
}

// ---- report ----

// header writes the title and the environment table.
func (r *results) header(b *strings.Builder, title, command string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("# %s", title)
	p("")
	p("Written by `%s` (`go run ./test/bench`); every figure below comes from the run described here. ", command)
	p("The harness took %s (load average %s at the start, %s at the end: the 2 cores are shared).", r.took.Round(time.Second), r.loadAt[0], r.loadAt[1])
	p("")
	p("| | |")
	p("| --- | --- |")
	for _, kv := range r.env {
		p("| %s | %s |", kv[0], kv[1])
	}
	if len(r.opts.managerEnv) > 0 {
		p("| Manager environment | `%s` (-manager-env) |", strings.Join(r.opts.managerEnv, " "))
	}
}

// phasesTable writes how long each phase took.
func (r *results) phasesTable(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("## Phases")
	p("")
	p("| phase | took | CPU stall | I/O stall |")
	p("| --- | --- | --- | --- |")
	for _, ph := range r.phases {
		st := ph.p0.until(ph.p1)
		p("| %s | %s | %.0f%% | %.0f%% |", ph.name, ph.end.Sub(ph.start).Round(time.Second), st.cpu, st.io)
	}
	p("")
}

func (r *results) markdown() string {
	o := r.opts
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	r.header(&b, "Benchmark results", "make bench")
	p("| Client settings | operator and plain client: %g requests/s, burst %d (`--kube-api-qps`/`--kube-api-burst` defaults), %d parallel writes (`--write-concurrency`); trust-manager: client-go's defaults (5 requests/s, burst 10), which it has no flag to change |", 50.0, 300, 16)
	p("")

	p("## 1. Convergence: policy created → all N Secrets present with the right content")
	p("")
	r.timeTable(&b, func(s *sizeResult) map[string][]measurement { return s.conv })
	p("## 2. Rotation: certificate changed → all N Secrets carry the new one only")
	p("")
	r.timeTable(&b, func(s *sizeResult) map[string][]measurement { return s.rot })

	p("API writes the API server recorded during each median run (audit log, per user), and when the first Secret write arrived:")
	p("")
	p("| N | | plain client (limit) | verification-operator | trust-manager |")
	p("| --- | --- | --- | --- | --- |")
	for _, s := range r.sizes {
		p("| %d | convergence | %s | %s | %s |", s.n, writesCell(s.conv["limit"]), writesCell(s.conv["ours"]), writesCell(s.conv["tm"]))
		p("| %d | rotation | %s | %s | %s |", s.n, writesCell(s.rot["limit"]), writesCell(s.rot["ours"]), writesCell(s.rot["tm"]))
	}
	p("")

	p("How contended the machine was during the timed runs (pressure stall information: the share of wall time some task waited for a CPU, and for I/O; the benchmark's own API server, etcd and controllers count too), median and range over the runs:")
	p("")
	p("| N | | plain client (limit) | verification-operator | trust-manager |")
	p("| --- | --- | --- | --- | --- |")
	for _, s := range r.sizes {
		p("| %d | convergence | %s | %s | %s |", s.n, stallCell(s.conv["limit"]), stallCell(s.conv["ours"]), stallCell(s.conv["tm"]))
		p("| %d | rotation | %s | %s | %s |", s.n, stallCell(s.rot["limit"]), stallCell(s.rot["ours"]), stallCell(s.rot["tm"]))
	}
	p("")

	r.unthrottledTable(&b)

	p("## 3. Steady state: API writes while idle, N = %d, %s window", o.steadyN, o.idle)
	p("")
	p("| system | API writes | reconciles in the window | note |")
	p("| --- | --- | --- | --- |")
	p("| verification-operator | %s | %s | policy `spec.interval: %s` (and `ociRepositories.interval`): a full resync every %s |", r.idleCell("ours"), countsCell(r.idleReconciles["ours"]), o.resyncInterval, o.resyncInterval)
	p("| trust-manager %s | %s | %s | no periodic resync of its own (controller-runtime's default 10 h cache resync) |", o.tmVersion, r.idleCell("tm"), countsCell(r.idleReconciles["tm"]))
	p("| plain client (limit) | 0 | – | does nothing when nothing changes, by construction |")
	p("")

	p("## 4. Memory: peak RSS (VmHWM), N = %d target namespaces of %d", o.steadyN, slices.Max(o.sizes))
	p("")
	p("| system | peak RSS | after +%d unrelated %d-byte Secrets | growth |", o.unrelated, o.unrelatedSize)
	p("| --- | --- | --- | --- |")
	for _, k := range []string{"ours", "tm"} {
		m, ok := r.mem[k]
		if !ok {
			continue
		}
		p("| %s | %s | %s | %+.1f%% |", title(k, o), mib(m[0].peak), mib(m[1].peak), growth(m))
	}
	p("")
	if r.unrelatedTook > 0 {
		p("The %d unrelated Secrets (%.0f MiB of data) were created across all %d namespaces in %s.", o.unrelated,
			float64(o.unrelated*o.unrelatedSize)/(1<<20), slices.Max(o.sizes), r.unrelatedTook.Round(time.Second))
		p("")
	}
	r.peakPerN(&b)
	for _, h := range r.heap {
		h.markdown(&b)
	}

	if len(r.verify) > 0 {
		v0 := r.verify[0]
		p("## 5. Verification: M = %d signed artifacts after a rotation", v0.m)
		p("")
		p("One in-process registry (test/registry) behind a proxy that adds a fixed latency to every request (0 = loopback). ")
		p("Sequential: notation-go directly, one artifact after the other, as Flux does per OCIRepository. ")
		p("VerifyAll: controllers/verify with the manager's defaults (%d at once, %d per registry host). ", v0.concurrency, v0.perRegistry)
		p("Cached: the same VerifyAll again with unchanged trust.")
		p("")
		head := fmt.Sprintf("| registry latency | sequential | VerifyAll (%d/%d) | speedup |", v0.concurrency, v0.perRegistry)
		sep := "| --- | --- | --- | --- |"
		for _, a := range v0.alts {
			head += fmt.Sprintf(" per-registry %d | speedup |", a.perRegistry)
			sep += " --- | --- |"
		}
		p("%s cached pass | registry requests in cached pass |", head)
		p("%s --- | --- |", sep)
		for _, v := range r.verify {
			row := fmt.Sprintf("| %s | %s (%d requests) | %s (%d requests) | %.1fx |", v.latency, secs(v.seq), v.seqRequests, secs(v.par), v.parRequests, float64(v.seq)/float64(v.par))
			for _, a := range v.alts {
				row += fmt.Sprintf(" %s | %.1fx |", secs(a.d), float64(v.seq)/float64(a.d))
			}
			p("%s %s | %d |", row, v.cached.Round(time.Microsecond), v.cachedRequests)
		}
		p("")
	}

	p("## Targets")
	p("")
	p("| target | measured | met |")
	p("| --- | --- | --- |")
	for _, t := range r.targets() {
		p("| %s | %s | %s |", t[0], t[1], t[2])
	}
	p("")

	r.phasesTable(&b)

	p("## How to read this")
	p("")
	for _, n := range r.notes() {
		p("- %s", n)
	}
	return b.String()
}

// peakPerN puts both controllers' peak RSS side by side at every N where
// both ran: the highest VmHWM at the end of any of its runs there (each run
// is a fresh process).
func (r *results) peakPerN(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("Peak RSS (VmHWM) at the end of each run, by N (every run starts a fresh process; the highest of the runs, and how many):")
	p("")
	p("| N | verification-operator | trust-manager %s | operator / trust-manager |", r.opts.tmVersion)
	p("| --- | --- | --- | --- |")
	for _, s := range r.sizes {
		ours, ok1 := peakOf(s.mem["ours"])
		tm, ok2 := peakOf(s.mem["tm"])
		if !ok1 && !ok2 {
			continue
		}
		tmCell := "not measured: trust-manager did not run at this N"
		if ok2 {
			tmCell = fmt.Sprintf("%s (%d run(s))", mib(tm), len(s.mem["tm"]))
			if s.tmCapped {
				tmCell += fmt.Sprintf(", capped at %s: %d of %d namespaces written", r.opts.tmCap, cappedMatched(s), s.n)
			}
		}
		oursCell := "not measured: the operator did not run at this N"
		if ok1 {
			oursCell = fmt.Sprintf("%s (%d run(s))", mib(ours), len(s.mem["ours"]))
		}
		ratioCell := "–"
		if ok1 && ok2 && tm > 0 {
			ratioCell = fmt.Sprintf("%.2fx", float64(ours)/float64(tm))
		}
		p("| %d | %s | %s | %s |", s.n, oursCell, tmCell, ratioCell)
	}
	p("")
}

func peakOf(ms []memory) (int64, bool) {
	if len(ms) == 0 {
		return 0, false
	}
	peak := int64(0)
	for _, m := range ms {
		peak = max(peak, m.peak)
	}
	return peak, true
}

func cappedMatched(s *sizeResult) int {
	m, _ := median(s.conv["tm"])
	return m.matched
}

// unthrottledTable shows, at -unthrottled-n, what the API server itself
// allows: the plain client without a client-side limit, and the operator
// with its limits raised to match.
func (r *results) unthrottledTable(b *strings.Builder) {
	n := r.opts.unthrottledN
	var s *sizeResult
	for _, x := range r.sizes {
		if x.n == n {
			s = x
		}
	}
	if s == nil || len(s.conv["limit-fast"])+len(s.conv["ours-fast"]) == 0 {
		return
	}
	f := r.opts.fast
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("### The API server's own limit, N = %d", n)
	p("")
	p("Beside the operator's client settings (%g requests/s, burst %d, %d parallel writes): the plain client with client-go's rate limiter off and %d parallel writes, and the operator with `--kube-api-qps %g --kube-api-burst %d --write-concurrency %d`.", 50.0, 300, 16, f.writeConcurrency, f.qps, f.burst, f.writeConcurrency)
	p("")
	p("| | plain client, operator's settings | operator, defaults | plain client, unthrottled | operator, raised | raised operator / unthrottled client |")
	p("| --- | --- | --- | --- | --- | --- |")
	for _, k := range []struct {
		name string
		m    map[string][]measurement
	}{{"convergence", s.conv}, {"rotation", s.rot}} {
		p("| %s | %s | %s | %s | %s | %s |", k.name, cell(k.m["limit"]), cell(k.m["ours"]), cell(k.m["limit-fast"]), cell(k.m["ours-fast"]), ratioCell(k.m["ours-fast"], k.m["limit-fast"]))
	}
	p("")
	p("API writes of the median runs: unthrottled client %s; raised operator %s (convergence).", writesCell(s.conv["limit-fast"]), writesCell(s.conv["ours-fast"]))
	p("")
}

func (r *results) timeTable(b *strings.Builder, pick func(*sizeResult) map[string][]measurement) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("| N | plain client (limit) | verification-operator | trust-manager %s | ours / limit | ours / trust-manager |", r.opts.tmVersion)
	p("| --- | --- | --- | --- | --- | --- |")
	for _, s := range r.sizes {
		m := pick(s)
		tm := cell(m["tm"])
		if len(m["tm"]) == 0 && s.tmCapped {
			tm = "not run: the same one-write-per-namespace work as its convergence"
		}
		p("| %d | %s | %s | %s | %s | %s |", s.n, cell(m["limit"]), cell(m["ours"]), tm, ratioCell(m["ours"], m["limit"]), ratioCell(m["ours"], m["tm"]))
	}
	p("")
}

func (r *results) idleCell(k string) string {
	wc, ok := r.idle[k]
	if !ok {
		return "–"
	}
	return wc.String()
}

func countsCell(m map[string]int) string {
	if m == nil {
		return "–"
	}
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}

func title(k string, o *options) string {
	switch k {
	case "ours":
		return "verification-operator"
	case "tm":
		return "trust-manager " + o.tmVersion
	}
	return "plain client (limit)"
}

func growth(m [2]memory) float64 {
	if m[0].peak == 0 {
		return 0
	}
	return 100 * float64(m[1].peak-m[0].peak) / float64(m[0].peak)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// targets evaluates the targets at N = steadyN (1000).
func (r *results) targets() [][3]string {
	var out [][3]string
	n := r.opts.steadyN
	var s *sizeResult
	for _, x := range r.sizes {
		if x.n == n {
			s = x
		}
	}
	if s != nil {
		for _, k := range []struct {
			name string
			m    map[string][]measurement
		}{{"convergence", s.conv}, {"rotation", s.rot}} {
			if rl, ok := ratio(k.m["ours"], k.m["limit"]); ok {
				out = append(out, [3]string{fmt.Sprintf("%s within 1.5x of the plain-client limit, N=%d", k.name, n), fmt.Sprintf("%.2fx", rl), yesNo(rl <= 1.5)})
			}
			if rt, ok := ratio(k.m["ours"], k.m["tm"]); ok {
				out = append(out, [3]string{fmt.Sprintf("%s faster than trust-manager, N=%d", k.name, n), fmt.Sprintf("%.2fx trust-manager's time", rt), yesNo(rt < 1)})
			}
		}
	}
	if wc, ok := r.idle["ours"]; ok {
		out = append(out, [3]string{fmt.Sprintf("zero steady-state writes, N=%d, %s", n, r.opts.idle), wc.String(), yesNo(wc.total == 0)})
	}
	if m, ok := r.mem["ours"]; ok {
		g := growth(m)
		out = append(out, [3]string{fmt.Sprintf("peak RSS growth < 10%% from %d unrelated Secrets", r.opts.unrelated), fmt.Sprintf("%+.1f%% (%s → %s)", g, mib(m[0].peak), mib(m[1].peak)), yesNo(g < 10)})
	}
	for _, v := range r.verify {
		sp := float64(v.seq) / float64(v.par)
		alts := ""
		for _, a := range v.alts {
			alts += fmt.Sprintf("; %.1fx with per-registry %d", float64(v.seq)/float64(a.d), a.perRegistry)
		}
		out = append(out, [3]string{fmt.Sprintf("verification ≥ 4x faster than sequential, M=%d, registry latency %s", v.m, v.latency),
			fmt.Sprintf("%.1fx with the defaults (%d/%d)%s", sp, v.concurrency, v.perRegistry, alts), yesNo(sp >= 4)})
		out = append(out, [3]string{fmt.Sprintf("no registry request from the cache, latency %s", v.latency), fmt.Sprintf("%d requests, %d/%d cache hits", v.cachedRequests, v.cachedHits, v.m), yesNo(v.cachedRequests == 0)})
	}
	out = append(out, [3]string{"`make bench` under 30 minutes", fmt.Sprintf("harness %s (plus builds, see README)", r.took.Round(time.Second)), yesNo(r.took < 30*time.Minute)})
	return out
}

// notes explain the figures; they are generated so they stay true to the run.
func (r *results) notes() []string {
	o := r.opts
	notes := []string{
		"Each system runs alone against the same API server (except where the idle windows overlap, below), is started fresh for every run, and is warmed up first with a one-namespace object that is then removed, so no figure includes cache sync or client start-up. Times run from the create/patch request to the moment the harness's own watch sees the last namespace's Secret with the expected certificate (and, after a rotation, without the old one).",
		fmt.Sprintf("The plain client is the floor for any controller with the operator's client settings: it only creates (then updates) N Secrets, %d at a time, through a %g requests/s token bucket with a burst of %d. Up to the burst it is bound by the API server's write latency, above it by the token bucket: (N − %d) / %g s.", 16, 50.0, 300, 300, 50.0),
		"trust-manager writes one target at a time with one server-side-apply request each, through client-go's default rate limit (5 requests/s, burst 10; it sets no QPS of its own and has no flag for it), so its time is about N / 5 s whatever the machine. Its Secret holds only the certificate (key `ca.crt`); Flux's Notation verification also needs `trustpolicy.json`, which the operator renders into the same Secret.",
		fmt.Sprintf("Steady state: each idle window starts %s after that controller's last rotation converged. To fit the time budget the windows overlap other phases that change nothing the idle controller selects (other Secret names and labels, no namespace or policy changes): the operator's window runs while trust-manager converges and rotates at N=%d; trust-manager's holds the memory phase, the operator and the plain client at larger N, and the verification benchmark. The larger-N runs therefore happen with the unrelated Secrets in the cluster and an idle trust-manager alongside.", o.settle, o.steadyN),
		"Memory: VmHWM is the process's peak resident set since it started, read from /proc; the first figure is after the N-namespace convergence and rotation, the second after the unrelated Secrets were created and 30 s had passed. The operator caches only Secrets labelled `app.kubernetes.io/managed-by: verification-operator`; trust-manager's target cache is filtered on its `trust.cert-manager.io/bundle` label likewise.",
		"Verification: every artifact lives in its own repository of one registry host, signed by a leaf under the rotated-to root; the trust data is new to the verifier, so the first VerifyAll pass verifies everything and the second is served from the cache keyed by (repository, digest, trust digest). On loopback the work is CPU-bound (the registry runs in the same process on the same 2 cores), so parallelism cannot give more than the core count; with registry latency it is latency-bound, and the per-registry limit bounds the speedup.",
	}
	for _, s := range r.sizes {
		if s.tmCapped {
			notes = append(notes, fmt.Sprintf("trust-manager at N=%d was observed for %s only and its time projected from the namespaces it had written by then (its rate is fixed by the client-side limit); its rotation is the same one-apply-per-namespace work and was not run.", s.n, o.tmCap))
		}
		if runs := o.runs[s.n]; runs < 3 {
			notes = append(notes, fmt.Sprintf("N=%d: %d run(s) of the plain client and the operator, to keep `make bench` under 30 minutes.", s.n, runs))
		}
		if t := o.tmRuns[s.n]; t > 0 && t < 3 {
			notes = append(notes, fmt.Sprintf("trust-manager at N=%d: %d full run(s): at 5 requests/s each convergence or rotation takes about %s.", s.n, t, secs(time.Duration(s.n/5)*time.Second)))
		}
	}
	return notes
}
