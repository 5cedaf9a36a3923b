// Command bench measures verification-operator at scale, side by side with
// cert-manager's trust-manager and with the API server's own limit, on one
// local control plane (kube-apiserver and etcd from KUBEBUILDER_ASSETS), and
// prints a table (also written to test/bench/RESULTS.md). `make bench` runs
// it; it is not part of `make test`.
//
// What is measured (see README.md in this folder for the method):
//
//  1. Convergence: creating a policy that targets N namespaces until all N
//     Secrets are visible with the right content.
//  2. Rotation: changing the certificate until all N Secrets carry the new
//     one and not the old.
//  3. Steady state: API writes of each controller while idle with N Secrets
//     in place, counted by the API server's audit log per user.
//  4. Memory: peak RSS (VmHWM) of each controller with N namespaces, then
//     after 20,000 unrelated 2 KiB Secrets are added to the cluster.
//  5. Verification: M signed artifacts verified after a rotation with the
//     operator's engine (verify.VerifyAll) versus a sequential notation-go
//     loop, and again from the engine's cache.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/flux-notation/verification-operator/test/certs"
	benvtest "github.com/flux-notation/verification-operator/test/envtest"
)

type options struct {
	manager, trustManager, tmVersion, tmCRDs string
	output, workDir                          string

	sizes   []int
	runs    map[int]int
	tmRuns  map[int]int
	tmCap   time.Duration
	steadyN int

	idle, resyncInterval, settle time.Duration

	unrelated, unrelatedSize int

	artifacts   int
	latencies   []time.Duration
	verifyConc  int
	verifyPerRg int
	verifyAlt   []int
	quick       bool

	// profile is "default" (the comparison with trust-manager and the
	// limit) or "large" (the at-scale scenarios of large.go).
	profile string
	// managerEnv are extra KEY=VALUE environment variables of the
	// manager's processes (-manager-env), to measure a runtime setting.
	managerEnv []string
	// fast are the raised client settings of the unthrottled comparison
	// (and of the large profile's build-up); unthrottledN is its N.
	fast         clientSettings
	unthrottledN int
	large        largeOptions
}

func parseOptions() (*options, error) {
	o := &options{}
	root := benvtest.RepoRoot()
	var sizes, runs, tmRuns, latencies, alts string
	flag.StringVar(&o.manager, "manager", filepath.Join(root, "bin", "manager"), "bin/manager to run (go build -o bin/manager ./cmd)")
	flag.StringVar(&o.trustManager, "trust-manager", filepath.Join(root, "bin", "trust-manager", "0.25.0", "trust-manager"), "trust-manager binary (hack/bench/build-trust-manager.sh)")
	flag.StringVar(&o.tmVersion, "trust-manager-version", "v0.25.0", "trust-manager version, for the report")
	flag.StringVar(&o.tmCRDs, "trust-manager-crds", "", "trust-manager's CRD folder (default: crds next to the binary)")
	flag.StringVar(&o.output, "output", filepath.Join(root, "test", "bench", "RESULTS.md"), "markdown file to write the results to; empty: print only")
	flag.StringVar(&o.workDir, "work-dir", "", "folder for logs, kubeconfigs and the audit log (default: a temporary one, kept)")
	flag.StringVar(&sizes, "sizes", "100,1000,3000", "namespace counts N")
	flag.StringVar(&runs, "runs", "100=3,1000=3,3000=1", "runs per N for the plain client and the operator (median reported)")
	flag.StringVar(&tmRuns, "trust-manager-runs", "100=3,1000=1,3000=0", "full runs per N for trust-manager; 0: one run capped at -trust-manager-cap and projected")
	flag.DurationVar(&o.tmCap, "trust-manager-cap", time.Minute, "how long trust-manager is observed when its run is capped")
	flag.IntVar(&o.steadyN, "steady-n", 1000, "N for the steady-state and memory phases")
	flag.DurationVar(&o.idle, "idle", 5*time.Minute, "idle window over which steady-state writes are counted")
	flag.DurationVar(&o.resyncInterval, "resync", time.Minute, "spec.interval of the policy kept for the idle window (so resyncs happen in it)")
	flag.DurationVar(&o.settle, "settle", 15*time.Second, "pause after a rotation before an idle window starts")
	flag.IntVar(&o.unrelated, "unrelated-secrets", 20000, "unrelated Secrets added for the memory phase")
	flag.IntVar(&o.unrelatedSize, "unrelated-secret-size", 2048, "bytes of data per unrelated Secret")
	flag.IntVar(&o.artifacts, "artifacts", 200, "M: signed artifacts in the verification benchmark")
	flag.StringVar(&latencies, "verify-latency", "0s,20ms", "per-request registry latencies to run the verification benchmark with")
	flag.IntVar(&o.verifyConc, "verify-concurrency", 16, "the manager's --verify-concurrency default")
	flag.IntVar(&o.verifyPerRg, "verify-per-registry", 8, "the manager's --verify-per-registry default")
	flag.StringVar(&alts, "verify-per-registry-alt", "4,16", "other per-registry limits to run VerifyAll with, to show what bounds it")
	flag.BoolVar(&o.quick, "quick", false, "a small run for development: N=100 only, 2 runs, 30 s idle, 2,000 unrelated Secrets, M=50 (with -profile=large: every large size shrunk, see large.go)")
	flag.StringVar(&o.profile, "profile", "default", "default: the comparison with trust-manager and the API server's limit; large: the at-scale scenarios (many policies, restart, shared artifacts, growth)")
	var fastQPS float64
	flag.Float64Var(&fastQPS, "fast-qps", 10000, "--kube-api-qps of the operator in the unthrottled comparison and the large profile's build-up")
	flag.IntVar(&o.fast.burst, "fast-burst", 20000, "--kube-api-burst of the same")
	flag.IntVar(&o.fast.writeConcurrency, "fast-write-concurrency", 64, "--write-concurrency of the same, and the unthrottled plain client's parallel writes")
	flag.IntVar(&o.unthrottledN, "unthrottled-n", 3000, "N of the unthrottled comparison (plain client without rate limit, operator with -fast-* settings); 0: not run")
	var managerEnv string
	flag.StringVar(&managerEnv, "manager-env", "", "extra environment of the manager processes, comma-separated KEY=VALUE (for example GOGC=50), to measure a runtime setting")
	o.large.bindFlags()
	flag.Parse()
	if managerEnv != "" {
		o.managerEnv = strings.Split(managerEnv, ",")
	}
	o.fast.qps, o.fast.concurrency = float32(fastQPS), 4

	if o.profile == "large" {
		if err := o.large.finish(o); err != nil {
			return nil, err
		}
	} else if o.profile != "default" {
		return nil, fmt.Errorf("-profile %q: want default or large", o.profile)
	}
	if o.quick && o.profile == "default" {
		// Small defaults; flags given explicitly still win.
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]string{
			"sizes": "100", "runs": "100=2", "trust-manager-runs": "100=1", "steady-n": "100",
			"idle": "30s", "unrelated-secrets": "2000", "artifacts": "50", "settle": "5s", "unthrottled-n": "100",
		}
		for name, value := range quick {
			if !set[name] {
				if err := flag.Set(name, value); err != nil {
					return nil, err
				}
			}
		}
	}
	var err error
	if o.sizes, err = parseInts(sizes); err != nil {
		return nil, fmt.Errorf("-sizes: %w", err)
	}
	if o.runs, err = parseIntMap(runs); err != nil {
		return nil, fmt.Errorf("-runs: %w", err)
	}
	if o.tmRuns, err = parseIntMap(tmRuns); err != nil {
		return nil, fmt.Errorf("-trust-manager-runs: %w", err)
	}
	if alts != "" {
		if o.verifyAlt, err = parseInts(alts); err != nil {
			return nil, fmt.Errorf("-verify-per-registry-alt: %w", err)
		}
	}
	for _, l := range strings.Split(latencies, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(l))
		if err != nil {
			return nil, fmt.Errorf("-verify-latency: %w", err)
		}
		o.latencies = append(o.latencies, d)
	}
	if !slices.Contains(o.sizes, o.steadyN) {
		return nil, fmt.Errorf("-steady-n %d must be one of -sizes", o.steadyN)
	}
	if o.profile == "default" && o.unthrottledN != 0 && !slices.Contains(o.sizes, o.unthrottledN) {
		return nil, fmt.Errorf("-unthrottled-n %d must be one of -sizes (or 0)", o.unthrottledN)
	}
	if o.tmCRDs == "" {
		o.tmCRDs = filepath.Join(filepath.Dir(o.trustManager), "crds")
	}
	need := []string{o.manager, o.trustManager, o.tmCRDs}
	if o.profile == "large" {
		need = need[:1] // trust-manager is not part of the large profile
	}
	for _, f := range need {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w (run `make bench`, which builds bin/manager and trust-manager first)", err)
		}
	}
	return o, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func parseIntMap(s string) (map[int]int, error) {
	out := map[int]int{}
	for _, f := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return nil, fmt.Errorf("%q is not N=count", f)
		}
		kn, err := strconv.Atoi(k)
		if err != nil {
			return nil, err
		}
		if out[kn], err = strconv.Atoi(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// bench is the state of one benchmark run.
type bench struct {
	opts           *options
	dir            string
	cluster        *cluster
	audit          *auditLog
	client         clientSettings
	certs          [3]*certs.Cert // warm-up, initial, rotated
	webhookCertDir string
	runs           int
	namespaces     []string
	// reconcilesAtStart are the controllers' reconcile counters when their
	// idle windows started.
	mu                sync.Mutex
	reconcilesAtStart map[string]map[string]int
	res               *results
}

func main() {
	o, err := parseOptions()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// controller-runtime's envtest logs through its logger; keep it quiet.
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	err = run(ctx, o)
	stopAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) (retErr error) {
	b := &bench{opts: o, res: newResults(o), reconcilesAtStart: map[string]map[string]int{}}
	b.client = defaultClient
	dir := o.workDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "verification-operator-bench-"); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b.dir = dir
	logf("work folder (logs, kubeconfigs, audit log): %s", dir)
	// Run a private copy of bin/manager: others may rebuild bin/manager
	// while the benchmark restarts the operator for each run.
	managerCopy := filepath.Join(dir, "manager")
	if err := copyFile(o.manager, managerCopy); err != nil {
		return err
	}
	o.manager = managerCopy
	if o.profile == "default" {
		// trust-manager gets the same treatment: how much of an executable
		// becomes resident depends on how much of it the page cache holds
		// (the kernel maps cached neighbours of every page touched), and a
		// file just written is cached whole.
		tmCopy := filepath.Join(dir, "trust-manager")
		if err := copyFile(o.trustManager, tmCopy); err != nil {
			return err
		}
		o.trustManager = tmCopy
	}
	for i, cn := range []string{"bench warm-up root", "bench release root 1", "bench release root 2"} {
		b.certs[i] = certs.NewCA(cn)
	}
	b.webhookCertDir = filepath.Join(dir, "webhook-tls")
	if err := writeWebhookCert(b.webhookCertDir); err != nil {
		return err
	}

	// ---- control plane ----
	phase := b.res.phase("control plane start, namespaces")
	root := benvtest.RepoRoot()
	crds := []string{filepath.Join(root, "config", "crd", "bases"), filepath.Join(root, "test", "crd", "flux")}
	if o.profile == "default" {
		crds = append(crds, o.tmCRDs)
	}
	c, err := startCluster(dir, crds)
	if err != nil {
		return err
	}
	b.cluster = c
	defer func() {
		stopAll()
		if err := c.stop(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	b.audit = &auditLog{path: c.auditPath}
	if err := b.res.describeEnvironment(ctx, c); err != nil {
		return err
	}
	sizes := o.sizes
	if o.profile == "large" {
		sizes = o.large.sizeClasses(o.unthrottledN)
	}
	maxN := slices.Max(sizes)
	nsStart := time.Now()
	if b.namespaces, err = c.createNamespaces(ctx, maxN, sizes, trustNamespaceOurs, trustNamespaceTM); err != nil {
		return err
	}
	b.res.namespacesTook = time.Since(nsStart)
	warm := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: warmupNamespace, Labels: map[string]string{warmupLabel: "true"}}}
	if _, err := c.kube.CoreV1().Namespaces().Create(ctx, warm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	phase.end()
	logf("control plane up, %d namespaces created", maxN)

	if o.profile == "large" {
		if err := b.scheduleLarge(ctx); err != nil {
			return err
		}
	} else {
		limit, ours, tm := b.limitSystem(), b.oursSystem(), b.trustManagerSystem()
		if err := b.schedule(ctx, limit, ours, tm); err != nil {
			return err
		}
	}
	b.res.finish()

	report := b.res.markdown()
	if o.profile == "large" {
		report = b.res.markdownLarge()
	}
	fmt.Println()
	fmt.Println(report)
	if o.output != "" {
		if err := os.WriteFile(o.output, []byte(report), 0o644); err != nil {
			return err
		}
		logf("results written to %s", o.output)
	}
	return nil
}

// schedule runs every phase. The order saves time without mixing
// measurements: sizes below the steady-state N first (all three systems);
// then the steady-state N, where the operator's last run is left running
// and trust-manager (slow, at client-go's default 5 requests/s) converges
// and rotates during the operator's idle window; then, during
// trust-manager's idle window, the memory phase, the larger sizes for the
// operator and the plain client, and the verification benchmark; last,
// trust-manager at the larger sizes.
func (b *bench) schedule(ctx context.Context, limit, ours, tm *system) error {
	o := b.opts
	sizes := slices.Sorted(slices.Values(o.sizes))
	for _, n := range sizes {
		if n < o.steadyN {
			systems := []*system{limit, ours, tm}
			if n == o.unthrottledN {
				systems = append(systems, b.unthrottledSystems()...)
			}
			if err := b.runSize(ctx, n, systems, nil); err != nil {
				return err
			}
		}
	}
	if o.unthrottledN == o.steadyN {
		// Before the steady-state runs, which leave the operator running.
		if err := b.runSize(ctx, o.steadyN, b.unthrottledSystems(), nil); err != nil {
			return err
		}
	}
	if err := b.runSize(ctx, o.steadyN, []*system{limit, ours}, ours); err != nil {
		return err
	}
	if err := b.runSize(ctx, o.steadyN, []*system{tm}, tm); err != nil {
		return err
	}
	if err := b.memory(ctx, ours, tm); err != nil {
		return err
	}
	if err := b.closeIdle(ctx, ours); err != nil {
		return err
	}
	for _, n := range sizes {
		if n > o.steadyN {
			systems := []*system{limit, ours}
			if n == o.unthrottledN {
				systems = append(systems, b.unthrottledSystems()...)
			}
			if err := b.runSize(ctx, n, systems, nil); err != nil {
				return err
			}
		}
	}
	vphase := b.res.phase(fmt.Sprintf("verification benchmark, M=%d", o.artifacts))
	runs, err := benchVerification(ctx, o.artifacts, o.latencies, o.verifyConc, o.verifyPerRg, o.verifyAlt, b.dir, logf)
	vphase.end()
	if err != nil {
		return fmt.Errorf("verification benchmark: %w", err)
	}
	b.res.verify = runs
	if err := b.closeIdle(ctx, tm); err != nil {
		return err
	}
	for _, n := range sizes {
		if n > o.steadyN {
			if err := b.runSize(ctx, n, []*system{tm}, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// runsFor is how many runs s gets at N = n.
func (b *bench) runsFor(s *system, n int) int {
	if s.key == "tm" {
		return max(b.opts.tmRuns[n], 1)
	}
	return max(b.opts.runs[n], 1)
}

// runSize measures convergence and rotation for N = n. A system with fewer
// runs than another takes part in the last ones. keep, if set, is left
// running after its last run, for the steady-state phase.
func (b *bench) runSize(ctx context.Context, n int, systems []*system, keep *system) error {
	nss := b.namespaces[:n]
	sr := b.res.size(n)
	runs := 0
	names := make([]string, len(systems))
	for i, s := range systems {
		runs = max(runs, b.runsFor(s, n))
		names[i] = s.title
		if s.key == "tm" && b.opts.tmRuns[n] == 0 {
			names[i] += fmt.Sprintf(" (capped at %s)", b.opts.tmCap)
		}
	}
	phase := b.res.phase(fmt.Sprintf("N=%d: %s; %d run(s)", n, strings.Join(names, ", "), runs))
	defer phase.end()
	for r := range runs {
		order := slices.Clone(systems)
		if keep == nil {
			// Rotate the order so no system always goes first.
			k := r % len(order)
			order = append(order[k:], order[:k]...)
		}
		for _, s := range order {
			if r < runs-b.runsFor(s, n) {
				continue
			}
			capped := s.key == "tm" && b.opts.tmRuns[n] == 0
			if err := b.runOnce(ctx, s, n, nss, r, s == keep && r == runs-1, capped); err != nil {
				return fmt.Errorf("%s, N=%d, run %d: %w", s.title, n, r+1, err)
			}
			sr.tmCapped = sr.tmCapped || capped
		}
	}
	return nil
}

// runOnce starts s, measures a convergence and a rotation over nss, and
// unless keep stops s and removes what it wrote.
func (b *bench) runOnce(ctx context.Context, s *system, n int, nss []string, run int, keep, capped bool) error {
	if err := s.start(ctx); err != nil {
		return err
	}
	timeout := 15 * time.Minute
	if s.key == "tm" {
		// client-go's default 5 requests/s, one write per namespace.
		timeout = time.Duration(n/5)*time.Second*2 + 2*time.Minute
	}
	if capped {
		timeout = b.opts.tmCap
	}
	if s.key == "ours" && run == 0 && !keep && s.baseURL != "" {
		// A CPU profile of the manager over its convergence at this size,
		// for the analysis (go tool pprof -top <file>). Not of the run kept
		// for the steady state and memory: symbolizing a profile reads the
		// executable's tables, pages that then count in its RSS.
		go fetchTo(ctx, s.baseURL+"/debug/pprof/profile?seconds=10", filepath.Join(b.dir, fmt.Sprintf("manager-convergence-n%d.cpu.pprof", n)))
	}
	conv, err := b.measure(ctx, s, n, nss, b.certs[1], true, timeout, capped)
	if err != nil {
		return err
	}
	b.res.size(n).add(s.key, "conv", conv)
	logf("N=%-5d run %d %-26s convergence %s", n, run+1, s.title, conv)
	if !conv.complete {
		// A capped run: its peak so far is all there is.
		b.recordPeak(s, n)
	}
	if conv.complete {
		// A rotation comes long after a convergence in real life: let the
		// client-side token buckets refill, so the rotation does not pay
		// for the convergence's burst.
		refill := time.Duration(float64(min(n+10, b.client.burst))/float64(b.client.qps)*float64(time.Second)) + 500*time.Millisecond
		if err := sleepCtx(ctx, max(refill, 2500*time.Millisecond)); err != nil {
			return err
		}
		rot, err := b.measure(ctx, s, n, nss, b.certs[2], false, timeout, false)
		if err != nil {
			return err
		}
		b.res.size(n).add(s.key, "rot", rot)
		logf("N=%-5d run %d %-26s rotation    %s", n, run+1, s.title, rot)
		b.recordPeak(s, n)
		if keep {
			b.res.idleFrom[s.key] = rot.doneAt
			// Read the reconcile counter when the idle window starts.
			go func() {
				if sleepUntil(ctx, b.idleWindow(s)) != nil {
					return
				}
				rc, err := reconciles(ctx, s.metricsURL)
				if err != nil {
					logf("reading %s's reconcile count: %v", s.title, err)
					return
				}
				b.mu.Lock()
				b.reconcilesAtStart[s.key] = rc
				b.mu.Unlock()
			}()
			return nil
		}
	}
	s.stop()
	return s.cleanup(ctx, n, nss)
}

// recordPeak keeps s's peak RSS after a run at N = n (convergence and
// rotation done), for the per-N memory table.
func (b *bench) recordPeak(s *system, n int) {
	if s.proc == nil {
		return
	}
	m, err := s.proc.memory()
	if err != nil {
		logf("reading %s's memory: %v", s.title, err)
		return
	}
	sr := b.res.size(n)
	sr.mem[s.key] = append(sr.mem[s.key], m)
}

// unthrottledSystems are the plain client without a client-side rate limit
// and -fast-write-concurrency parallel writes, and the operator with its
// client settings raised to match: what the API server itself allows.
func (b *bench) unthrottledSystems() []*system {
	f := b.opts.fast
	limit := b.limitSystemWith("limit-fast", fmt.Sprintf("plain client, no rate limit, %d parallel", f.writeConcurrency), -1, 0, f.writeConcurrency)
	ours := b.oursSystemWith(oursSpec{
		key: "ours-fast", title: fmt.Sprintf("verification-operator, qps %g, burst %d, %d parallel", f.qps, f.burst, f.writeConcurrency),
		cfg:        managerConfig{client: f, secretNames: []string{secretOurs, warmupSecret}},
		secretName: secretOurs, policy: policyName,
	})
	return []*system{limit, ours}
}

// measurement is one timed convergence or rotation.
type measurement struct {
	d time.Duration
	// reaction is the time to the first Secret write, from the audit log.
	reaction time.Duration
	// stall is how contended the machine was during the measurement.
	stall    stall
	n        int
	matched  int
	complete bool
	// proj is the projected time of an incomplete (capped) run.
	proj   time.Duration
	doneAt time.Time
	writes writeCount
}

func (m measurement) String() string {
	if !m.complete {
		return fmt.Sprintf("%d/%d after %s (projected %s)", m.matched, m.n, m.d.Round(time.Millisecond), m.projected().Round(time.Second))
	}
	return fmt.Sprintf("%s, first Secret write after %s (%s API writes; CPU stall %.0f%%, I/O stall %.0f%%)",
		m.d.Round(time.Millisecond), m.reaction.Round(time.Millisecond), m.writes, m.stall.cpu, m.stall.io)
}

// projected extrapolates an incomplete run at its observed rate.
func (m measurement) projected() time.Duration {
	switch {
	case m.complete:
		return m.d
	case m.proj > 0:
		return m.proj
	case m.matched > 0:
		return time.Duration(float64(m.d) * float64(m.n) / float64(m.matched))
	}
	return m.d
}

func (b *bench) measure(ctx context.Context, s *system, n int, nss []string, cert *certs.Cert, first bool, timeout time.Duration, capped bool) (measurement, error) {
	w, err := watchConvergence(ctx, b.cluster.kube, s.secretName, nss, s.match(cert.Cert, n))
	if err != nil {
		return measurement{}, err
	}
	defer w.stop()
	before := readPressure()
	start := time.Now()
	if err := s.apply(ctx, n, nss, cert, first); err != nil {
		return measurement{}, err
	}
	doneAt, matched, err := w.wait(ctx, timeout)
	m := measurement{d: doneAt.Sub(start), n: n, matched: matched, complete: err == nil, doneAt: doneAt, stall: before.until(readPressure())}
	if !m.complete {
		m.proj = w.projectFrom(start)
	}
	if err != nil && (!capped || ctx.Err() != nil) {
		logp := ""
		if s.proc != nil {
			logp = "; see " + s.proc.logPath
		}
		return m, fmt.Errorf("%w%s", err, logp)
	}
	if m.writes, err = b.audit.writes(s.user, start, doneAt); err != nil {
		return m, err
	}
	if !m.writes.firstSecret.IsZero() {
		m.reaction = m.writes.firstSecret.Sub(start)
	}
	return m, nil
}

// idleWindow is when s's idle window starts: a settle time after its last
// rotation converged.
func (b *bench) idleWindow(s *system) time.Time { return b.res.idleFrom[s.key].Add(b.opts.settle) }

// memory reads both controllers' peak RSS with N converged Secrets, adds
// the unrelated Secrets, and reads it again. It runs once both idle
// windows have started: nothing here touches what either selects.
func (b *bench) memory(ctx context.Context, ours, tm *system) error {
	o := b.opts
	phase := b.res.phase(fmt.Sprintf("memory: %d unrelated Secrets", o.unrelated))
	defer phase.end()
	if ours.proc == nil || tm.proc == nil {
		return errors.New("the operator and trust-manager must be left running for the steady-state phase")
	}
	latest := b.idleWindow(ours)
	if t := b.idleWindow(tm); t.After(latest) {
		latest = t
	}
	if err := sleepUntil(ctx, latest); err != nil {
		return err
	}
	before := map[string]memory{}
	for _, s := range []*system{ours, tm} {
		m, err := s.proc.memory()
		if err != nil {
			return err
		}
		before[s.key] = m
	}
	logf("peak RSS with N=%d: operator %s, trust-manager %s", o.steadyN, mib(before["ours"].peak), mib(before["tm"].peak))

	start := time.Now()
	if err := b.createUnrelated(ctx); err != nil {
		return err
	}
	b.res.unrelatedTook = time.Since(start)
	logf("created %d unrelated %d-byte Secrets in %s", o.unrelated, o.unrelatedSize, b.res.unrelatedTook.Round(time.Second))
	if err := sleepCtx(ctx, 30*time.Second); err != nil {
		return err
	}
	for _, s := range []*system{ours, tm} {
		m, err := s.proc.memory()
		if err != nil {
			return err
		}
		b.res.mem[s.key] = [2]memory{before[s.key], m}
	}
	logf("peak RSS after the unrelated Secrets: operator %s, trust-manager %s", mib(b.res.mem["ours"][1].peak), mib(b.res.mem["tm"][1].peak))
	heapPath := filepath.Join(b.dir, "manager-heap.pprof")
	fetchTo(ctx, ours.baseURL+"/debug/pprof/heap?gc=1", heapPath)
	h := readHeap(ctx, fmt.Sprintf("N=%d, after the unrelated Secrets (what the operator's memory consists of)", o.steadyN), heapPath, true)
	mem, err := ours.proc.memory()
	if err != nil {
		return err
	}
	h.mem = mem
	b.res.heap = append(b.res.heap, h)
	return nil
}

// closeIdle waits for the end of s's idle window, counts its writes in it,
// then stops s and removes what it wrote.
func (b *bench) closeIdle(ctx context.Context, s *system) error {
	o := b.opts
	from := b.idleWindow(s)
	end := from.Add(o.idle)
	if time.Until(end) > 0 {
		logf("waiting %s for the end of %s's idle window", time.Until(end).Round(time.Second), s.title)
	}
	if err := sleepUntil(ctx, end); err != nil {
		return err
	}
	wc, err := b.audit.writes(s.user, from, end)
	if err != nil {
		return err
	}
	b.res.idle[s.key] = wc
	after, err := reconciles(ctx, s.metricsURL)
	if err != nil {
		return fmt.Errorf("reading %s's reconcile count: %w", s.title, err)
	}
	b.mu.Lock()
	start, ok := b.reconcilesAtStart[s.key]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s's reconcile count at the start of its idle window is missing", s.title)
	}
	b.res.idleReconciles[s.key] = diffCounts(start, after)
	logf("%s: %s API writes in %s idle with N=%d; reconciles meanwhile: %v", s.title, wc, o.idle, o.steadyN, b.res.idleReconciles[s.key])
	s.stop()
	return s.cleanup(ctx, o.steadyN, b.namespaces[:o.steadyN])
}

// createUnrelated adds Secrets no controller selects, spread over every
// namespace, each with unrelatedSize random bytes.
func (b *bench) createUnrelated(ctx context.Context) error {
	o := b.opts
	nss := b.namespaces
	return parallel(ctx, 32, o.unrelated, func(ctx context.Context, i int) error {
		data := make([]byte, o.unrelatedSize)
		_, _ = rand.Read(data)
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i), Namespace: nss[i%len(nss)],
				Labels: map[string]string{"app.kubernetes.io/name": "unrelated"}},
			Data: map[string][]byte{"blob": data},
		}
		_, err := b.cluster.kube.CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o755)
}

func diffCounts(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func sleepUntil(ctx context.Context, t time.Time) error { return sleepCtx(ctx, time.Until(t)) }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetchTo saves the body of url to path, logging rather than failing: the
// profiles are for analysis, not figures.
func fetchTo(ctx context.Context, url, path string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			defer resp.Body.Close()
			var f *os.File
			if f, err = os.Create(path); err == nil {
				_, err = io.Copy(f, resp.Body)
				_ = f.Close()
			}
		}
	}
	if err != nil {
		logf("saving %s: %v", path, err)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
