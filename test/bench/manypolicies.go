package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Many policies: -large-policies policies, each writing its own Secret name
// into the same -large-namespaces namespaces (one Secret name per policy
// per namespace: two policies with one name would conflict).

func largePolicy(i int) string { return fmt.Sprintf("bench-large-%02d", i+1) }
func largeSecret(i int) string { return fmt.Sprintf("notation-config-%02d", i+1) }

// memPoint is the manager's memory at one step of the staircase.
type memPoint struct {
	label             string
	secrets, policies int
	// took is how long the step's writes took to converge, and writes what
	// the manager wrote meanwhile.
	took   time.Duration
	writes writeCount
	mem    memory
	heap   heapTop
}

// restartResult is a fresh manager started with every policy and Secret in
// place.
type restartResult struct {
	policies, secrets int
	// ready is time to /readyz 200; syncDone when every policy completed a
	// sync pass, artifactsDone when the artifacts controller had reconciled
	// as many times as there are policies; all from the process start.
	ready, syncDone, artifactsDone time.Duration
	signal                         string
	writes, tail                   writeCount
	tailWindow                     time.Duration
	reconcileErrors                int
	notReady                       []string
	mem                            memory
	heap                           heapTop
}

type manyResults struct {
	ran    bool
	points []memPoint
	// conv and rot of one policy with the others in place, by system key.
	conv, rot map[string]measurement
	restart   restartResult
}

func (b *bench) largeSecretNames() []string {
	names := make([]string, b.opts.large.policies)
	for i := range names {
		names[i] = largeSecret(i)
	}
	return append(names, warmupSecret)
}

func (b *bench) manyPolicies(ctx context.Context) error {
	l := &b.opts.large
	r := &b.res.large.many
	r.ran, r.conv, r.rot = true, map[string]measurement{}, map[string]measurement{}
	names := b.largeSecretNames()

	// 1. The staircase, with a manager whose client is raised so that
	// 50,000 Secrets are written in minutes, not the 17 minutes 50
	// requests/s would take. Memory is read at each step.
	phase := b.res.phase(fmt.Sprintf("many policies: staircase to %d Secrets (build-up client: qps %g, burst %d, %d parallel writes)",
		l.policies*l.namespaces, b.opts.fast.qps, b.opts.fast.burst, b.opts.fast.writeConcurrency))
	m, err := b.startManager(ctx, managerConfig{client: b.opts.fast, secretNames: names})
	if err != nil {
		return err
	}
	defer m.proc.stop()
	if err := sleepCtx(ctx, l.settle); err != nil {
		return err
	}
	r.points = append(r.points, b.memPoint(ctx, m, "idle baseline: manager ready, no policy yet", 0, 0, true))
	st := &staircase{b: b, labels: map[int]string{}}
	for _, secrets := range l.staircase {
		start := time.Now()
		done, err := st.step(ctx, secrets)
		if err != nil {
			return fmt.Errorf("staircase step %d: %w; see %s", secrets, err, m.proc.logPath)
		}
		wc, err := b.audit.writes(userOurs, start, done)
		if err != nil {
			return err
		}
		logf("staircase: %d Secrets of %d policies converged in %s (%s API writes)", secrets, len(st.labels), done.Sub(start).Round(time.Millisecond), wc)
		if err := sleepCtx(ctx, l.settle); err != nil {
			return err
		}
		p := b.memPoint(ctx, m, fmt.Sprintf("%d managed Secrets", secrets), secrets, len(st.labels), secrets == l.staircase[len(l.staircase)-1])
		p.took, p.writes = done.Sub(start), wc
		r.points = append(r.points, p)
	}
	m.proc.stop()
	phase.end()

	// 2. One policy's convergence and rotation with the others in place,
	// with the default client settings, against the plain client with the
	// same settings. The last policy is removed first (with the manager
	// stopped, unthrottled) and then timed.
	last := l.policies - 1
	phase = b.res.phase(fmt.Sprintf("many policies: one policy of %d namespaces with %d others in place, operator and plain client", l.namespaces, last))
	nss := b.namespaces[:l.namespaces]
	if err := b.deletePolicies(ctx, largePolicy(last)); err != nil {
		return err
	}
	if err := b.cluster.deleteSecrets(ctx, largeSecret(last), nss); err != nil {
		return err
	}
	others := make([]string, last)
	for i := range others {
		others[i] = largePolicy(i)
	}
	ours := b.oursSystemWith(oursSpec{
		key: "ours", title: "verification-operator",
		cfg:        managerConfig{client: b.client, secretNames: names},
		secretName: largeSecret(last), policy: func(int) string { return largePolicy(last) },
		ready: func(ctx context.Context, m *manager) error {
			_, err := b.waitResync(ctx, m, others)
			return err
		},
	})
	for _, s := range []*system{b.limitSystem(), ours} {
		conv, rot, err := b.convergeAndRotate(ctx, s, l.namespaces, nss)
		if err != nil {
			s.stop()
			return fmt.Errorf("%s: %w", s.title, err)
		}
		r.conv[s.key], r.rot[s.key] = conv, rot
		if s != ours {
			s.stop()
			if err := s.cleanup(ctx, l.namespaces, nss); err != nil {
				return err
			}
		}
	}
	phase.end()

	// 3. Restart at that size: SIGTERM, then a fresh manager with the
	// default client settings.
	phase = b.res.phase(fmt.Sprintf("many policies: restart with %d policies and %d Secrets in place", l.policies, l.policies*l.namespaces))
	ours.stop()
	err = b.restartAtSize(ctx, names)
	phase.end()
	if err != nil {
		return err
	}
	all := make([]string, l.policies)
	for i := range all {
		all[i] = largePolicy(i)
	}
	// The Secrets stay: no later manager may write (or read) their names.
	return b.deletePolicies(ctx, all...)
}

// convergeAndRotate starts s, times a convergence and a rotation over nss,
// and leaves s running.
func (b *bench) convergeAndRotate(ctx context.Context, s *system, n int, nss []string) (measurement, measurement, error) {
	if err := s.start(ctx); err != nil {
		return measurement{}, measurement{}, err
	}
	conv, err := b.measure(ctx, s, n, nss, b.certs[1], true, 30*time.Minute, false)
	if err != nil {
		return conv, measurement{}, err
	}
	logf("N=%-5d %-26s convergence %s", n, s.title, conv)
	if err := b.refill(ctx, n); err != nil {
		return conv, measurement{}, err
	}
	rot, err := b.measure(ctx, s, n, nss, b.certs[2], false, 30*time.Minute, false)
	if err != nil {
		return conv, rot, err
	}
	logf("N=%-5d %-26s rotation    %s", n, s.title, rot)
	return conv, rot, nil
}

// refill waits for the default client's token bucket to refill after n
// writes, as runOnce does between a convergence and a rotation.
func (b *bench) refill(ctx context.Context, n int) error {
	d := time.Duration(float64(min(n+10, b.client.burst))/float64(b.client.qps)*float64(time.Second)) + 500*time.Millisecond
	return sleepCtx(ctx, max(d, 2500*time.Millisecond))
}

// memPoint reads the manager's memory: a heap profile first (which runs a
// GC, so RSS is then what the manager holds), then RSS. Symbolizing the
// profile reads the executable's tables, which only file-backed RSS sees:
// the per-Secret figures are therefore taken from anonymous RSS. detail
// adds the heap's shares by package group.
func (b *bench) memPoint(ctx context.Context, m *manager, label string, secrets, policies int, detail bool) memPoint {
	p := memPoint{label: label, secrets: secrets, policies: policies}
	p.heap = b.heapProfile(ctx, m, fmt.Sprintf("many-%d", secrets), label, detail)
	mem, err := m.proc.memory()
	if err != nil {
		logf("reading the manager's memory: %v", err)
	}
	p.mem, p.heap.mem = mem, mem
	logf("memory, %s: peak RSS %s, RSS %s, heap in use %s", label, mib(mem.peak), mib(mem.current), mib(p.heap.inuse))
	return p
}

// staircase adds policies step by step: below -large-namespaces Secrets
// the first policy alone on that many namespaces, then whole policies.
type staircase struct {
	b *bench
	// labels is each created policy's namespace size class.
	labels map[int]string
}

// step brings the cluster to secrets managed Secrets and returns when the
// harness saw the last of them.
func (st *staircase) step(ctx context.Context, secrets int) (time.Time, error) {
	b, l := st.b, &st.b.opts.large
	want := map[int]int{} // policy → namespaces
	if secrets < l.namespaces {
		want[0] = secrets
	} else {
		for i := range secrets / l.namespaces {
			want[i] = l.namespaces
		}
	}
	var watches []*convergence
	defer func() {
		for _, w := range watches {
			w.stop()
		}
	}()
	for i, n := range want {
		w, err := watchConvergence(ctx, b.cluster.kube, largeSecret(i), b.namespaces[:n], matchOurs(largePolicy(i), b.certs[1].Cert))
		if err != nil {
			return time.Time{}, err
		}
		watches = append(watches, w)
	}
	for _, i := range slices.Sorted(maps.Keys(want)) {
		label := sizeLabel(want[i])
		switch prev, ok := st.labels[i]; {
		case !ok:
			pol := b.policy(largePolicy(i), largeSecret(i), map[string]string{label: "true"}, b.certs[1], time.Hour)
			if _, err := b.cluster.dyn.Resource(policyGVR).Create(ctx, pol, metav1.CreateOptions{}); err != nil {
				return time.Time{}, err
			}
		case prev != label:
			// A merge patch merges matchLabels: the old key is removed
			// explicitly.
			patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"target": map[string]any{
				"namespaceSelector": map[string]any{"matchLabels": map[string]any{prev: nil, label: "true"}},
			}}})
			if _, err := b.cluster.dyn.Resource(policyGVR).Patch(ctx, largePolicy(i), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				return time.Time{}, err
			}
		}
		st.labels[i] = label
	}
	var done time.Time
	for _, w := range watches {
		at, _, err := w.wait(ctx, 30*time.Minute)
		if err != nil {
			return at, err
		}
		if at.After(done) {
			done = at
		}
	}
	return done, nil
}

// resync is when a manager finished its first full resync of some
// policies.
type resync struct {
	syncDone, artifactsDone time.Time
	signal                  string
	errors                  int
}

// waitResync waits until the manager has finished a full resync of every
// policy named: each has a completed sync pass in this process (Flux's
// gotk_reconcile_duration_seconds, recorded per policy at the end of every
// sync pass, once the pass has compared every target namespace's Secret),
// and the artifacts controller has reconciled at least as many times as
// there are policies (it lists governed OCIRepositories once per policy).
// Without the per-policy metric, controller-runtime's reconcile counter of
// the verificationpolicy controller reaching that count is the signal.
func (b *bench) waitResync(ctx context.Context, m *manager, policies []string) (resync, error) {
	var r resync
	deadline := time.Now().Add(15 * time.Minute)
	for time.Now().Before(deadline) {
		ms, err := scrape(ctx, m.metricsURL())
		if err != nil {
			return r, err
		}
		counts := ms.reconcileCounts()
		now := time.Now()
		if r.syncDone.IsZero() {
			synced := 0
			if ms.has("gotk_reconcile_duration_seconds_count") {
				r.signal = "every policy's gotk_reconcile_duration_seconds_count (one sample per completed sync pass, by policy name) ≥ 1"
				for _, p := range policies {
					if ms.sum("gotk_reconcile_duration_seconds_count", map[string]string{"name": p}) >= 1 {
						synced++
					}
				}
			} else {
				r.signal = `controller_runtime_reconcile_total{controller="verificationpolicy"} ≥ the number of policies (no per-policy duration metric served)`
				synced = counts["verificationpolicy"]
			}
			if synced >= len(policies) {
				r.syncDone = now
			}
		}
		if r.artifactsDone.IsZero() && counts["artifacts"] >= len(policies) {
			r.artifactsDone = now
		}
		if !r.syncDone.IsZero() && !r.artifactsDone.IsZero() {
			r.errors = int(ms.sum("controller_runtime_reconcile_errors_total", map[string]string{"controller": "verificationpolicy"}))
			return r, nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return r, err
		}
	}
	return r, fmt.Errorf("the manager did not finish a resync of %d policies within 15 minutes; see %s", len(policies), m.proc.logPath)
}

// restartAtSize starts a fresh manager with the default client settings
// and every policy and Secret in place, and measures its start: time to
// Ready, time to its first full resync, and its API writes until then
// (the audit log, per user), which must be none.
func (b *bench) restartAtSize(ctx context.Context, secretNames []string) error {
	l := &b.opts.large
	r := &b.res.large.many.restart
	r.policies, r.secrets, r.tailWindow = l.policies, l.policies*l.namespaces, l.tail
	policies := make([]string, l.policies)
	for i := range policies {
		policies[i] = largePolicy(i)
	}
	m, err := b.startManager(ctx, managerConfig{client: b.client, secretNames: secretNames})
	if err != nil {
		return err
	}
	defer m.proc.stop()
	r.ready = m.readyAt.Sub(m.startedAt)
	rs, err := b.waitResync(ctx, m, policies)
	if err != nil {
		return err
	}
	r.syncDone, r.artifactsDone = rs.syncDone.Sub(m.startedAt), rs.artifactsDone.Sub(m.startedAt)
	r.signal, r.reconcileErrors = rs.signal, rs.errors
	done := rs.syncDone
	if rs.artifactsDone.After(done) {
		done = rs.artifactsDone
	}
	if err := sleepUntil(ctx, done.Add(l.tail)); err != nil {
		return err
	}
	if r.writes, err = b.audit.writes(userOurs, m.startedAt, done); err != nil {
		return err
	}
	if r.tail, err = b.audit.writes(userOurs, done, done.Add(l.tail)); err != nil {
		return err
	}
	if r.notReady, err = b.policiesNotReady(ctx, policies); err != nil {
		return err
	}
	// The heap profile first: it runs a GC, so RSS is then what the
	// manager holds, not garbage not yet collected.
	r.heap = b.heapProfile(ctx, m, "restart", fmt.Sprintf("restarted with %d Secrets in place, after its first full resync", r.secrets), true)
	if r.mem, err = m.proc.memory(); err != nil {
		return err
	}
	r.heap.mem = r.mem
	logf("restart with %d Secrets: Ready after %s, full resync after %s (artifacts %s), %s API writes until then, %s in the %s after; peak RSS %s",
		r.secrets, r.ready.Round(time.Millisecond), r.syncDone.Round(time.Millisecond), r.artifactsDone.Round(time.Millisecond), r.writes, r.tail, l.tail, mib(r.mem.peak))
	return nil
}

// policiesNotReady lists the policies whose Ready condition is not True
// for their current generation.
func (b *bench) policiesNotReady(ctx context.Context, names []string) ([]string, error) {
	var out []string
	for _, name := range names {
		p, err := b.getPolicy(ctx, name)
		if err != nil {
			return nil, err
		}
		c := apimeta.FindStatusCondition(p.Status.Conditions, "Ready")
		if c == nil || c.Status != metav1.ConditionTrue || p.Status.ObservedGeneration != p.Generation {
			out = append(out, name)
		}
	}
	return out, nil
}
