package verify

// These tests pin the Flux semantics against a real registry and real
// notation-go signatures: what verifies, what fails and why, and the ways
// Flux reads the Secret that differ from the Notation CLI.

import (
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/controllers/trustconfig"
	"github.com/flux-notation/verification-operator/test/certs"
	tnotation "github.com/flux-notation/verification-operator/test/notation"
	"github.com/flux-notation/verification-operator/test/registry"
)

func TestTrustedSignatureVerifies(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1", "v1")
	w.sign(desc, s)

	req := w.request(desc, w.trustFor(s.root))
	req.Revision = "v1@" + desc.Digest.String()
	r := New(Options{}).Verify(testContext(t), req, 0)

	expectResult(g, r, Verified, ReasonSucceeded)
	g.Expect(r.Message).To(Equal("verified signature of revision v1@" + desc.Digest.String()))
	g.Expect(r.Digest).To(Equal(desc.Digest.String()))
	g.Expect(r.Revision).To(Equal(req.Revision))
	g.Expect(r.CacheHit).To(BeFalse())
	g.Expect(r.CheckedAt).NotTo(BeZero())
}

func TestCOSESignatureVerifies(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")
	_, err := tnotation.SignWithOptions(testContext(t), w.remote, w.repo, desc, tnotation.SignOptions{MediaType: tnotation.COSE}, s.leaf, s.root)
	g.Expect(err).NotTo(HaveOccurred())

	r := New(Options{}).Verify(testContext(t), w.request(desc, w.trustFor(s.root)), 0)
	expectResult(g, r, Verified, ReasonSucceeded)
}

func TestSignatureFromAnotherCAFails(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	trusted, other := newSigner("trusted root"), newSigner("other root")
	desc := w.push("v1")
	w.sign(desc, other)

	r := New(Options{}).Verify(testContext(t), w.request(desc, w.trustFor(trusted.root)), 0)
	expectResult(g, r, Failed, ReasonUntrustedSigner)
	// Flux's SourceVerified=False message, on one line.
	g.Expect(r.Message).To(HavePrefix("failed to verify the signature using provider 'notation': "))
	g.Expect(r.Message).To(ContainSubstring("the signature's certificate chain does not contain any trusted certificate"))
	g.Expect(r.Message).NotTo(ContainSubstring("\n"))
}

func TestUnsignedArtifactFails(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")

	r := New(Options{}).Verify(testContext(t), w.request(desc, w.trustFor(s.root)), 0)
	expectResult(g, r, Failed, ReasonSignatureNotFound)
	g.Expect(r.Message).To(ContainSubstring("no signature is associated with"))
}

func TestTrustedIdentityMismatchFails(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")
	w.sign(desc, s)

	st := statement(w.repo)
	st.TrustedIdentities = []string{"x509.subject: CN=someone else, O=verification-operator tests, ST=WA, C=US"}
	r := New(Options{}).Verify(testContext(t), w.request(desc, trustData(t, []trustpolicy.TrustPolicy{st}, s.root)), 0)
	expectResult(g, r, Failed, ReasonIdentityMismatch)

	// The same identity spelled as the leaf's subject verifies.
	st.TrustedIdentities = []string{"x509.subject: CN=trusted root release, O=verification-operator tests, ST=WA, C=US"}
	r = New(Options{}).Verify(testContext(t), w.request(desc, trustData(t, []trustpolicy.TrustPolicy{st}, s.root)), 0)
	expectResult(g, r, Verified, ReasonSucceeded)
}

func TestAuditAndSkipAreIgnored(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	trusted, other := newSigner("trusted root"), newSigner("other root")
	desc := w.push("v1")
	w.sign(desc, other)

	audit := statement(w.repo)
	audit.SignatureVerification.VerificationLevel = trustpolicy.LevelAudit.Name
	r := New(Options{}).Verify(testContext(t), w.request(desc, trustData(t, []trustpolicy.TrustPolicy{audit}, trusted.root)), 0)
	expectResult(g, r, Ignored, ReasonAuditOnly)
	g.Expect(r.Message).To(ContainSubstring("does not contain any trusted certificate"))

	// Audit only logs authenticity, so notation-go accepts the first
	// signature it tries and stops there: a trusted second signature does
	// not turn the result into Verified, in Flux either.
	w.sign(desc, trusted)
	r = New(Options{}).Verify(testContext(t), w.request(desc, trustData(t, []trustpolicy.TrustPolicy{audit}, trusted.root)), 0)
	expectResult(g, r, Ignored, ReasonAuditOnly)

	// Audit with only a trusted signature is simply verified.
	signed := w.push("v2")
	w.sign(signed, trusted)
	r = New(Options{}).Verify(testContext(t), w.request(signed, trustData(t, []trustpolicy.TrustPolicy{audit}, trusted.root)), 0)
	expectResult(g, r, Verified, ReasonSucceeded)

	// Skip is decided from the policy alone; Flux strips stores and
	// identities from skip statements, so these do not invalidate it.
	skip := statement(w.repo)
	skip.SignatureVerification.VerificationLevel = trustpolicy.LevelSkip.Name
	w.reg.ResetRequests()
	r = New(Options{}).Verify(testContext(t), w.request(desc, trustData(t, []trustpolicy.TrustPolicy{skip}, trusted.root)), 0)
	expectResult(g, r, Ignored, ReasonSkipped)
	g.Expect(w.reg.Requests()).To(BeZero())
}

// TestOnlyTheFirstPEMBlockOfAKeyIsRead proves the Secret is read as Flux
// reads it: a CA bundle under one key loses all but its first certificate.
func TestOnlyTheFirstPEMBlockOfAKeyIsRead(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	trusted, decoy := newSigner("trusted root"), newSigner("decoy root")
	desc := w.push("v1")
	w.sign(desc, trusted)

	data := w.trustFor()
	data["bundle.crt"] = certs.Bundle(decoy.root, trusted.root)
	r := New(Options{}).Verify(testContext(t), w.request(desc, data), 0)
	expectResult(g, r, Failed, ReasonUntrustedSigner)

	data["bundle.crt"] = certs.Bundle(trusted.root, decoy.root)
	r = New(Options{}).Verify(testContext(t), w.request(desc, data), 0)
	expectResult(g, r, Verified, ReasonSucceeded)

	// Raw DER is read too, and keys that are not .crt or .pem are not.
	data = w.trustFor()
	data["root.pem"] = trusted.root.Cert.Raw
	r = New(Options{}).Verify(testContext(t), w.request(desc, data), 0)
	expectResult(g, r, Verified, ReasonSucceeded)

	data = w.trustFor(decoy.root)
	data["root.cert"] = trusted.root.PEM()
	r = New(Options{}).Verify(testContext(t), w.request(desc, data), 0)
	expectResult(g, r, Failed, ReasonUntrustedSigner)
}

// TestStoreNamesAreLabels proves the trust store ignores names (and
// types): a store that does not exist still verifies, as long as a store of
// the type the signature needs is listed.
func TestStoreNamesAreLabels(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")
	w.sign(desc, s)

	st := statement(w.repo)
	st.TrustStores = []string{"ca:not-existing"}
	r := New(Options{}).Verify(testContext(t), w.request(desc, trustData(t, []trustpolicy.TrustPolicy{st}, s.root)), 0)
	expectResult(g, r, Verified, ReasonSucceeded)

	// Only a signingAuthority store: notation-go asks for no ca store, so
	// no certificate is trusted for this notary.x509 signature.
	st.TrustStores = []string{"signingAuthority:roots"}
	r = New(Options{}).Verify(testContext(t), w.request(desc, trustData(t, []trustpolicy.TrustPolicy{st}, s.root)), 0)
	expectResult(g, r, Failed, ReasonUntrustedSigner)
}

func TestNoApplicableTrustPolicy(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")
	w.sign(desc, s)

	data := trustData(t, []trustpolicy.TrustPolicy{statement(w.reg.Reference("elsewhere"))}, s.root)
	r := New(Options{}).Verify(testContext(t), w.request(desc, data), 0)
	expectResult(g, r, Failed, ReasonNoApplicableTrustPolicy)
}

// TestPluginSignaturesAreInconclusive: Flux has no plugin manager.
func TestPluginSignaturesAreInconclusive(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")
	_, err := tnotation.SignWithOptions(testContext(t), w.remote, w.repo, desc, tnotation.SignOptions{VerificationPlugin: "com.example.kms"}, s.leaf, s.root)
	g.Expect(err).NotTo(HaveOccurred())

	r := New(Options{}).Verify(testContext(t), w.request(desc, w.trustFor(s.root)), 0)
	expectResult(g, r, Failed, ReasonPluginRequired)
	g.Expect(r.Message).To(ContainSubstring("plugin unsupported due to nil verifier.pluginManager"))
}

func TestExpiredSignatureFails(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")
	_, err := tnotation.SignWithOptions(testContext(t), w.remote, w.repo, desc, tnotation.SignOptions{Expiry: time.Second}, s.leaf, s.root)
	g.Expect(err).NotTo(HaveOccurred())
	time.Sleep(1100 * time.Millisecond)

	r := New(Options{}).Verify(testContext(t), w.request(desc, w.trustFor(s.root)), 0)
	expectResult(g, r, Failed, ReasonCertificateExpired)
}

// TestMostSpecificFailureIsReported: with an untrusted and a
// wrong-identity signature, the identity mismatch is what to fix.
func TestMostSpecificFailureIsReported(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	trusted, other := newSigner("trusted root"), newSigner("other root")
	desc := w.push("v1")
	w.sign(desc, other)
	w.sign(desc, trusted)

	st := statement(w.repo)
	st.TrustedIdentities = []string{"x509.subject: CN=someone else, O=verification-operator tests, ST=WA, C=US"}
	r := New(Options{}).Verify(testContext(t), w.request(desc, trustData(t, []trustpolicy.TrustPolicy{st}, trusted.root)), 0)
	expectResult(g, r, Failed, ReasonIdentityMismatch)
	g.Expect(strings.Count(r.Message, "failed to verify signature with digest")).To(Equal(2))
}

// TestAtMostThreeSignaturesAreTried: a trusted fourth signature is never
// reached, as in Flux.
func TestAtMostThreeSignaturesAreTried(t *testing.T) {
	g := NewWithT(t)
	w := newWorld(t, registry.Options{})
	trusted := newSigner("trusted root")
	desc := w.push("v1")
	for i := 0; i < 3; i++ {
		_, err := tnotation.PushSignature(testContext(t), w.remote, w.repo, desc, tnotation.JWS, []byte(strings.Repeat("x", i+1)))
		g.Expect(err).NotTo(HaveOccurred())
	}
	data := w.trustFor(trusted.root)
	r := New(Options{}).Verify(testContext(t), w.request(desc, data), 0)
	expectResult(g, r, Failed, ReasonVerificationFailed)

	// A fourth, trusted signature is listed after the others (oras-go
	// appends to the referrers index) and never tried.
	w.sign(desc, trusted)
	r = New(Options{}).Verify(testContext(t), w.request(desc, data), 0)
	expectResult(g, r, Failed, ReasonVerificationFailed)
	g.Expect(r.Message).To(ContainSubstring("The configured limit of 3 signatures to verify per artifact exceeded"))
}

func TestInvalidTrustConfigIsReportedWithoutTheRegistry(t *testing.T) {
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	desc := w.push("v1")
	w.sign(desc, s)

	badVersion := w.trustFor(s.root)
	badVersion[trustconfig.TrustPolicyKey] = []byte(strings.Replace(string(badVersion[trustconfig.TrustPolicyKey]), `"1.0"`, `"2.0"`, 1))
	noCert := w.trustFor()
	noPolicy := w.trustFor(s.root)
	delete(noPolicy, trustconfig.TrustPolicyKey)
	notJSON := w.trustFor(s.root)
	notJSON[trustconfig.TrustPolicyKey] = []byte("{")

	cases := map[string]struct {
		data    map[string][]byte
		message string
	}{
		"invalid policy":  {badVersion, "trust policy document uses unsupported version"},
		"no certificate":  {noCert, "no certificates found in secret"},
		"no trust policy": {noPolicy, "'trustpolicy.json' not found in secret"},
		"policy not JSON": {notJSON, "error occurred while parsing trustpolicy.json"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			w.reg.ResetRequests()
			r := New(Options{}).Verify(testContext(t), w.request(desc, tc.data), 0)
			expectResult(g, r, Failed, ReasonInvalidTrustConfig)
			g.Expect(r.Message).To(ContainSubstring(tc.message))
			g.Expect(w.reg.Requests()).To(BeZero())
		})
	}

	// A certificate that does not parse fails like Flux: when notation-go
	// loads the trust store, after the signature has been fetched.
	g := NewWithT(t)
	broken := w.trustFor(s.root)
	broken["broken.crt"] = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	r := New(Options{}).Verify(testContext(t), w.request(desc, broken), 0)
	expectResult(g, r, Failed, ReasonInvalidTrustConfig)
	g.Expect(r.Message).To(ContainSubstring("failed to parse certificate 'roots'"))
}
