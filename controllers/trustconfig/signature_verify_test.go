// This file verifies real Notation signatures against rendered data with
// notation-go's verifier, the package Flux uses, reading the data the way
// Flux does.

package trustconfig

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	_ "github.com/notaryproject/notation-core-go/signature/cose"
	_ "github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/truststore"
	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// fluxTrustStore behaves like source-controller's in-memory trust store: it
// ignores the store type and name and returns every certificate.
type fluxTrustStore struct{ certs [][]byte }

func (s fluxTrustStore) GetCertificates(_ context.Context, _ truststore.Type, _ string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, data := range s.certs {
		raw := data
		if block, _ := pem.Decode(raw); block != nil {
			raw = block.Bytes
		}
		certs, err := x509.ParseCertificates(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, certs...)
	}
	return out, nil
}

// signingKit is a root, a code-signing leaf under it, and helpers to sign and
// verify one manifest. The verifier uses the real clock, so the certificates
// do too.
type signingKit struct {
	root, leaf *testCert
	desc       ocispec.Descriptor
}

const signatureMediaType = "application/jose+json"

func newSigningKit(cn string) signingKit {
	now := time.Now()
	year := 365 * 24 * time.Hour
	root := mustCert(caTemplate(cn, now.Add(-time.Hour), now.Add(year)), nil)
	tmpl := baseTemplate("release", now.Add(-time.Hour), now.Add(year/2))
	tmpl.Subject.Province = []string{"Berlin"}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	tmpl.BasicConstraintsValid = true
	return signingKit{
		root: root,
		leaf: mustCert(tmpl, root),
		desc: ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageManifest,
			Digest:    digest.FromString("manifest"),
			Size:      int64(len("manifest")),
		},
	}
}

// sign makes a notary.x509 signature without a timestamp.
func (k signingKit) sign(g *WithT) []byte {
	s, err := signer.NewGenericSigner(k.leaf.key, []*x509.Certificate{k.leaf.cert, k.root.cert})
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	sig, _, err := s.Sign(context.Background(), k.desc, notation.SignerSignOptions{SignatureMediaType: signatureMediaType})
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return sig
}

// verify checks sig with a verifier built from data as Flux builds it.
func (k signingKit) verify(g *WithT, data map[string][]byte, sig []byte) error {
	doc, certs := fluxRead(g, data)
	v, err := verifier.New(doc, fluxTrustStore{certs: certs}, nil)
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	opts := notation.VerifierVerifyOptions{ArtifactReference: "ghcr.io/org/app@" + k.desc.Digest.String(), SignatureMediaType: signatureMediaType}
	_, err = v.Verify(context.Background(), k.desc, sig, opts)
	return err
}

func prodStatement(verifyTimestamp string) v1alpha1.TrustPolicyStatement {
	return v1alpha1.TrustPolicyStatement{
		Name:                  "prod",
		RegistryScopes:        []string{"ghcr.io/org/app"},
		SignatureVerification: v1alpha1.SignatureVerification{Level: "strict", VerifyTimestamp: verifyTimestamp},
		TrustedIdentities:     []string{"x509.subject: CN=release, O=Flux Notation Test, ST=Berlin, C=DE"},
	}
}

// TestRenderedSecretVerifiesASignature goes one step further than the round
// trip: a signature made with notation-go verifies against the rendered
// data read the way Flux reads it, and a signature from another CA does not.
func TestRenderedSecretVerifiesASignature(t *testing.T) {
	g := NewWithT(t)
	trusted, other := newSigningKit("Signing Root"), newSigningKit("Other Root")

	res, err := Render(Input{
		Statements: []v1alpha1.TrustPolicyStatement{prodStatement("")},
		Sources:    []Source{{Name: "root", PEM: bundle([]byte("# the root\n"), trusted.root.pem)}},
	})
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(trusted.verify(g, res.Data, trusted.sign(g))).To(Succeed())
	g.Expect(trusted.verify(g, res.Data, other.sign(g))).To(MatchError(ContainSubstring("does not contain any trusted certificate")))
}

// TestTSAStoreTurnsTimestampVerificationOn backs the tsa store rule and the
// TimestampRequired warning: with a tsa store, a strict statement refuses a
// signature without a timestamp; with verifyTimestamp afterCertExpiry (and
// an unexpired chain) it accepts it.
func TestTSAStoreTurnsTimestampVerificationOn(t *testing.T) {
	g := NewWithT(t)
	kit := newSigningKit("Signing Root")
	tsaRoot := newSigningKit("TSA Root").root
	sources := []Source{
		{Name: "root", PEM: kit.root.pem},
		{Name: "tsa", Type: v1alpha1.CertificateTypeTSA, PEM: tsaRoot.pem},
	}
	sig := kit.sign(g)

	res, err := Render(Input{Statements: []v1alpha1.TrustPolicyStatement{prodStatement("")}, Sources: sources})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(warningReasons(res.Warnings)).To(ContainElement(TimestampRequired))
	g.Expect(kit.verify(g, res.Data, sig)).To(MatchError(ContainSubstring("no timestamp countersignature")))

	res, err = Render(Input{Statements: []v1alpha1.TrustPolicyStatement{prodStatement("afterCertExpiry")}, Sources: sources})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(warningReasons(res.Warnings)).NotTo(ContainElement(TimestampRequired))
	g.Expect(kit.verify(g, res.Data, sig)).To(Succeed())

	// Without tsa certificates there is no tsa store and no timestamp check.
	res, err = Render(Input{Statements: []v1alpha1.TrustPolicyStatement{prodStatement("")}, Sources: sources[:1]})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(kit.verify(g, res.Data, sig)).To(Succeed())
}

// TestFluxTrustsTSARootsForSignatures backs the MixedTrustStoreTypes
// warning: with Flux's trust store, a root configured only as tsa also roots
// code signatures.
func TestFluxTrustsTSARootsForSignatures(t *testing.T) {
	g := NewWithT(t)
	signing, tsa := newSigningKit("Signing Root"), newSigningKit("TSA Root")
	res, err := Render(Input{
		Statements: []v1alpha1.TrustPolicyStatement{prodStatement("afterCertExpiry")},
		Sources: []Source{
			{Name: "root", PEM: signing.root.pem},
			{Name: "tsa", Type: v1alpha1.CertificateTypeTSA, PEM: tsa.root.pem},
		},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(warningReasons(res.Warnings)).To(ContainElement(MixedTrustStoreTypes))
	g.Expect(tsa.verify(g, res.Data, tsa.sign(g))).To(Succeed())
}
