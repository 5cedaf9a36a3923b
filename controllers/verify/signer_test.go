package verify

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/test/registry"
)

// Result.Signer names who signed what was verified, or rejected, so a
// person reading a verdict (kubectl vpol check) sees whose signature it is
// without fetching the envelope.
func TestResultNamesTheSigner(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	trusted, other := newSigner("trusted root"), newSigner("other root")
	signed, foreign, unsigned := w.push("signed"), w.push("foreign"), w.push("unsigned")
	w.sign(signed, trusted)
	w.sign(foreign, other)
	v := New(Options{})

	r := v.Verify(testContext(t), w.request(signed, w.trustFor(trusted.root)), 0)
	expectResult(g, r, Verified, ReasonSucceeded)
	g.Expect(r.Signer).To(Equal(trusted.leaf.Cert.Subject.String()))
	g.Expect(r.Signer).To(ContainSubstring("CN=trusted root release"))

	r = v.Verify(testContext(t), w.request(foreign, w.trustFor(trusted.root)), 0)
	expectResult(g, r, Failed, ReasonUntrustedSigner)
	g.Expect(r.Signer).To(Equal(other.leaf.Cert.Subject.String()), "the rejected signature's signer")

	r = v.Verify(testContext(t), w.request(unsigned, w.trustFor(trusted.root)), 0)
	expectResult(g, r, Failed, ReasonSignatureNotFound)
	g.Expect(r.Signer).To(BeEmpty())

	// A cached verdict keeps it.
	r = v.Verify(testContext(t), w.request(signed, w.trustFor(trusted.root)), time.Minute)
	g.Expect(r.CacheHit).To(BeTrue())
	g.Expect(r.Signer).To(Equal(trusted.leaf.Cert.Subject.String()))
}
