package verify

// A registry that hangs, is down, answers garbage or serves huge responses
// must cost a bounded time and memory, and must not hold up the others.

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	. "github.com/onsi/gomega"

	tnotation "github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

func TestHangingRegistryTimesOutWithoutBlockingOthers(t *testing.T) {
	g := NewWithT(t)
	good := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := good.push("v1")
	good.sign(desc, s)
	hanging := registry.StartHanging(t)

	// Long enough that the good request, verified meanwhile, beats it on a
	// loaded machine.
	const timeout = 3 * time.Second
	v := New(Options{Timeout: timeout, PerRegistryConcurrency: 1, Concurrency: 2})

	anywhere := trustData(t, []trustpolicy.TrustPolicy{statement("*")}, s.root)
	stuck := func() Request {
		req := good.request(desc, anywhere)
		req.URL = "oci://" + hanging.Host() + "/app"
		return req
	}
	// Three requests for the hanging registry, with one slot for it: the
	// first waits out the timeout, the others fail fast on its back-off
	// instead of each waiting in turn.
	reqs := []Request{stuck(), stuck(), good.request(desc, good.trustFor(s.root)), stuck()}

	start := time.Now()
	results := v.VerifyAll(testContext(t), reqs, 0)
	elapsed := time.Since(start)

	expectResult(g, results[2], Verified, ReasonSucceeded)
	g.Expect(results[2].CheckedAt.Sub(start)).To(BeNumerically("<", timeout), "the good registry waited for the hanging one")
	for _, i := range []int{0, 1, 3} {
		expectResult(g, results[i], Unavailable, ReasonRegistryUnreachable)
		g.Expect(results[i].Digest).To(Equal(desc.Digest.String()))
	}
	g.Expect(elapsed).To(BeNumerically(">=", timeout))
	g.Expect(elapsed).To(BeNumerically("<", 2*timeout), "requests for the dead registry waited out the timeout in turn")
	g.Expect(hanging.Accepted()).To(BeNumerically(">=", 1))

	// Unavailable is never cached.
	g.Expect(v.cache.len()).To(Equal(1))
}

func TestRegistryDownIsUnavailable(t *testing.T) {
	g := NewWithT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	host := ln.Addr().String()
	g.Expect(ln.Close()).To(Succeed()) // nothing listens there now

	s := newSigner("trusted root")
	req := Request{
		URL:       "oci://" + host + "/app",
		Revision:  someDigest,
		Access:    Access{Insecure: true},
		TrustData: trustData(t, []trustpolicy.TrustPolicy{statement("*")}, s.root),
	}

	start := time.Now()
	r := New(Options{Timeout: 5 * time.Second}).Verify(testContext(t), req, 0)
	expectResult(g, r, Unavailable, ReasonRegistryUnreachable)
	g.Expect(r.Message).To(ContainSubstring("connection refused"))
	g.Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
}

func TestGarbageRegistryFailsCleanly(t *testing.T) {
	g := NewWithT(t)
	garbage := registry.StartGarbage(t)
	s := newSigner("trusted root")
	scope := garbage.Host() + "/app"
	base := Request{
		URL:       "oci://" + scope,
		Access:    Access{Insecure: true},
		TrustData: trustData(t, []trustpolicy.TrustPolicy{statement(scope)}, s.root),
	}

	byDigest := base
	byDigest.Revision = someDigest
	bySemver := base
	bySemver.Ref = Reference{SemVer: "1.x"}
	byTag := base
	byTag.Ref = Reference{Tag: "v1"}

	for name, req := range map[string]Request{"digest": byDigest, "semver": bySemver, "tag": byTag} {
		r := New(Options{}).Verify(testContext(t), req, 0)
		g.Expect(r.Outcome).To(Or(Equal(Failed), Equal(Unavailable)), name)
		g.Expect(r.Reason).To(Equal(ReasonInvalidRegistryResponse), "%s: %s", name, r.Message)
	}
	g.Expect(garbage.Requests()).To(BeNumerically(">", 0))
}

// countingTransport counts the response body bytes the client reads.
type countingTransport struct {
	next http.RoundTripper
	read *atomic.Int64
}

func (c countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err == nil {
		resp.Body = countingBody{resp.Body, c.read}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	read *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read.Add(int64(n))
	return n, err
}

// TestOversizedSignatureIsRefusedUnread: a 10 MiB "envelope" is refused on
// its declared size; the client reads almost nothing of it.
func TestOversizedSignatureIsRefusedUnread(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")
	huge := []byte(strings.Repeat("A", 10<<20))
	_, err := tnotation.PushSignature(testContext(t), w.remote, w.repo, desc, tnotation.JWS, huge)
	g.Expect(err).NotTo(HaveOccurred())

	var read atomic.Int64
	v := New(Options{WrapTransport: func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, &read} }})
	r := v.Verify(testContext(t), w.request(desc, w.trustFor(s.root)), 0)
	expectResult(g, r, Failed, ReasonResponseTooLarge)
	g.Expect(r.Message).To(ContainSubstring("10485760 bytes exceeds the 4194304-byte limit"))
	g.Expect(read.Load()).To(BeNumerically("<", 64<<10), "bytes read from the registry")
}
