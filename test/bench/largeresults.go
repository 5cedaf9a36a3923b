package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// largeResults are the large profile's figures.
type largeResults struct {
	growth      []growthPoint
	unthrottled []keyed
	many        manyResults
	artifacts   artifactsResults
}

const (
	// Targets of the large profile (issue #16).
	targetRatio         = 1.1
	targetPeakMiB       = 160
	targetBytesPerEntry = 2048
	largeBudget         = 45 * time.Minute
)

func (r *results) markdownLarge() string {
	o, l, lr := r.opts, &r.opts.large, &r.large
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	r.header(&b, "Benchmark results: large profile", "make bench-large")
	p("| Client settings | defaults (every timed operator run, the restart, the plain client \"with the operator's settings\"): %g requests/s, burst %d, %d parallel writes; raised (the staircase's build-up and the unthrottled comparison): `--kube-api-qps %g --kube-api-burst %d --write-concurrency %d` |",
		defaultClient.qps, defaultClient.burst, defaultClient.writeConcurrency, o.fast.qps, o.fast.burst, o.fast.writeConcurrency)
	p("| Namespaces | %d, created once in %s and reused by every scenario: the first N carry the label of size class N |", maxInt(l.sizeClasses(o.unthrottledN)), secs(r.namespacesTook))
	p("")

	if m := &lr.many; m.ran {
		total := l.policies * l.namespaces
		p("## 1. Many policies: %d policies × %d namespaces = %d Secrets", l.policies, l.namespaces, total)
		p("")
		p("Every policy targets the same %d namespaces with its own `target.secretName` (`notation-config-01` …); the manager runs with `--target-secret-names` listing all of them.", l.namespaces)
		p("")
		p("### One policy's convergence and rotation with the other %d in place (default client settings)", l.policies-1)
		p("")
		p("| | plain client (limit) | verification-operator | ours / limit |")
		p("| --- | --- | --- | --- |")
		for _, k := range []struct {
			name string
			m    map[string]measurement
		}{{"convergence", m.conv}, {"rotation", m.rot}} {
			p("| %s | %s | %s | %s |", k.name, one(k.m, "limit"), one(k.m, "ours"), oneRatio(k.m["ours"], k.m["limit"]))
		}
		p("")
		p("API writes: %s", strings.Join([]string{
			"plain client convergence " + oneWrites(m.conv, "limit"), "rotation " + oneWrites(m.rot, "limit"),
			"operator convergence " + oneWrites(m.conv, "ours"), "rotation " + oneWrites(m.rot, "ours"),
		}, "; "))
		p("")

		p("### Memory as managed Secrets are added")
		p("")
		p("One manager, started with the raised client settings (so that %d Secrets are written in minutes) and `--target-secret-names` for all %d policies; policies are added in steps and memory is read %s after each step converged: a heap profile first (it runs a GC), then `/proc/<pid>/status`. Peak RSS (VmHWM) includes the build-up's own peak; RSS (VmRSS) is what the idle manager holds then.", total, l.policies, l.settle)
		p("")
		p("| step | policies | managed Secrets | written in | peak RSS (VmHWM) | RSS (VmRSS) | of which anonymous / file-backed | heap in use | anonymous RSS above baseline | per managed Secret (anonymous RSS) | per managed Secret (heap) |")
		p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
		var base memPoint
		for i, pt := range m.points {
			if i == 0 {
				base = pt
				p("| %s | 0 | 0 | – | %s | %s | %s | %s | – | – | – |", pt.label, mib(pt.mem.peak), mib(pt.mem.current), split(pt.mem), heapCell(pt.heap))
				continue
			}
			p("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |", pt.label, pt.policies, pt.secrets, secs(pt.took), mib(pt.mem.peak), mib(pt.mem.current), split(pt.mem), heapCell(pt.heap),
				mib(pt.mem.anon-base.mem.anon), perEntry(pt.mem.anon-base.mem.anon, pt.secrets), perEntryHeap(pt.heap, base.heap, pt.secrets))
		}
		p("")
		if len(m.points) > 0 {
			p("#### Heap profile top entries: what the baseline is made of")
			p("")
			m.points[0].heap.markdown(&b)
			if len(m.points) > 1 {
				p("#### Heap profile top entries at %d managed Secrets", total)
				p("")
				m.points[len(m.points)-1].heap.markdown(&b)
			}
		}

		rs := m.restart
		p("## 2. Restart at that size: %d policies, %d Secrets in place", rs.policies, rs.secrets)
		p("")
		p("The manager of the timed runs above is stopped with SIGTERM; a fresh one starts with the default client settings. Times are from the process start.")
		p("")
		p("| | |")
		p("| --- | --- |")
		p("| time to Ready (`/readyz` 200, polled every %s) | %s |", readyPoll, secs(rs.ready))
		p("| time to its first full resync of all %d policies | %s (sync controller %s, artifacts controller %s) |", rs.policies, secs(max(rs.syncDone, rs.artifactsDone)), secs(rs.syncDone), secs(rs.artifactsDone))
		p("| API writes from start to the full resync (audit log, the manager's user) | %s |", rs.writes)
		p("| API writes in the %s after it | %s |", rs.tailWindow, rs.tail)
		p("| reconcile errors of the verificationpolicy controller meanwhile | %d |", rs.reconcileErrors)
		notReady := "all Ready=True for their current generation"
		if len(rs.notReady) > 0 {
			notReady = "not Ready: " + strings.Join(rs.notReady, ", ")
		}
		p("| policies afterwards | %s |", notReady)
		p("| peak RSS (VmHWM), RSS (VmRSS) after the resync | %s, %s |", mib(rs.mem.peak), mib(rs.mem.current))
		p("")
		p("Signal for \"full resync\": %s, and `controller_runtime_reconcile_total{controller=\"artifacts\"}` ≥ %d; polled every 100 ms from the manager's metrics. A sync pass is recorded only after it has listed every target namespace and compared each one's Secret with the rendered one.", rs.signal, rs.policies)
		p("")
		if rs.heap.path != "" {
			rs.heap.markdown(&b)
		}
	}

	if a := &lr.artifacts; a.ran {
		p("## 3. Shared artifacts: %d OCIRepositories over %d signed artifacts", a.repos, a.artifacts)
		p("")
		p("%d OCIRepositories (%d per namespace in %d namespaces; %s per artifact) point at %d distinct artifacts, each in its own repository of one in-process registry (test/registry, which counts every request), signed by a leaf under one root. "+
			"Each carries the `status.artifact` source-controller would have written after pulling (revision `v1@<digest>`); no source-controller runs, so the policy sets `ociRepositories.reverify: None` (nobody would answer a request to re-verify) and what is measured is the operator's own verification. "+
			"The rotation adds a second root certificate: every namespace's trust digest changes, and every artifact still verifies.", a.repos, a.repos/max(a.namespaces, 1), a.namespaces, rangeCell(a.minPerArtifact, a.maxPerArtifact), a.artifacts)
		p("")
		p("One verification, each artifact alone with the operator's engine (controllers/verify, a fresh verifier): %s registry requests; the bound for one pass over the %d distinct artifacts is their sum, %d.", costCell(a.oneCost), a.artifacts, a.bound())
		p("")
		p("| | convergence (policy created) | rotation (second root added) |")
		p("| --- | --- | --- |")
		p("| all %d Secrets hold the expected certificates after | %s | %s |", a.namespaces, secs(a.initial.secretsAt), secs(a.rotation.secretsAt))
		p("| verdicts complete and the manager idle after | %s | %s |", settledCell(a.initial), settledCell(a.rotation))
		p("| registry requests (bound %d) | %d | %d |", a.bound(), a.initial.requests, a.rotation.requests)
		p("| verifications run / answered by the cache or a shared in-flight one | %d / %d | %d / %d |", a.initial.verifications, a.initial.hits, a.rotation.verifications, a.rotation.hits)
		p("| status.ociRepositories (matched, verified, failed, pending) | %s | %s |", countsOf(a.initial.oci), countsOf(a.rotation.oci))
		p("| status.artifacts (matched, verified) | %d, %d | %d, %d |", a.initial.all.Matched, a.initial.all.Verified, a.rotation.all.Matched, a.rotation.all.Verified)
		p("| ArtifactsVerified | %s | %s |", a.initial.condition, a.rotation.condition)
		p("| the manager's API writes | %s | %s |", a.initial.writes, a.rotation.writes)
		p("")
		p("\"Complete and idle\": the policy's `status.trustDigest` is the digest now in the Secrets, `status.ociRepositories` has every OCIRepository matched and verified, the artifacts controller has nothing queued (`workqueue_depth`) and no reconcile running (`controller_runtime_active_workers`), and the registry saw no request, all for %s in a row; the time is when that quiet stretch began. Setup (push, sign, the single verifications, creating the OCIRepositories with status) took %s.", settleQuiet, a.setupTook.Round(time.Second))
		p("")
	}

	if len(lr.unthrottled) > 0 {
		n := o.unthrottledN
		p("## 4. The API server's own limit, N = %d", n)
		p("")
		p("| system | client | convergence | API writes |")
		p("| --- | --- | --- | --- |")
		var oursDefault *measurement
		for i := range lr.growth {
			if lr.growth[i].n == n {
				oursDefault = &lr.growth[i].conv
			}
		}
		if k := findKeyed(lr.unthrottled, "ours"); k != nil {
			oursDefault = &k.m
		}
		if oursDefault != nil {
			p("| verification-operator | defaults (%g requests/s, burst %d, %d parallel) | %s | %s |", defaultClient.qps, defaultClient.burst, defaultClient.writeConcurrency, secs(oursDefault.d), oursDefault.writes)
		}
		for _, k := range lr.unthrottled {
			if k.key == "ours" {
				continue
			}
			p("| %s | %s | %s | %s |", k.title, clientOf(k.key, r.opts), secs(k.m.d), k.m.writes)
		}
		p("")
		if lim, ours := findKeyed(lr.unthrottled, "limit-fast"), findKeyed(lr.unthrottled, "ours-fast"); lim != nil && ours != nil {
			p("The raised operator takes %.2fx the unthrottled plain client's time.", float64(ours.m.d)/float64(lim.m.d))
			p("")
		}
	}

	if len(lr.growth) > 0 {
		p("## 5. Cost as work grows: a fresh manager converging on N namespaces (default client settings)")
		p("")
		p("| N | convergence | peak RSS (VmHWM) | RSS (VmRSS) | of which anonymous / file-backed | heap in use | convergence time |")
		p("| --- | --- | --- | --- | --- | --- | --- |")
		pts := sortedGrowth(lr.growth)
		longest := time.Duration(0)
		for _, g := range pts {
			longest = max(longest, g.conv.d)
		}
		for _, g := range pts {
			heap := "–"
			if g.heap > 0 {
				heap = mib(g.heap)
			}
			p("| %d | %s | %s | %s | %s | %s | `%s` |", g.n, secs(g.conv.d), mib(g.mem.peak), mib(g.mem.current), split(g.mem), heap, bar(g.conv.d, longest, 40))
		}
		p("")
		if len(pts) >= 2 {
			xs, ts, rs := make([]float64, len(pts)), make([]float64, len(pts)), make([]float64, len(pts))
			for i, g := range pts {
				xs[i], ts[i], rs[i] = float64(g.n)/1000, g.conv.d.Seconds(), float64(g.mem.peak)/(1<<20)
			}
			st, it := fitLine(xs, ts)
			sr, ir := fitLine(xs, rs)
			p("Least-squares slopes over these N: convergence %.1f s per 1,000 namespaces (intercept %.1f s); peak RSS %.1f MiB per 1,000 namespaces (intercept %.1f MiB). "+
				"Above the burst of %d the convergence is bound by the client's token bucket, (N − %d) / %g s, i.e. %.0f s per 1,000.", st, it, sr, ir,
				defaultClient.burst, defaultClient.burst, defaultClient.qps, 1000/float64(defaultClient.qps))
			p("")
		}
	}

	p("## Targets")
	p("")
	p("| target | measured | met |")
	p("| --- | --- | --- |")
	for _, t := range r.largeTargets() {
		p("| %s | %s | %s |", t[0], t[1], t[2])
	}
	p("")
	r.phasesTable(&b)
	p("## How to read this")
	p("")
	for _, n := range r.largeNotes() {
		p("- %s", n)
	}
	return b.String()
}

func maxInt(ns []int) int {
	m := 0
	for _, n := range ns {
		m = max(m, n)
	}
	return m
}

func one(m map[string]measurement, key string) string {
	x, ok := m[key]
	if !ok {
		return "not measured: the run did not get there"
	}
	return secs(x.d)
}

func oneRatio(a, b measurement) string {
	if a.d == 0 || b.d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", float64(a.d)/float64(b.d))
}

func oneWrites(m map[string]measurement, key string) string {
	x, ok := m[key]
	if !ok {
		return "–"
	}
	return x.writes.String()
}

// split is RSS as anonymous / file-backed.
func split(m memory) string {
	if m.current == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s", mib(m.anon), mib(m.file))
}

func heapCell(h heapTop) string {
	if h.inuse == 0 {
		return "not measured: " + strings.TrimSpace(h.missing)
	}
	return mib(h.inuse)
}

// perEntry is bytes per managed Secret, as a size.
func perEntry(bytes int64, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f B", float64(bytes)/float64(n))
}

func perEntryHeap(h, base heapTop, n int) string {
	if h.inuse == 0 || base.inuse == 0 {
		return "not measured"
	}
	return perEntry(h.inuse-base.inuse, n)
}

func rangeCell(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

func costCell(cs []int64) string {
	if len(cs) == 0 {
		return "not measured"
	}
	lo, hi := cs[0], cs[0]
	for _, c := range cs {
		lo, hi = min(lo, c), max(hi, c)
	}
	if lo == hi {
		return fmt.Sprintf("%d (each of the %d)", lo, len(cs))
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

func settledCell(p artifactPass) string {
	if p.notSettled != "" {
		return "not measured: " + p.notSettled
	}
	return secs(p.settledAt)
}

func clientOf(key string, o *options) string {
	f := o.fast
	switch key {
	case "limit-fast":
		return fmt.Sprintf("client-go rate limiter off, %d parallel writes", f.writeConcurrency)
	case "ours-fast":
		return fmt.Sprintf("`--kube-api-qps %g --kube-api-burst %d --write-concurrency %d`", f.qps, f.burst, f.writeConcurrency)
	}
	c := defaultClient
	return fmt.Sprintf("the operator's defaults (%g requests/s, burst %d, %d parallel)", c.qps, c.burst, c.writeConcurrency)
}

func findKeyed(ks []keyed, key string) *keyed {
	for i := range ks {
		if ks[i].key == key {
			return &ks[i]
		}
	}
	return nil
}

func sortedGrowth(gs []growthPoint) []growthPoint {
	out := append([]growthPoint(nil), gs...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].n < out[j-1].n; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// bar is an ASCII bar of d relative to longest.
func bar(d, longest time.Duration, width int) string {
	if longest <= 0 {
		return ""
	}
	n := int(math.Round(float64(width) * float64(d) / float64(longest)))
	return strings.Repeat("#", max(n, 1))
}

// fitLine is the least-squares line through (xs, ys): slope, intercept.
func fitLine(xs, ys []float64) (float64, float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, sy / n
	}
	slope := (n*sxy - sx*sy) / d
	return slope, (sy - slope*sx) / n
}

func countsOf(c v1alpha1.ArtifactCounts) string {
	return fmt.Sprintf("%d, %d, %d, %d", c.Matched, c.Verified, c.Failed, c.Pending)
}

// largeTargets evaluates the large profile's targets.
func (r *results) largeTargets() [][3]string {
	l, lr := &r.opts.large, &r.large
	var out [][3]string
	if m := &lr.many; m.ran {
		for _, k := range []struct {
			name string
			m    map[string]measurement
		}{{"convergence", m.conv}, {"rotation", m.rot}} {
			a, ok1 := k.m["ours"]
			b, ok2 := k.m["limit"]
			if ok1 && ok2 && b.d > 0 {
				rt := float64(a.d) / float64(b.d)
				out = append(out, [3]string{fmt.Sprintf("%s of one policy (%d namespaces, %d others in place) within %.1fx of the plain client", k.name, l.namespaces, l.policies-1, targetRatio),
					fmt.Sprintf("%.2fx (%s vs %s)", rt, secs(a.d), secs(b.d)), yesNo(rt <= targetRatio)})
			}
		}
		total := l.policies * l.namespaces
		if len(m.points) > 1 {
			base, last := m.points[0], m.points[len(m.points)-1]
			out = append(out, [3]string{fmt.Sprintf("peak RSS under %d MiB at %d Secrets (build-up manager, raised client settings)", targetPeakMiB, total),
				mib(last.mem.peak), yesNo(last.mem.peak < targetPeakMiB<<20)})
			// Anonymous RSS: the executable's pages are not memory the
			// Secrets cost (and a heap profile's symbolization adds some).
			per := float64(last.mem.anon-base.mem.anon) / float64(last.secrets)
			out = append(out, [3]string{fmt.Sprintf("under %d B per managed Secret above the idle baseline (anonymous RSS after a GC, %s after convergence)", targetBytesPerEntry, l.settle),
				fmt.Sprintf("%.0f B (%s → %s)", per, mib(base.mem.anon), mib(last.mem.anon)), yesNo(per < targetBytesPerEntry)})
		}
		if rs := m.restart; rs.mem.peak > 0 {
			out = append(out, [3]string{fmt.Sprintf("peak RSS under %d MiB at %d Secrets (restarted manager, default client settings)", targetPeakMiB, total),
				mib(rs.mem.peak), yesNo(rs.mem.peak < targetPeakMiB<<20)})
			out = append(out, [3]string{fmt.Sprintf("zero API writes from restart to the first full resync of %d policies", rs.policies), rs.writes.String(), yesNo(rs.writes.total == 0)})
		}
	}
	if a := &lr.artifacts; a.ran {
		out = append(out, [3]string{fmt.Sprintf("rotation costs at most %d distinct verifications' registry requests", a.artifacts),
			fmt.Sprintf("%d requests (bound %d), %d verifications run", a.rotation.requests, a.bound(), a.rotation.verifications),
			yesNo(a.rotation.notSettled == "" && a.rotation.requests <= a.bound())})
		out = append(out, [3]string{fmt.Sprintf("all %d verdicts in the policy's status after the rotation", a.repos),
			fmt.Sprintf("matched %d, verified %d", a.rotation.oci.Matched, a.rotation.oci.Verified),
			yesNo(int(a.rotation.oci.Matched) == a.repos && int(a.rotation.oci.Verified) == a.repos)})
	}
	out = append(out, [3]string{fmt.Sprintf("large profile under %s", largeBudget), fmt.Sprintf("harness %s (plus builds)", r.took.Round(time.Second)), yesNo(r.took < largeBudget)})
	return out
}

func (r *results) largeNotes() []string {
	l := &r.opts.large
	notes := []string{
		"Each system is started fresh for its scenario; timed operator runs are warmed up first with a one-namespace policy that is then removed, so no time includes cache sync or client start-up (the restart is the exception: its start-up is what it measures). Times run from the create/patch request to the moment the harness's own watch sees the last Secret with the expected content.",
		fmt.Sprintf("Reused namespaces: %d are created once; growth uses the first N of them, the API server's limit the first %d, the many-policies scenario the first %d and the shared-artifacts scenario the first %d. The many-policies scenario's %d Secrets stay in place for the shared-artifacts scenario (their policies are deleted; its manager may neither write nor read those names).",
			maxInt(l.sizeClasses(r.opts.unthrottledN)), r.opts.unthrottledN, l.namespaces, l.ociNamespaces, l.policies*l.namespaces),
		"Memory: VmHWM is the process's peak resident set since it started, VmRSS the current one, both from /proc/<pid>/status; heap in use is the total of a heap profile taken with `/debug/pprof/heap?gc=1` (a GC first). The manager caches every namespace of the cluster (its namespace informer), so the baseline holds all of them.",
		"The staircase's manager writes with raised client settings so that the build-up fits the time budget; its VmHWM includes that build-up. The restarted manager (default settings, same Secrets) shows the peak of a manager that only reads them in.",
	}
	return notes
}
