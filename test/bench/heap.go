package main

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// heapTop is the top of one heap profile of the manager by in-use bytes,
// as `go tool pprof -top -inuse_space` prints it: what the manager's heap
// is made of at that moment.
type heapTop struct {
	label string
	path  string
	// total is pprof's "N of M total" line; err says why there is none.
	total string
	// inuse is the profile's in-use total, in bytes (0 when unknown).
	inuse   int64
	flat    []heapEntry
	cum     []heapEntry
	shares  []heapShare
	missing string
	// mem is the process's RSS right after the profile, when known.
	mem memory
}

// heapShare is the in-use memory allocated under one group of packages.
type heapShare struct {
	name  string
	bytes int64
}

// heapGroups sort in-use memory by what allocated it: a sample counts in
// every group one of whose frames its stack holds, so groups can overlap.
var heapGroups = []struct{ name, focus string }{
	{"objects read by lists and watches (what the informer caches hold: namespaces, Secrets, policies, Flux objects)", `watch\.\(\*StreamWatcher\)|k8s\.io/client-go/tools/cache|k8s\.io/client-go/tools/pager`},
	{"Kubernetes client plumbing (HTTP/2, TLS, discovery, REST mapping)", `golang\.org/x/net/http2|crypto/tls|k8s\.io/client-go/discovery|k8s\.io/client-go/restmapper|controller-runtime/pkg/client/apiutil`},
	{"the operator's reconcilers (targets, verificationpolicy, artifacts, checker, sources, trustconfig)", `verification-operator/controllers/(targets|verificationpolicy|artifacts|checker|sources|trustconfig|rollout)`},
	{"notation-go, oras-go and the verifier (controllers/verify)", `notaryproject|oras\.land|verification-operator/controllers/verify`},
	{"Prometheus metrics", `prometheus`},
	{"logging (zap)", `go\.uber\.org/zap`},
	{"package initialisation, schemes, CEL", `\.init\.|\.init$|runtime\.doInit|\(\*Scheme\)|cel-go`},
}

type heapEntry struct{ flat, flatPct, cum, cumPct, fn string }

// heapTopEntries is how many entries RESULTS.md shows per view.
const heapTopEntries = 10

// readHeap runs go tool pprof on a saved heap profile. A profile that
// cannot be read is reported as not measured, with the reason, rather than
// failing the run: the figures do not depend on it.
//
// With detail it also reads the share of each of heapGroups.
func readHeap(ctx context.Context, label, path string, detail bool) heapTop {
	h := heapTop{label: label, path: path}
	flat, total, err := pprofTop(ctx, path, false, heapTopEntries)
	if err != nil {
		h.missing = err.Error()
		logf("heap profile %s: %v", path, err)
		return h
	}
	h.flat, h.total, h.inuse = flat, total, totalBytes(total)
	// By cumulative size, runtime frames and the goroutine roots say
	// nothing about what holds the memory; the next frames do (informers,
	// caches, clients).
	cum, _, err := pprofTop(ctx, path, true, 60)
	if err == nil {
		for _, e := range cum {
			if len(h.cum) == heapTopEntries {
				break
			}
			if isRootFrame(e.fn) {
				continue
			}
			h.cum = append(h.cum, e)
		}
	}
	if detail {
		for _, g := range heapGroups {
			h.shares = append(h.shares, heapShare{name: g.name, bytes: pprofFocused(ctx, path, g.focus)})
		}
	}
	return h
}

// pprofFocused is the in-use bytes of the samples with a frame matching
// focus: pprof's "Showing nodes accounting for" with every node shown.
func pprofFocused(ctx context.Context, path, focus string) int64 {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-inuse_space", "-nodecount=1000000", "-focus="+focus, path).CombinedOutput()
	if err != nil {
		return 0 // "focus expression matched no samples"
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Showing nodes accounting for "); ok {
			v, _, _ := strings.Cut(rest, ",")
			return parseSize(v)
		}
	}
	return 0
}

func isRootFrame(fn string) bool {
	for _, p := range []string{"runtime.", "main.", "sync.(*WaitGroup).Go", "sync.(*Once)", "k8s.io/apimachinery/pkg/util/wait.", "sigs.k8s.io/controller-runtime/pkg/manager.(*runnableGroup)", "golang.org/x/sync/errgroup."} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// pprofTop runs `go tool pprof -top` and parses its table.
func pprofTop(ctx context.Context, path string, cum bool, n int) ([]heapEntry, string, error) {
	args := []string{"tool", "pprof", "-top", "-inuse_space", fmt.Sprintf("-nodecount=%d", n)}
	if cum {
		args = append(args, "-cum")
	}
	out, err := exec.CommandContext(ctx, "go", append(args, path)...).CombinedOutput()
	if err != nil {
		return nil, "", fmt.Errorf("go tool pprof: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return parsePprofTop(string(out))
}

// parsePprofTop reads pprof's -top output: a "Showing nodes accounting for"
// line, a header, then "flat flat% sum% cum cum% function" rows.
func parsePprofTop(out string) ([]heapEntry, string, error) {
	var entries []heapEntry
	total, inTable := "", false
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "Showing nodes accounting for"):
			total = strings.TrimPrefix(t, "Showing nodes accounting for ")
		case strings.HasPrefix(t, "flat") && strings.Contains(t, "cum%"):
			inTable = true
		case inTable && t != "":
			f := strings.Fields(t)
			if len(f) < 6 {
				continue
			}
			entries = append(entries, heapEntry{flat: f[0], flatPct: f[1], cum: f[3], cumPct: f[4], fn: strings.Join(f[5:], " ")})
		}
	}
	if len(entries) == 0 {
		return nil, "", fmt.Errorf("no entries in pprof's output: %q", out)
	}
	return entries, total, nil
}

// totalBytes reads the "of 34.00MB total" part of pprof's summary.
func totalBytes(total string) int64 {
	_, rest, ok := strings.Cut(total, "% of ")
	if !ok {
		return 0
	}
	return parseSize(strings.TrimSuffix(strings.TrimSpace(rest), " total"))
}

// parseSize reads pprof's sizes: 512B, 1.50kB, 34.00MB, 1.20GB.
func parseSize(s string) int64 {
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0
			}
			return int64(f * u.mult)
		}
	}
	return 0
}

// markdown writes both views of the profile.
func (h heapTop) markdown(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("Heap profile of the manager, %s (`go tool pprof -top -inuse_space %s`, taken with `/debug/pprof/heap?gc=1`):", h.label, h.base())
	p("")
	if h.mem.current > 0 {
		p("Resident then: RSS %s = anonymous %s (the Go heap in use, %s, plus the runtime's spare and not yet returned heap, goroutine stacks and metadata) + file-backed %s (the executable's code and data, as far as touched).",
			mib(h.mem.current), mib(h.mem.anon), heapCell(h), mib(h.mem.file))
		p("")
	}
	if h.missing != "" {
		p("not measured: %s", h.missing)
		p("")
		return
	}
	p("In use: %s (the profile samples one allocation per 512 KiB on average, so small entries are coarse). Top %d by own (flat) size, and top %d by cumulative size without runtime and goroutine-root frames:", mib(h.inuse), len(h.flat), len(h.cum))
	p("")
	p("| flat | flat%% | function | | cum | cum%% | function (by cum) |")
	p("| --- | --- | --- | --- | --- | --- | --- |")
	for i := range max(len(h.flat), len(h.cum)) {
		var f, c heapEntry
		if i < len(h.flat) {
			f = h.flat[i]
		}
		if i < len(h.cum) {
			c = h.cum[i]
		}
		p("| %s | %s | %s | | %s | %s | %s |", f.flat, f.flatPct, code(f.fn), c.cum, c.cumPct, code(c.fn))
	}
	p("")
	if len(h.shares) > 0 {
		p("By what allocated it (`-focus` on the packages named; a sample counts in every group its stack touches, so the shares can add up to more than 100%%):")
		p("")
		p("| allocated under | in use | share |")
		p("| --- | --- | --- |")
		for _, s := range h.shares {
			share := 0.0
			if h.inuse > 0 {
				share = 100 * float64(s.bytes) / float64(h.inuse)
			}
			p("| %s | %s | %.0f%% |", s.name, mib(s.bytes), share)
		}
		p("")
	}
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func (h heapTop) base() string {
	if i := strings.LastIndex(h.path, "/"); i >= 0 {
		return h.path[i+1:]
	}
	return h.path
}
