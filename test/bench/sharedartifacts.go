package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/verify"
	"github.com/flux-notation/verification-operator/test/certs"
	testcluster "github.com/flux-notation/verification-operator/test/cluster"
	tnotation "github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

// Shared artifacts: many OCIRepositories over a few signed artifacts in one
// registry. After a trust rotation the operator must verify each distinct
// artifact once, not once per OCIRepository: its verdict cache and its
// in-flight sharing are keyed by (repository, digest, trust digest), and
// every namespace's Secret carries the same trust digest.

const (
	secretArtifacts = "bench-artifacts"
	policyArtifacts = "bench-artifacts"
	// The registry requests a quiet registry must go without before the
	// verdicts count as settled.
	settleQuiet = 3 * time.Second
)

var ociGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "ocirepositories"}

// artifactPass is one convergence or rotation of the artifacts policy.
type artifactPass struct {
	// secretsAt is when every Secret held the expected certificates,
	// settledAt when the verdicts were complete and nothing was left to do
	// (see settle), both from the create or patch.
	secretsAt, settledAt time.Duration
	requests             int64
	// verifications ran against the registry; hits were answered from the
	// cache or a shared in-flight verification (the verifier's metrics).
	verifications, hits int
	oci, all            v1alpha1.ArtifactCounts
	condition           string
	writes              writeCount
	notSettled          string
}

type artifactsResults struct {
	ran                            bool
	artifacts, namespaces, repos   int
	minPerArtifact, maxPerArtifact int
	// oneCost is each artifact's registry requests, verified alone.
	oneCost           []int64
	setupTook         time.Duration
	initial, rotation artifactPass
}

// bound is the rotation's allowed registry requests: what verifying each
// distinct artifact once costs, each measured alone.
func (r *artifactsResults) bound() int64 {
	var total int64
	for _, c := range r.oneCost {
		total += c
	}
	return total
}

func (b *bench) sharedArtifacts(ctx context.Context) error {
	l := &b.opts.large
	r := &b.res.large.artifacts
	r.ran, r.artifacts, r.namespaces, r.repos = true, l.ociArtifacts, l.ociNamespaces, l.ociNamespaces*l.ociPerNamespace
	phase := b.res.phase(fmt.Sprintf("shared artifacts: %d signed artifacts, %d OCIRepositories in %d namespaces", r.artifacts, r.repos, r.namespaces))
	defer phase.end()
	setup := time.Now()

	reg, err := registry.New(registry.Options{})
	if err != nil {
		return err
	}
	defer reg.Close()
	root := certs.NewCA("bench artifacts root")
	leaf := certs.NewCodeSigner("bench artifacts signing", root)
	second := certs.NewCA("bench artifacts second root")
	rm := tnotation.For(reg)
	repos := make([]string, r.artifacts)
	digests := make([]string, r.artifacts)
	for k := range repos {
		repos[k] = fmt.Sprintf("bench/app-%02d", k)
		ref := reg.Reference(repos[k])
		desc, err := tnotation.PushArtifact(ctx, rm, ref, "", fmt.Appendf(nil, "manifests of app %d", k))
		if err != nil {
			return err
		}
		if err := tnotation.Tag(ctx, rm, ref, desc, "v1"); err != nil {
			return err
		}
		if _, err := tnotation.Sign(ctx, rm, ref, desc, leaf, root); err != nil {
			return err
		}
		digests[k] = desc.Digest.String()
	}

	// What one verification costs, each artifact alone, with the
	// operator's engine and the trust data the policy renders.
	data, trustDigest, err := renderLike(root)
	if err != nil {
		return err
	}
	for k := range repos {
		v := verify.New(verify.Options{Timeout: 30 * time.Second, Concurrency: b.opts.verifyConc, PerRegistryConcurrency: b.opts.verifyPerRg})
		reg.ResetRequests()
		res := v.Verify(ctx, verify.Request{
			URL: "oci://" + reg.Reference(repos[k]), Revision: "v1@" + digests[k], Access: verify.Access{Insecure: true},
			TrustData: data, TrustDigest: trustDigest, Kind: "OCIRepository",
		}, time.Hour)
		if res.Outcome != verify.Verified {
			return fmt.Errorf("verifying %s alone: %s: %s", repos[k], res.Reason, res.Message)
		}
		r.oneCost = append(r.oneCost, reg.Requests())
	}
	logf("one verification alone costs %v registry requests (per artifact)", r.oneCost)

	if err := b.createOCIRepositories(ctx, reg, repos, digests); err != nil {
		return err
	}
	r.setupTook = time.Since(setup)

	ours := b.oursSystemWith(oursSpec{
		key: "ours", title: "verification-operator",
		cfg:        managerConfig{client: b.client, secretNames: []string{secretArtifacts, warmupSecret}},
		secretName: secretArtifacts, policy: func(int) string { return policyArtifacts },
	})
	if err := ours.start(ctx); err != nil {
		return err
	}
	defer ours.stop()
	nss := b.namespaces[:r.namespaces]

	// The policy: nobody answers a request to re-verify (no
	// source-controller runs), so reverify None; the verdict cache holds
	// for the whole scenario (ociRepositories.interval 1h).
	pol := b.policy(policyArtifacts, secretArtifacts, map[string]string{sizeLabel(r.namespaces): "true"}, root, time.Hour)
	if err := unstructured.SetNestedField(pol.Object, string(v1alpha1.ReverifyNone), "spec", "ociRepositories", "reverify"); err != nil {
		return err
	}
	r.initial, err = b.artifactPass(ctx, ours, reg, nss, []*x509.Certificate{root.Cert}, func() error {
		_, err := b.cluster.dyn.Resource(policyGVR).Create(ctx, pol, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("convergence: %w", err)
	}
	logf("artifacts, convergence: %s", r.initial)

	// The rotation adds a second root: the trust digest changes in every
	// namespace, and every artifact still verifies (it chains to the first).
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"certificates": []any{
		map[string]any{"name": certName, "inline": string(root.PEM())},
		map[string]any{"name": "bench-second-root", "inline": string(second.PEM())},
	}}})
	r.rotation, err = b.artifactPass(ctx, ours, reg, nss, []*x509.Certificate{root.Cert, second.Cert}, func() error {
		_, err := b.cluster.dyn.Resource(policyGVR).Patch(ctx, policyArtifacts, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("rotation: %w", err)
	}
	logf("artifacts, rotation: %s", r.rotation)

	ours.stop()
	if err := ours.cleanup(ctx, r.namespaces, nss); err != nil {
		return err
	}
	return parallel(ctx, 32, len(nss), func(ctx context.Context, i int) error {
		return b.cluster.dyn.Resource(ociGVR).Namespace(nss[i]).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	})
}

// createOCIRepositories creates -oci-per-namespace OCIRepositories in each
// of the first -oci-namespaces namespaces, round-robin over the artifacts,
// each with the status source-controller would have written after pulling
// it (status.artifact with the revision "v1@<digest>"): that revision is
// what the operator verifies, as Flux does; without a source-controller
// nobody else would set it.
func (b *bench) createOCIRepositories(ctx context.Context, reg *registry.Registry, repos, digests []string) error {
	l := &b.opts.large
	r := &b.res.large.artifacts
	perArtifact := make([]int, len(repos))
	for i := range r.repos {
		perArtifact[i%len(repos)]++
	}
	r.minPerArtifact, r.maxPerArtifact = perArtifact[0], perArtifact[0]
	for _, c := range perArtifact {
		r.minPerArtifact, r.maxPerArtifact = min(r.minPerArtifact, c), max(r.maxPerArtifact, c)
	}
	now := metav1.Now().UTC().Format(time.RFC3339)
	start := time.Now()
	err := parallel(ctx, 32, r.repos, func(ctx context.Context, i int) error {
		ns, k := b.namespaces[i/l.ociPerNamespace], i%len(repos)
		name := fmt.Sprintf("app-%d", i%l.ociPerNamespace)
		obj := testcluster.NotationOCIRepository(ns, name, reg.Reference(repos[k]), "v1", secretArtifacts)
		created, err := b.cluster.dyn.Resource(ociGVR).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		tarball := sha256.Sum256([]byte(repos[k] + digests[k]))
		status := map[string]any{
			"observedGeneration": created.GetGeneration(),
			"url":                fmt.Sprintf("http://source-controller.flux-system.svc.cluster.local./ocirepository/%s/%s/latest.tar.gz", ns, name),
			"artifact": map[string]any{
				"revision":       "v1@" + digests[k],
				"digest":         fmt.Sprintf("sha256:%x", tarball),
				"path":           fmt.Sprintf("ocirepository/%s/%s/%x.tar.gz", ns, name, tarball),
				"url":            fmt.Sprintf("http://source-controller.flux-system.svc.cluster.local./ocirepository/%s/%s/%x.tar.gz", ns, name, tarball),
				"lastUpdateTime": now,
			},
		}
		created.Object["status"] = status
		_, err = b.cluster.dyn.Resource(ociGVR).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("creating OCIRepositories: %w", err)
	}
	logf("created %d OCIRepositories (with status) in %s", r.repos, time.Since(start).Round(time.Millisecond))
	return nil
}

// verifierCounts are the manager's verification counters.
type verifierCounts struct{ verifications, hits int }

func verifierCountsOf(ms metricSet) verifierCounts {
	return verifierCounts{
		verifications: int(ms.sum("verification_operator_artifact_verification_duration_seconds_count", nil)),
		hits:          int(ms.sum("verification_operator_artifact_verification_cache_hits_total", nil)),
	}
}

// artifactPass applies a change to the artifacts policy and measures until
// its verdicts are complete: the registry requests it cost, the
// verifications the manager ran, the counts in the policy's status.
func (b *bench) artifactPass(ctx context.Context, s *system, reg *registry.Registry, nss []string, want []*x509.Certificate, apply func() error) (artifactPass, error) {
	var p artifactPass
	w, err := watchConvergence(ctx, b.cluster.kube, secretArtifacts, nss, matchOursSet(policyArtifacts, want...))
	if err != nil {
		return p, err
	}
	defer w.stop()
	ms, err := scrape(ctx, s.metricsURL)
	if err != nil {
		return p, err
	}
	before := verifierCountsOf(ms)
	reg.ResetRequests()
	start := time.Now()
	if err := apply(); err != nil {
		return p, err
	}
	secretsAt, _, err := w.wait(ctx, 15*time.Minute)
	if err != nil {
		return p, err
	}
	p.secretsAt = secretsAt.Sub(start)
	sec, err := b.cluster.kube.CoreV1().Secrets(nss[0]).Get(ctx, secretArtifacts, metav1.GetOptions{})
	if err != nil {
		return p, err
	}
	settledAt, pol, err := b.settle(ctx, s, reg, sec.Annotations[v1alpha1.TrustDigestAnnotation], b.res.large.artifacts.repos)
	if err != nil {
		p.notSettled = err.Error()
		settledAt = time.Now()
	}
	p.settledAt = settledAt.Sub(start)
	p.requests = reg.Requests()
	if ms, err = scrape(ctx, s.metricsURL); err != nil {
		return p, err
	}
	after := verifierCountsOf(ms)
	p.verifications, p.hits = after.verifications-before.verifications, after.hits-before.hits
	if pol != nil {
		p.oci, p.all = pol.Status.OCIRepositories, pol.Status.Artifacts
		for _, c := range pol.Status.Conditions {
			if c.Type == v1alpha1.ArtifactsVerifiedCondition {
				p.condition = fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
			}
		}
	}
	if p.writes, err = b.audit.writes(userOurs, start, settledAt); err != nil {
		return p, err
	}
	return p, nil
}

// settle waits until the artifacts policy's verdicts are complete for the
// trust digest now in the Secrets and nothing is left to do: the policy's
// status reports that digest and every OCIRepository matched and verified,
// the artifacts controller has nothing queued and no reconcile running,
// and the registry had no request, all of it for settleQuiet in a row. It
// returns when that quiet stretch began, and the policy.
func (b *bench) settle(ctx context.Context, s *system, reg *registry.Registry, digest string, total int) (time.Time, *v1alpha1.VerificationPolicy, error) {
	var (
		since    time.Time
		lastReqs = int64(-1)
		last     *v1alpha1.VerificationPolicy
	)
	deadline := time.Now().Add(15 * time.Minute)
	for time.Now().Before(deadline) {
		now, reqs := time.Now(), reg.Requests()
		pol, err := b.getPolicy(ctx, policyArtifacts)
		if err != nil {
			return now, last, err
		}
		last = pol
		ms, err := scrape(ctx, s.metricsURL)
		if err != nil {
			return now, last, err
		}
		st := pol.Status
		ok := st.TrustDigest == digest && int(st.OCIRepositories.Matched) == total && int(st.OCIRepositories.Verified) == total &&
			ms.sum("workqueue_depth", map[string]string{"name": "artifacts"}) == 0 &&
			ms.sum("controller_runtime_active_workers", map[string]string{"controller": "artifacts"}) == 0 &&
			reqs == lastReqs
		lastReqs = reqs
		switch {
		case !ok:
			since = time.Time{}
		case since.IsZero():
			since = now
		case now.Sub(since) >= settleQuiet:
			return since, pol, nil
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return now, last, err
		}
	}
	st := last.Status
	return time.Now(), last, fmt.Errorf("verdicts not settled within 15 minutes: status trust digest %s (want %s), OCIRepositories matched %d, verified %d, failed %d, pending %d of %d",
		st.TrustDigest, digest, st.OCIRepositories.Matched, st.OCIRepositories.Verified, st.OCIRepositories.Failed, st.OCIRepositories.Pending, total)
}

func (b *bench) getPolicy(ctx context.Context, name string) (*v1alpha1.VerificationPolicy, error) {
	u, err := b.cluster.dyn.Resource(policyGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var p v1alpha1.VerificationPolicy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p artifactPass) String() string {
	s := fmt.Sprintf("Secrets after %s, verdicts settled after %s: %d registry requests, %d verifications run, %d shared or cached; OCIRepositories matched %d, verified %d; %s API writes",
		p.secretsAt.Round(time.Millisecond), p.settledAt.Round(time.Millisecond), p.requests, p.verifications, p.hits, p.oci.Matched, p.oci.Verified, p.writes)
	if p.notSettled != "" {
		s += "; " + p.notSettled
	}
	return s
}
