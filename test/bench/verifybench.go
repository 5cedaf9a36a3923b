package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/controllers/verify"
	"github.com/flux-notation/verification-operator/test/certs"
	tnotation "github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"

	// The envelope formats, registered as Flux and our verifier do.
	_ "github.com/notaryproject/notation-core-go/signature/cose"
	_ "github.com/notaryproject/notation-core-go/signature/jws"
)

// verifyRun is one latency setting of the verification benchmark.
type verifyRun struct {
	latency time.Duration
	m       int

	seq         time.Duration
	seqRequests int64
	seqVerified int

	// par uses the manager's defaults (--verify-concurrency,
	// --verify-per-registry); alts raise the per-registry limit, to show
	// what bounds par.
	par                      time.Duration
	parRequests              int64
	parVerified              int
	concurrency, perRegistry int
	alts                     []altRun

	cached         time.Duration
	cachedRequests int64
	cachedHits     int
}

// latencyProxy sits in front of the registry, adds a fixed delay to every
// request (the round trip to a real registry) and counts requests.
type latencyProxy struct {
	server   *httptest.Server
	delay    atomic.Int64
	requests atomic.Int64
}

func newLatencyProxy(target string) (*latencyProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &latencyProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		if d := time.Duration(p.delay.Load()); d > 0 {
			time.Sleep(d)
		}
		rp.ServeHTTP(w, r)
	}))
	return p, nil
}

func (p *latencyProxy) host() string { return strings.TrimPrefix(p.server.URL, "http://") }

// altRun is VerifyAll with another per-registry limit.
type altRun struct {
	perRegistry int
	d           time.Duration
	requests    int64
	verified    int
}

type artifact struct{ repo, digest string }

// benchVerification pushes and signs m artifacts, then verifies them all
// after a rotation (trust data never seen before, so nothing is cached):
// sequentially with notation-go as Flux does one OCIRepository at a time,
// then with the operator's engine (verify.VerifyAll), then again from the
// engine's cache.
func benchVerification(ctx context.Context, m int, latencies []time.Duration, concurrency, perRegistry int, altPerRegistry []int, profileDir string, logf func(string, ...any)) ([]verifyRun, error) {
	reg, err := registry.New(registry.Options{})
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	proxy, err := newLatencyProxy(reg.URL())
	if err != nil {
		return nil, err
	}
	defer proxy.server.Close()

	// The rotation: artifacts are signed under the new root, which the
	// trust data now holds.
	root := certs.NewCA("bench release root 2")
	leaf := certs.NewCodeSigner("bench release signing", root)
	rm := tnotation.For(reg)
	items := make([]artifact, m)
	start := time.Now()
	err = parallel(ctx, 8, m, func(ctx context.Context, i int) error {
		repo := fmt.Sprintf("team-%03d/app", i)
		desc, err := tnotation.PushArtifact(ctx, rm, reg.Reference(repo), "", fmt.Appendf(nil, "manifests of team %d", i))
		if err != nil {
			return err
		}
		if _, err := tnotation.Sign(ctx, rm, reg.Reference(repo), desc, leaf, root); err != nil {
			return err
		}
		items[i] = artifact{repo: repo, digest: desc.Digest.String()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pushing and signing: %w", err)
	}
	logf("pushed and signed %d artifacts in %s", m, time.Since(start).Round(time.Millisecond))

	data, digest, err := renderLike(root)
	if err != nil {
		return nil, err
	}
	var doc trustpolicy.Document
	if err := json.Unmarshal(data[trustconfig.TrustPolicyKey], &doc); err != nil {
		return nil, err
	}

	var runs []verifyRun
	for _, lat := range latencies {
		proxy.delay.Store(int64(lat))
		r := verifyRun{latency: lat, m: m, concurrency: concurrency, perRegistry: perRegistry}
		reqs := make([]verify.Request, m)
		for i, it := range items {
			reqs[i] = verify.Request{
				URL:         "oci://" + proxy.host() + "/" + it.repo,
				Revision:    it.digest,
				Access:      verify.Access{Insecure: true},
				TrustData:   data,
				TrustDigest: digest,
			}
		}

		// Warm the registry's in-memory storage path once.
		if _, err := verifyOne(ctx, proxy.host(), items[0], &doc, root.Cert); err != nil {
			return nil, fmt.Errorf("warm-up verification: %w", err)
		}

		proxy.requests.Store(0)
		start = time.Now()
		for _, it := range items {
			ok, err := verifyOne(ctx, proxy.host(), it, &doc, root.Cert)
			if err != nil {
				return nil, err
			}
			if ok {
				r.seqVerified++
			}
		}
		r.seq, r.seqRequests = time.Since(start), proxy.requests.Load()

		pass := func(v *verify.Verifier, profile string) (time.Duration, int64, int, int) {
			if profile != "" {
				if f, err := os.Create(filepath.Join(profileDir, profile)); err == nil {
					defer f.Close() // after StopCPUProfile, deferred below, wrote
					if pprof.StartCPUProfile(f) == nil {
						defer pprof.StopCPUProfile()
					}
				}
			}
			proxy.requests.Store(0)
			start := time.Now()
			res := v.VerifyAll(ctx, reqs, time.Hour)
			d := time.Since(start)
			verified, hits := 0, 0
			for _, x := range res {
				if x.Outcome == verify.Verified {
					verified++
				}
				if x.CacheHit {
					hits++
				}
			}
			return d, proxy.requests.Load(), verified, hits
		}
		v := verify.New(verify.Options{Timeout: 30 * time.Second, Concurrency: concurrency, PerRegistryConcurrency: perRegistry})
		r.par, r.parRequests, r.parVerified, _ = pass(v, fmt.Sprintf("verifyall-latency-%s.cpu.pprof", lat))
		r.cached, r.cachedRequests, _, r.cachedHits = pass(v, "")
		alts := ""
		for _, pr := range altPerRegistry {
			a := altRun{perRegistry: pr}
			v := verify.New(verify.Options{Timeout: 30 * time.Second, Concurrency: concurrency, PerRegistryConcurrency: pr})
			a.d, a.requests, a.verified, _ = pass(v, "")
			if a.verified != m {
				return nil, fmt.Errorf("per-registry %d: %d of %d verified", pr, a.verified, m)
			}
			r.alts = append(r.alts, a)
			alts += fmt.Sprintf(", per-registry %d: %s", pr, a.d.Round(time.Millisecond))
		}
		logf("latency %s: sequential %s (%d verified), VerifyAll %s (%d verified)%s, cached %s with %d registry requests",
			lat, r.seq.Round(time.Millisecond), r.seqVerified, r.par.Round(time.Millisecond), r.parVerified,
			alts, r.cached.Round(time.Microsecond), r.cachedRequests)
		if r.seqVerified != m || r.parVerified != m || r.cachedHits != m {
			return nil, fmt.Errorf("not every artifact verified: sequential %d, parallel %d, cache hits %d of %d",
				r.seqVerified, r.parVerified, r.cachedHits, m)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// verifyOne is the no-operator baseline for one artifact: what Flux's
// NotationVerifier does for one OCIRepository, with notation-go directly: a
// fresh oras-go client and transport, verifier.New without plugins, and
// notation.Verify with at most 3 signatures.
func verifyOne(ctx context.Context, host string, it artifact, doc *trustpolicy.Document, roots ...*x509.Certificate) (bool, error) {
	repo, err := remote.NewRepository(host + "/" + it.repo)
	if err != nil {
		return false, err
	}
	repo.PlainHTTP = true
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	repo.Client = &auth.Client{Client: &http.Client{Transport: retry.NewTransport(transport)}, Cache: auth.NewCache()}
	v, err := verifier.New(doc, staticStore(roots), nil)
	if err != nil {
		return false, err
	}
	_, _, err = notation.Verify(ctx, v, notationregistry.NewRepository(repo), notation.VerifyOptions{
		ArtifactReference:    host + "/" + it.repo + "@" + it.digest,
		MaxSignatureAttempts: 3,
	})
	return err == nil, nil
}

// staticStore returns the same roots for every store, as Flux's does.
type staticStore []*x509.Certificate

func (s staticStore) GetCertificates(context.Context, truststore.Type, string) ([]*x509.Certificate, error) {
	return s, nil
}
