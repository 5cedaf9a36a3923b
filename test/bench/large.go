package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	benvtest "github.com/flux-notation/verification-operator/test/envtest"
)

// The large profile (-profile=large) measures the operator at sizes the
// default run does not reach, on the same kind of control plane:
//
//   - growth: convergence time and RSS of a fresh manager at N = 100 … 10,000
//     namespaces, and at -unthrottled-n the API server's own limit (plain
//     client without a rate limit, operator with raised settings);
//   - many policies: 20 policies × 2,500 namespaces = 50,000 Secrets, built
//     up in a staircase with memory read at each step; then one policy's
//     convergence and rotation with the others in place against the plain
//     client, with the default client settings;
//   - restart at that size: a fresh manager's time to Ready, to its first
//     full resync, and its API writes meanwhile (must be 0);
//   - shared artifacts: 2,000 OCIRepositories over 20 signed artifacts, and
//     the registry requests one trust rotation costs.
//
// Namespaces are created once, for the largest size, and reused by every
// scenario: the first N of them carry the label of every size class N.

// largeOptions are the large profile's sizes, each shrinkable for a trial.
type largeOptions struct {
	policies, namespaces int
	staircase            []int
	growth               []int
	ociNamespaces        int
	ociPerNamespace      int
	ociArtifacts         int
	settle, tail         time.Duration

	staircaseRaw, growthRaw string
}

func (l *largeOptions) bindFlags() {
	flag.IntVar(&l.policies, "large-policies", 20, "large profile: policies in the many-policies scenario, each with its own Secret name; 0: skipped")
	flag.IntVar(&l.namespaces, "large-namespaces", 2500, "large profile: namespaces every one of those policies targets")
	flag.StringVar(&l.staircaseRaw, "large-staircase", "1000,10000,50000", "large profile: managed-Secret counts at which memory is read while policies are added (below -large-namespaces: the first policy on that many namespaces; else that many / -large-namespaces policies); the last must be policies × namespaces")
	flag.StringVar(&l.growthRaw, "growth-sizes", "100,1000,3000,10000", "large profile: N of the convergence-time and RSS growth table; empty: skipped")
	flag.IntVar(&l.ociNamespaces, "oci-namespaces", 1000, "large profile: namespaces holding OCIRepositories in the shared-artifacts scenario; 0: skipped")
	flag.IntVar(&l.ociPerNamespace, "oci-per-namespace", 2, "large profile: OCIRepositories per namespace")
	flag.IntVar(&l.ociArtifacts, "oci-artifacts", 20, "large profile: distinct signed artifacts the OCIRepositories point at")
	flag.DurationVar(&l.settle, "large-settle", 15*time.Second, "large profile: idle time before memory is read (GC and the scavenger settle)")
	flag.DurationVar(&l.tail, "restart-tail", 10*time.Second, "large profile: how long after the restarted manager's first full resync its writes are still counted, separately")
}

// finish parses and checks the large profile's options, shrinking them for
// -quick unless given explicitly.
func (l *largeOptions) finish(o *options) error {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		quick := map[string]string{
			"large-policies": "2", "large-namespaces": "200", "large-staircase": "100,200,400",
			"growth-sizes": "100,300", "unthrottled-n": "300",
			"oci-namespaces": "100", "oci-artifacts": "4", "large-settle": "5s",
		}
		for name, value := range quick {
			if !set[name] {
				if err := flag.Set(name, value); err != nil {
					return err
				}
			}
		}
	}
	if !set["output"] {
		// The default profile's RESULTS.md stays; the two runs are read
		// side by side.
		o.output = filepath.Join(benvtest.RepoRoot(), "test", "bench", "RESULTS-large.md")
	}
	var err error
	if l.staircase, err = parseInts(l.staircaseRaw); err != nil {
		return fmt.Errorf("-large-staircase: %w", err)
	}
	if l.growthRaw != "" {
		if l.growth, err = parseInts(l.growthRaw); err != nil {
			return fmt.Errorf("-growth-sizes: %w", err)
		}
	}
	if l.policies == 0 {
		// The many-policies scenario is skipped (a partial run).
		l.staircase = nil
		return l.checkArtifacts()
	}
	if l.policies < 2 {
		return errors.New("-large-policies must be at least 2 (one is timed with the others in place), or 0 to skip the scenario")
	}
	if l.policies > 99 {
		return errors.New("-large-policies must be at most 99")
	}
	total := l.policies * l.namespaces
	prev := 0
	for _, s := range l.staircase {
		if s <= prev {
			return fmt.Errorf("-large-staircase must be ascending")
		}
		prev = s
		if s >= l.namespaces && (s%l.namespaces != 0 || s/l.namespaces > l.policies) {
			return fmt.Errorf("-large-staircase: %d is not a whole number of policies of %d namespaces (at most %d)", s, l.namespaces, l.policies)
		}
	}
	if len(l.staircase) == 0 || l.staircase[len(l.staircase)-1] != total {
		return fmt.Errorf("-large-staircase must end at -large-policies × -large-namespaces = %d", total)
	}
	return l.checkArtifacts()
}

func (l *largeOptions) checkArtifacts() error {
	if l.ociNamespaces < 0 || l.ociPerNamespace < 1 || l.ociArtifacts < 1 {
		return errors.New("-oci-per-namespace and -oci-artifacts must be positive, -oci-namespaces positive or 0 (the scenario skipped)")
	}
	return nil
}

// sizeClasses are the namespace counts some scenario selects by label.
func (l *largeOptions) sizeClasses(unthrottledN int) []int {
	sizes := slices.Clone(l.growth)
	for _, n := range []int{unthrottledN, l.ociNamespaces} {
		if n > 0 {
			sizes = append(sizes, n)
		}
	}
	if l.policies > 0 {
		sizes = append(sizes, l.namespaces)
	}
	for _, s := range l.staircase {
		if s < l.namespaces {
			sizes = append(sizes, s)
		}
	}
	slices.Sort(sizes)
	return slices.Compact(sizes)
}

// scheduleLarge runs the large profile. Growth comes first, on an empty
// cluster apart from the namespaces; the many-policies scenario leaves its
// 50,000 Secrets in place (deleting them would take minutes and nothing
// later selects them: the artifacts scenario's manager may write another
// name only), and the shared-artifacts scenario runs last.
func (b *bench) scheduleLarge(ctx context.Context) error {
	if err := b.growth(ctx); err != nil {
		return fmt.Errorf("growth: %w", err)
	}
	if b.opts.large.policies > 0 {
		if err := b.manyPolicies(ctx); err != nil {
			return fmt.Errorf("many policies: %w", err)
		}
	}
	if b.opts.large.ociNamespaces > 0 {
		if err := b.sharedArtifacts(ctx); err != nil {
			return fmt.Errorf("shared artifacts: %w", err)
		}
	}
	return nil
}

// growthPoint is one N of the growth table.
type growthPoint struct {
	n    int
	conv measurement
	// mem is read right after the convergence; heap is the in-use heap
	// of a profile taken then.
	mem  memory
	heap int64
}

// growth measures a fresh manager (default client settings) converging on
// N namespaces for every -growth-sizes N, and at -unthrottled-n the
// unthrottled comparison.
func (b *bench) growth(ctx context.Context) error {
	l := &b.opts.large
	ours := b.oursSystem()
	if len(l.growth) > 0 {
		phase := b.res.phase(fmt.Sprintf("growth: the operator converging on N = %s", joinInts(l.growth)))
		for _, n := range l.growth {
			m, mem, heap, err := b.convergeOnce(ctx, ours, n, true)
			if err != nil {
				return fmt.Errorf("%s, N=%d: %w", ours.title, n, err)
			}
			b.res.large.growth = append(b.res.large.growth, growthPoint{n: n, conv: m, mem: mem, heap: heap})
		}
		phase.end()
	}

	n := b.opts.unthrottledN
	if n == 0 {
		return nil
	}
	fast := b.unthrottledSystems()
	systems := []*system{b.limitSystem(), fast[0], fast[1]}
	if !slices.Contains(l.growth, n) {
		systems = append(systems, ours)
	}
	phase := b.res.phase(fmt.Sprintf("the API server's own limit, N=%d", n))
	defer phase.end()
	for _, s := range systems {
		m, _, _, err := b.convergeOnce(ctx, s, n, false)
		if err != nil {
			return fmt.Errorf("%s, N=%d: %w", s.title, n, err)
		}
		b.res.large.unthrottled = append(b.res.large.unthrottled, keyed{s.key, s.title, m})
	}
	return nil
}

// keyed is a measurement of one system.
type keyed struct {
	key, title string
	m          measurement
}

// convergeOnce starts s, times one convergence over the first n
// namespaces, reads its memory (and, with heap, the manager's in-use heap),
// then stops it and removes what it wrote.
func (b *bench) convergeOnce(ctx context.Context, s *system, n int, heap bool) (measurement, memory, int64, error) {
	if err := s.start(ctx); err != nil {
		return measurement{}, memory{}, 0, err
	}
	nss := b.namespaces[:n]
	m, err := b.measure(ctx, s, n, nss, b.certs[1], true, 30*time.Minute, false)
	if err != nil {
		s.stop()
		return m, memory{}, 0, err
	}
	logf("N=%-5d %-26s convergence %s", n, s.title, m)
	var (
		mem      memory
		heapSize int64
	)
	if s.proc != nil {
		if mem, err = s.proc.memory(); err != nil {
			s.stop()
			return m, mem, 0, err
		}
	}
	if heap && s.mgr != nil {
		h := b.heapProfile(ctx, s.mgr, fmt.Sprintf("growth-n%d", n), fmt.Sprintf("N=%d after convergence", n), false)
		heapSize = h.inuse
	}
	s.stop()
	return m, mem, heapSize, s.cleanup(ctx, n, nss)
}

// heapProfile saves the manager's heap profile (after a GC) to the work
// folder and reads its top entries (with detail, its shares by package
// group too).
func (b *bench) heapProfile(ctx context.Context, m *manager, file, label string, detail bool) heapTop {
	path := filepath.Join(b.dir, "manager-heap-"+file+".pprof")
	fetchTo(ctx, m.base+"/debug/pprof/heap?gc=1", path)
	return readHeap(ctx, label, path, detail)
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}
