package verify

import (
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/test/registry"
)

// TestSecondPassMakesNoRegistryRequests is the cache contract: with the
// digest known from the revision, a pass within maxAge touches no registry;
// a new trust digest, an older verdict or a new digest verifies again.
func TestSecondPassMakesNoRegistryRequests(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	trusted, other := newSigner("trusted root"), newSigner("other root")

	var reqs []Request
	trust := w.trustFor(trusted.root)
	for i := range 6 {
		desc := w.push(fmt.Sprintf("artifact %d", i))
		switch i % 3 {
		case 0:
			w.sign(desc, trusted) // Verified
		case 1:
			w.sign(desc, other) // Failed
		}
		req := w.request(desc, trust)
		req.TrustDigest = trustconfig.TrustDigest(trust)
		reqs = append(reqs, req)
	}

	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	v := New(Options{Now: clock})
	const maxAge = 10 * time.Minute

	first := v.VerifyAll(testContext(t), reqs, maxAge)
	for i, r := range first {
		g.Expect(r.CacheHit).To(BeFalse())
		g.Expect(r.Outcome).To(Equal([]Outcome{Verified, Failed, Failed}[i%3]), r.Message)
	}

	// Within FailedRecheck (30 s) every verdict comes from the cache.
	w.reg.ResetRequests()
	advance(29 * time.Second)
	second := v.VerifyAll(testContext(t), reqs, maxAge)
	g.Expect(w.reg.Requests()).To(BeZero())
	for i, r := range second {
		g.Expect(r.CacheHit).To(BeTrue())
		g.Expect(r.Outcome).To(Equal(first[i].Outcome))
		g.Expect(r.Reason).To(Equal(first[i].Reason))
		g.Expect(r.CheckedAt).To(Equal(first[i].CheckedAt))
	}
	// Up to maxAge, verified ones still do; failed ones are checked again
	// (an artifact that fails is often re-signed soon after).
	advance(maxAge - 30*time.Second)
	for i, r := range v.VerifyAll(testContext(t), reqs, maxAge) {
		g.Expect(r.CacheHit).To(Equal(first[i].Outcome == Verified), "artifact %d (%s)", i, first[i].Outcome)
		g.Expect(r.Outcome).To(Equal(first[i].Outcome))
	}
	g.Expect(w.reg.Requests()).To(BeNumerically(">", 0))
	w.reg.ResetRequests()

	// A rotation: the same artifacts against other trust are re-verified.
	rotated := w.trustFor(other.root)
	for i := range reqs {
		reqs[i].TrustData, reqs[i].TrustDigest = rotated, trustconfig.TrustDigest(rotated)
	}
	third := v.VerifyAll(testContext(t), reqs, maxAge)
	g.Expect(w.reg.Requests()).To(BeNumerically(">", 0))
	for i, r := range third {
		g.Expect(r.CacheHit).To(BeFalse())
		g.Expect(r.Outcome).To(Equal([]Outcome{Failed, Verified, Failed}[i%3]), r.Message)
	}

	// Verdicts age out.
	w.reg.ResetRequests()
	advance(maxAge)
	for _, r := range v.VerifyAll(testContext(t), reqs, maxAge) {
		g.Expect(r.CacheHit).To(BeFalse())
	}
	g.Expect(w.reg.Requests()).To(BeNumerically(">", 0))
}

// TestTagRefsResolveBeforeTheCache: without a revision the tag must be
// resolved, one HEAD request, but the signatures are not fetched again.
func TestTagRefsResolveBeforeTheCache(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1", "v1")
	w.sign(desc, s)

	req := w.request(desc, w.trustFor(s.root))
	req.Revision, req.Ref = "", Reference{Tag: "v1"}
	v := New(Options{})
	expectResult(g, v.Verify(testContext(t), req, time.Hour), Verified, ReasonSucceeded)

	w.reg.ResetRequests()
	r := v.Verify(testContext(t), req, time.Hour)
	expectResult(g, r, Verified, ReasonSucceeded)
	g.Expect(r.CacheHit).To(BeTrue())
	g.Expect(w.reg.Requests()).To(BeEquivalentTo(1))
}

// TestIdenticalRequestsShareOneVerification: the same artifact referenced
// from many namespaces costs one verification.
func TestIdenticalRequestsShareOneVerification(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")
	w.sign(desc, s)
	req := w.request(desc, w.trustFor(s.root))

	w.reg.ResetRequests()
	expectResult(g, New(Options{}).Verify(testContext(t), req, time.Hour), Verified, ReasonSucceeded)
	one := w.reg.Requests()

	w.reg.ResetRequests()
	reqs := make([]Request, 20)
	for i := range reqs {
		reqs[i] = req
	}
	hits := 0
	for _, r := range New(Options{}).VerifyAll(testContext(t), reqs, time.Hour) {
		expectResult(g, r, Verified, ReasonSucceeded)
		if r.CacheHit {
			hits++
		}
	}
	g.Expect(hits).To(Equal(len(reqs) - 1))
	g.Expect(w.reg.Requests()).To(Equal(one))
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	g := NewWithT(t)
	c := newVerdictCache(2, 30*time.Second)
	now := time.Now()
	key := func(i int) cacheKey { return cacheKey{repository: "r", digest: fmt.Sprint(i), trust: "t"} }
	c.put(key(1), Result{Reason: "1", CheckedAt: now})
	c.put(key(2), Result{Reason: "2", CheckedAt: now})
	_, ok := c.get(key(1), time.Minute, now) // 1 is now the most recent
	g.Expect(ok).To(BeTrue())
	c.put(key(3), Result{Reason: "3", CheckedAt: now})

	_, ok = c.get(key(2), time.Minute, now)
	g.Expect(ok).To(BeFalse())
	_, ok = c.get(key(1), time.Minute, now)
	g.Expect(ok).To(BeTrue())
	g.Expect(c.len()).To(Equal(2))

	_, ok = c.get(key(1), 0, now)
	g.Expect(ok).To(BeFalse(), "maxAge 0 disables the cache")
	_, ok = c.get(key(1), time.Minute, now.Add(time.Minute))
	g.Expect(ok).To(BeFalse(), "an entry exactly maxAge old is stale")
}

// A Failed verdict is trusted for 30 s, then 60 s for each further failure
// in a row, however many (a re-signed artifact is seen within a minute),
// never more than maxAge; a Verified one for maxAge; a success resets the
// backoff.
func TestFailedVerdictsAreRecheckedSoonerAndBackOff(t *testing.T) {
	g := NewWithT(t)
	c := newVerdictCache(10, 30*time.Second)
	k := cacheKey{repository: "r", digest: "d", trust: "t"}
	at := time.Unix(1000, 0)
	trusted := func(after time.Duration) bool {
		_, ok := c.get(k, 10*time.Minute, at.Add(after))
		return ok
	}
	c.put(k, Result{Outcome: Failed, CheckedAt: at})
	g.Expect(trusted(29 * time.Second)).To(BeTrue())
	g.Expect(trusted(30*time.Second)).To(BeFalse(), "first failure: re-checked after 30 s")
	c.put(k, Result{Outcome: Failed, CheckedAt: at})
	g.Expect(trusted(59 * time.Second)).To(BeTrue())
	g.Expect(trusted(60*time.Second)).To(BeFalse(), "second failure in a row: 60 s")
	for range 10 {
		c.put(k, Result{Outcome: Failed, CheckedAt: at})
	}
	g.Expect(trusted(59 * time.Second)).To(BeTrue())
	g.Expect(trusted(60*time.Second)).To(BeFalse(), "the twelfth failure in a row: still 60 s")
	_, ok := c.get(k, 45*time.Second, at.Add(45*time.Second))
	g.Expect(ok).To(BeFalse(), "never beyond maxAge")
	c.put(k, Result{Outcome: Verified, CheckedAt: at})
	g.Expect(trusted(9*time.Minute)).To(BeTrue(), "a verified verdict lasts maxAge")
	c.put(k, Result{Outcome: Failed, CheckedAt: at})
	g.Expect(trusted(30*time.Second)).To(BeFalse(), "a success resets the backoff")
}
