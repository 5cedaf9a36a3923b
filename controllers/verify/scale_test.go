package verify

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/test/registry"
)

// TestRotationOverAHundredRequests is the acceptance shape at the
// engine level: 10 artifacts, each referenced from 10 namespaces (same
// Secret data everywhere, as the operator renders it), verified cold, from
// the cache, and after a rotation to a new CA. It logs the timings.
func TestRotationOverAHundredRequests(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	oldCA, newCA := newSigner("old root"), newSigner("new root")

	trust := func(s signer) (map[string][]byte, string) {
		data := w.trustFor(s.root)
		return data, trustconfig.TrustDigest(data)
	}
	oldData, oldDigest := trust(oldCA)
	var reqs []Request
	for a := range 10 {
		desc := w.push(fmt.Sprintf("artifact %d", a))
		w.sign(desc, oldCA)
		if a%2 == 0 {
			w.sign(desc, newCA) // half were re-signed ahead of the rotation
		}
		for range 10 {
			req := w.request(desc, oldData)
			req.TrustDigest = oldDigest
			reqs = append(reqs, req)
		}
	}
	v := New(Options{})
	count := func(rs []Result) map[Outcome]int {
		out := map[Outcome]int{}
		for _, r := range rs {
			out[r.Outcome]++
		}
		return out
	}
	pass := func(name string) ([]Result, int64) {
		w.reg.ResetRequests()
		start := time.Now()
		rs := v.VerifyAll(testContext(t), reqs, time.Hour)
		t.Logf("%-8s %d requests in %v, %d registry requests, outcomes %v", name, len(reqs), time.Since(start), w.reg.Requests(), count(rs))
		return rs, w.reg.Requests()
	}

	cold, _ := pass("cold")
	g.Expect(count(cold)).To(Equal(map[Outcome]int{Verified: 100}))
	_, n := pass("cached")
	g.Expect(n).To(BeZero())

	newData, newDigest := trust(newCA)
	for i := range reqs {
		reqs[i].TrustData, reqs[i].TrustDigest = newData, newDigest
	}
	rotated, _ := pass("rotated")
	g.Expect(count(rotated)).To(Equal(map[Outcome]int{Verified: 50, Failed: 50}))
	for _, r := range rotated {
		if r.Outcome == Failed {
			g.Expect(r.Reason).To(Equal(ReasonUntrustedSigner))
		}
	}
}

// TestSharedArtifactsCostOneVerificationEach: 20 artifacts, each deployed
// from 100 namespaces, with tag references (no revision known, as before
// Flux's first pull): after a rotation the registry sees what 20
// verifications cost, whatever the number of requests.
func TestSharedArtifactsCostOneVerificationEach(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("shared root")
	data := w.trustFor(s.root)
	var one []Request
	for a := range 20 {
		tag := fmt.Sprintf("v%d", a)
		desc := w.push(fmt.Sprintf("shared %d", a), tag)
		w.sign(desc, s)
		req := w.request(desc, data)
		req.Revision, req.Ref = "", Reference{Tag: tag}
		one = append(one, req)
	}
	// What one verification of each costs, on a verifier of its own.
	w.reg.ResetRequests()
	for _, r := range New(Options{}).VerifyAll(testContext(t), one, 0) {
		expectResult(g, r, Verified, ReasonSucceeded)
	}
	perArtifact := w.reg.Requests()

	var reqs []Request
	for _, r := range one {
		for range 100 {
			reqs = append(reqs, r)
		}
	}
	w.reg.ResetRequests()
	results := New(Options{}).VerifyAll(testContext(t), reqs, 0)
	for _, r := range results {
		expectResult(g, r, Verified, ReasonSucceeded)
	}
	t.Logf("%d requests for 20 artifacts: %d registry requests (one verification of each: %d)", len(reqs), w.reg.Requests(), perArtifact)
	g.Expect(w.reg.Requests()).To(Equal(perArtifact))
}
