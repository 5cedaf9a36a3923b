package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/registry"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"github.com/flux-notation/verification-operator/controllers/trustconfig"

	// Register the envelope formats notation-go can verify, as Flux does.
	_ "github.com/notaryproject/notation-core-go/signature/cose"
	_ "github.com/notaryproject/notation-core-go/signature/jws"
)

// maxSignatureAttempts is Flux's limit of signatures tried per artifact.
const maxSignatureAttempts = 3

// Verifier verifies artifacts. It is safe for concurrent use; its cache and
// registry gates are shared by all calls.
type Verifier struct {
	opts    Options
	gates   *gates
	cache   *verdictCache
	flight  singleflight.Group
	metrics *metricSet
}

// FailedRecheck is how soon a Failed verdict may be re-checked at the
// earliest (Options.FailedRecheck): callers with failing artifacts look
// again that often, and the cache decides whether it is time.
func (v *Verifier) FailedRecheck() time.Duration { return v.opts.FailedRecheck }

// New returns a Verifier.
func New(o Options) *Verifier {
	o = o.withDefaults()
	return &Verifier{
		opts:    o,
		gates:   newGates(o),
		cache:   newVerdictCache(o.CacheSize, o.FailedRecheck),
		metrics: verifierMetrics(),
	}
}

// Verify verifies one artifact. A verdict (Verified, Failed from the
// signatures, Ignored) for the same repository, digest and trust digest
// established less than maxAge ago is returned from the cache; when the
// digest is known without the registry (from req.Revision or
// req.Ref.Digest), such a hit makes no registry request at all. Otherwise
// the tag or semver range is resolved first (a HEAD request, or the tag
// list and a HEAD), and then the cache is consulted. maxAge <= 0 always
// verifies.
func (v *Verifier) Verify(ctx context.Context, req Request, maxAge time.Duration) Result {
	start := time.Now()
	if req.NoCache {
		maxAge = 0
	}
	res := v.verify(ctx, req, maxAge)
	v.metrics.observe(req.Kind, res, time.Since(start))
	return res
}

// VerifyAll verifies reqs concurrently and returns their results in order.
// Each request gets a goroutine, which is cheap while it waits; the
// registry work itself is bounded by Options.Concurrency and
// PerRegistryConcurrency, so a dead registry delays only its own requests.
//
// Identical requests (the same artifact reference, revision, access
// settings and trust: one artifact deployed from many namespaces) are
// verified once and share the result, marked CacheHit for all but one.
func (v *Verifier) VerifyAll(ctx context.Context, reqs []Request, maxAge time.Duration) []Result {
	results := make([]Result, len(reqs))
	leaders := map[requestKey]int{}
	copies := map[int][]int{}
	for i := range reqs {
		k := keyOf(reqs[i])
		if l, ok := leaders[k]; ok {
			copies[l] = append(copies[l], i)
			continue
		}
		leaders[k] = i
	}
	var wg sync.WaitGroup
	for _, i := range leaders {
		wg.Go(func() {
			results[i] = v.Verify(ctx, reqs[i], maxAge)
			for _, j := range copies[i] {
				r := results[i]
				r.CacheHit = true
				results[j] = r
				v.metrics.observe(reqs[j].Kind, r, 0)
			}
		})
	}
	wg.Wait()
	return results
}

// requestKey is what makes two requests the same verification.
type requestKey struct {
	url      string
	ref      Reference
	revision string
	access   string
	trust    string
	noCache  bool
}

func keyOf(r Request) requestKey {
	trust := r.TrustDigest
	if trust == "" {
		trust = trustconfig.TrustDigest(r.TrustData)
	}
	return requestKey{url: r.URL, ref: r.Ref, revision: r.Revision, access: accessDigest(r.Access), trust: trust, noCache: r.NoCache}
}

// job is one verification once its inputs are parsed.
type job struct {
	req       Request
	repo      name.Repository
	verifier  notation.Verifier
	trustHash string
	// accessHash identifies the access settings: a verdict reached with
	// one namespace's credentials is not another's (it may not be able to
	// read the artifact at all).
	accessHash string
}

func (v *Verifier) verify(ctx context.Context, req Request, maxAge time.Duration) Result {
	j, early := v.prepare(req)
	if early != nil {
		return v.finish(*early)
	}

	dgst, tag, known, err := knownDigest(req)
	if err != nil {
		return v.finish(failed(ReasonInvalidReference, err.Error()))
	}
	if !known {
		return v.resolveAndVerify(ctx, j, maxAge)
	}

	key := j.cacheKey(dgst)
	if r, ok := v.cache.get(key, maxAge, v.opts.Now()); ok {
		r.CacheHit = true
		return r
	}
	return v.verifyShared(ctx, j, key, dgst, revisionString(tag, dgst))
}

// prepare parses everything that needs no registry: the trust material
// (including notation-go's validation of the policy) and the URL.
func (v *Verifier) prepare(req Request) (*job, *verdict) {
	// verifier.New validates the policy, so a bad one is reported before
	// queueing for a registry.
	var nv notation.Verifier
	trust, err := readTrust(req.TrustData)
	if err == nil {
		nv, err = trust.newNotationVerifier()
	}
	if err != nil {
		vd := failed(ReasonInvalidTrustConfig, fluxPrefix+err.Error())
		return nil, &vd
	}
	repo, err := parseRepository(req.URL, req.Access.Insecure)
	if err != nil {
		vd := failed(ReasonInvalidReference, fmt.Sprintf("URL validation failed for '%s': %s", req.URL, err))
		return nil, &vd
	}
	hash := req.TrustDigest
	if hash == "" {
		hash = trustconfig.TrustDigest(req.TrustData)
	}
	return &job{req: req, repo: repo, verifier: nv, trustHash: hash, accessHash: accessDigest(req.Access)}, nil
}

// knownDigest returns the digest that needs no registry: the revision's
// (what Flux last pulled and verified) or spec.ref.digest.
func knownDigest(req Request) (digest.Digest, string, bool, error) {
	if d, tag, ok, err := digestFromRevision(req.Revision); err != nil || ok {
		return d, tag, ok, err
	}
	d, ok, err := staticDigest(req.Ref)
	return d, "", ok, err
}

func (j *job) cacheKey(dgst digest.Digest) cacheKey {
	return cacheKey{repository: j.repo.Name(), digest: dgst.String(), trust: j.trustHash, access: j.accessHash}
}

// verifyShared verifies a known digest, sharing the work with identical
// requests in flight: after a trust rotation the same artifact is typically
// referenced from many namespaces at once. Requests share only when their
// access settings are identical too, since those decide whether the
// registry can be read at all.
func (v *Verifier) verifyShared(ctx context.Context, j *job, key cacheKey, dgst digest.Digest, revision string) Result {
	flightKey := key.repository + "\x00" + key.digest + "\x00" + key.trust + "\x00" + key.access
	led := false
	ch := v.flight.DoChan(flightKey, func() (any, error) {
		led = true
		return v.withRegistry(ctx, j, func(ctx context.Context, c *registryClient) verdict {
			return v.runNotation(ctx, c, j, key, dgst, revision)
		}), nil
	})
	var res Result
	select {
	case r := <-ch:
		res = r.Val.(Result)
		switch {
		case led:
		case res.Reason == ReasonCanceled && ctx.Err() == nil:
			// The leader's caller gave up, not ours: do the work ourselves.
			res = v.withRegistry(ctx, j, func(ctx context.Context, c *registryClient) verdict {
				return v.runNotation(ctx, c, j, key, dgst, revision)
			})
		default:
			res.CacheHit = true
		}
	case <-ctx.Done():
		res = v.finish(canceled(ctx.Err()))
	}
	// Results decided before notation ran (no slot, bad access) still say
	// which artifact they are about.
	if res.Digest == "" {
		res.Digest, res.Revision = dgst.String(), revision
	}
	return res
}

// resolveAndVerify handles a request without a known digest: resolve
// spec.ref, then consult the cache, then verify, all under one registry
// slot.
func (v *Verifier) resolveAndVerify(ctx context.Context, j *job, maxAge time.Duration) Result {
	return v.withRegistry(ctx, j, func(ctx context.Context, c *registryClient) verdict {
		dgst, tag, err := resolveRef(ctx, c.repo, j.repo, j.req.Ref)
		if err != nil {
			return classifyResolveError(err)
		}
		key := j.cacheKey(dgst)
		revision := revisionString(tag, dgst)
		if r, ok := v.cache.get(key, maxAge, v.opts.Now()); ok {
			r.CacheHit = true
			return verdict{Result: r}
		}
		return v.runNotation(ctx, c, j, key, dgst, revision)
	})
}

// withRegistry runs fn with a registry client, a host slot, a global slot
// and the timeout, and turns its verdict into a Result.
func (v *Verifier) withRegistry(ctx context.Context, j *job, fn func(context.Context, *registryClient) verdict) Result {
	client, err := newRegistryClient(j.repo, j.req.Access, v.opts)
	if err != nil {
		var access *accessError
		if errors.As(err, &access) {
			return v.finish(failed(ReasonRegistryAuthFailed, err.Error()))
		}
		return v.finish(failed(ReasonInvalidReference, err.Error()))
	}
	defer client.close()

	host := j.repo.RegistryStr()
	release, err := v.gates.acquire(ctx, host)
	if err != nil {
		var down *hostDownError
		if errors.As(err, &down) {
			return v.finish(verdict{Result: Result{Outcome: Unavailable, Reason: ReasonRegistryUnreachable, Message: err.Error()}})
		}
		return v.finish(canceled(err))
	}
	defer release()

	workCtx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	vd := fn(workCtx, client)
	switch {
	case ctx.Err() != nil:
		// The caller's context ended: say so, and do not blame the host.
		vd = canceled(ctx.Err())
	case vd.hostDown:
		v.gates.markDown(host, sanitize(vd.Message, client.secrets))
	case vd.Outcome != Unavailable:
		v.gates.markUp(host)
	}
	vd.Message = sanitize(vd.Message, client.secrets)
	return v.finish(vd)
}

// runNotation is Flux's NotationVerifier.Verify for one digest, with the
// verdict cached when it depends only on the artifact and the trust.
func (v *Verifier) runNotation(ctx context.Context, c *registryClient, j *job, key cacheKey, dgst digest.Digest, revision string) verdict {
	vd := v.notationVerify(ctx, c, j, dgst, revision)
	vd.Digest, vd.Revision = dgst.String(), revision
	vd.CheckedAt = v.opts.Now()
	vd.Message = sanitize(vd.Message, c.secrets)
	if vd.cacheable && ctx.Err() == nil {
		v.cache.put(key, vd.Result)
	}
	return vd
}

func (v *Verifier) notationVerify(ctx context.Context, c *registryClient, j *job, dgst digest.Digest, revision string) verdict {
	observedV := &observedVerifier{inner: j.verifier}
	observedR := &observedRepository{Repository: registry.NewRepository(c.repo)}
	ref := artifactReference(j.repo, dgst)
	_, outcomes, err := notation.Verify(ctx, observedV, observedR, notation.VerifyOptions{
		ArtifactReference:    ref,
		MaxSignatureAttempts: maxSignatureAttempts,
	})
	if err != nil {
		return classifyFailure(err, observedR.err, observedV.outcomes)
	}
	return classifySuccess(outcomes, ref, revision)
}

// classifyResolveError reports a failure to find the digest with Flux's
// wording.
func classifyResolveError(err error) verdict {
	var bad *resolveError
	var none *notFoundError
	switch {
	case errors.As(err, &bad):
		return failed(ReasonInvalidReference, "failed to determine the artifact tag: "+err.Error())
	case errors.As(err, &none):
		return failed(ReasonDigestNotFound, "failed to determine the artifact tag: "+err.Error())
	default:
		return classifyRegistryError(err, "failed to determine artifact digest: "+err.Error())
	}
}

// finish stamps a verdict that did not go through runNotation.
func (v *Verifier) finish(vd verdict) Result {
	if vd.CheckedAt.IsZero() {
		vd.CheckedAt = v.opts.Now()
	}
	return vd.Result
}

func canceled(err error) verdict {
	return verdict{Result: Result{Outcome: Unavailable, Reason: ReasonCanceled, Message: "verification canceled: " + err.Error()}}
}

// accessDigest identifies access settings without keeping them.
func accessDigest(a Access) string {
	h := sha256.New()
	fmt.Fprintf(h, "%t\x00", a.Insecure)
	for _, c := range a.DockerConfigJSONs {
		fmt.Fprintf(h, "%d\x00%s\x00", len(c), c)
	}
	for _, b := range [][]byte{a.CAPEM, a.CertPEM, a.KeyPEM} {
		fmt.Fprintf(h, "%d\x00%s\x00", len(b), b)
	}
	if b := a.BasicAuth; b != nil {
		fmt.Fprintf(h, "basic\x00%d\x00%s\x00%d\x00%s\x00", len(b.Username), b.Username, len(b.Password), b.Password)
	}
	return hex.EncodeToString(h.Sum(nil))
}
