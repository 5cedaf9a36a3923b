package verify

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/registry"
)

// TestOperatorRenderedSecretVerifies closes the loop with the renderer: the
// Secret data the operator writes, with a CA bundle as its source, verifies
// signatures from every CA of the bundle (the renderer splits it, one
// certificate per key, because Flux reads only the first block of a key).
func TestOperatorRenderedSecretVerifies(t *testing.T) {
	w := newWorld(t, registry.Options{})
	first, second := newSigner("first root"), newSigner("second root")
	res, err := trustconfig.Render(trustconfig.Input{
		Statements: []v1alpha1.TrustPolicyStatement{{
			Name:                  "app",
			RegistryScopes:        []string{w.repo},
			SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"},
			TrustedIdentities:     []string{"*"},
		}},
		Sources: []trustconfig.Source{{Name: "roots", PEM: certs.Bundle(first.root, second.root)}},
	})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())

	for _, s := range []signer{first, second} {
		g := NewWithT(t)
		desc := w.push(s.root.Cert.Subject.CommonName)
		w.sign(desc, s)
		req := w.request(desc, res.Data)
		req.TrustDigest = res.TrustDigest
		r := New(Options{}).Verify(testContext(t), req, 0)
		expectResult(g, r, Verified, ReasonSucceeded)
	}
}
