package trustconfig

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
)

// bundleSource is a source gathered from ClusterTrustBundles, as the
// resolver builds it.
func bundleSource(name string, parts ...Part) Source {
	return Source{Name: name, Origin: "ClusterTrustBundles of signer example.com/roots", FromObject: true, RequireCA: true, Parts: parts}
}

func part(name string, pemBytes ...[]byte) Part {
	return Part{Object: "ClusterTrustBundle " + name, PEM: bundle(pemBytes...)}
}

// The certificates of several parts are keyed as one source, in part order,
// and each one's status names the object it came from.
func TestRenderPartsKeysAndSources(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)

	res, err := Render(input(
		caSource("inline", f.tsaRoot.pem),
		bundleSource("roots",
			part("example.com:roots:a", f.root.pem, f.second.pem),
			part("example.com:roots:b", f.expiresSoon.pem, f.root.pem)),
	))

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keysOf(res)).To(Equal([]string{"inline.crt", "roots-1.crt", "roots-2.crt", "roots-3.crt"}))
	var sources []string
	for _, c := range res.Certificates {
		sources = append(sources, c.Source)
	}
	g.Expect(sources).To(Equal([]string{
		"inline",
		"roots (ClusterTrustBundle example.com:roots:a)",
		"roots (ClusterTrustBundle example.com:roots:a)",
		"roots (ClusterTrustBundle example.com:roots:b)",
	}))
	g.Expect(res.Data["roots-3.crt"]).To(Equal(f.expiresSoon.pem))
	// The same root in two bundles is written once; the warning names the
	// bundle that repeated it.
	g.Expect(warningReasons(res.Warnings)).To(ContainElement(DuplicateCertificate))
	g.Expect(res.Warnings[0].Message).To(ContainSubstring("(from ClusterTrustBundle example.com:roots:b)"))

	// One certificate in one part is <name>.crt, like any source.
	one, err := Render(input(bundleSource("single", part("example.com:roots:a", f.root.pem))))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keysOf(one)).To(Equal([]string{"single.crt"}))
	g.Expect(one.Certificates[0].Source).To(Equal("single (ClusterTrustBundle example.com:roots:a)"))
}

// A source whose PEM is in parts renders the same data as one whose PEM is
// the concatenation: only status and messages differ.
func TestRenderPartsSameDataAsConcatenation(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	parts, err := Render(input(bundleSource("roots", part("a", f.root.pem), part("b", f.second.pem))))
	g.Expect(err).NotTo(HaveOccurred())
	whole, err := Render(input(caSource("roots", bundle(f.root.pem, f.second.pem))))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(parts.Data).To(Equal(whole.Data))
	g.Expect(parts.TrustDigest).To(Equal(whole.TrustDigest))
}

// The same validation as any source, pointing into the bundle at fault; and
// with RequireCA a non-CA certificate is refused, not only warned about.
func TestRenderPartsRejectBadInput(t *testing.T) {
	f := fixtures(t)
	cases := []struct {
		name, reason, message string
		src                   Source
	}{
		{"a non-CA certificate", v1alpha1.ReasonInvalidCertificate,
			`of ClusterTrustBundle example.com:roots:b) (subject "CN=Self-signed Non-CA,O=Flux Notation Test,C=DE") is not a CA certificate (basicConstraints CA:TRUE is missing): a ClusterTrustBundle holds trust anchors only`,
			bundleSource("roots", part("example.com:roots:a", f.root.pem), part("example.com:roots:b", f.second.pem, f.nonCA.pem))},
		{"a leaf issued by a root", v1alpha1.ReasonInvalidCertificate, "is not a CA certificate",
			bundleSource("roots", part("example.com:roots:a", f.leaf.pem))},
		{"a private key", v1alpha1.ReasonPrivateKeyRejected, "PEM block 1 (line 1 of ClusterTrustBundle example.com:roots:b) is a private key",
			bundleSource("roots", part("example.com:roots:a", f.root.pem), Part{Object: "ClusterTrustBundle example.com:roots:b", PEM: privateKeyPEM(t)})},
		{"an empty part", v1alpha1.ReasonInvalidCertificate, "the certificate source is empty (from ClusterTrustBundle example.com:roots:a)",
			bundleSource("roots", part("example.com:roots:a"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := Render(input(tc.src))
			ie, ok := inputerror.As(err)
			g.Expect(ok).To(BeTrue(), "%v", err)
			g.Expect(ie.Reason).To(Equal(tc.reason))
			g.Expect(ie.Field).To(Equal("certificates[roots]"))
			g.Expect(ie.Message).To(ContainSubstring(tc.message))
			g.Expect(ie.Message).To(MatchRegexp(`^PEM block \d+ \(line \d+ of ClusterTrustBundle |^the certificate source is empty`))
			if tc.name == "a non-CA certificate" {
				g.Expect(ie.Message).To(HavePrefix("PEM block 2 (line "), "blocks are counted within their bundle")
			}
			g.Expect(ie.Kind).To(Equal(inputerror.Waiting), "fixed by editing the bundle, not the policy")
		})
	}
}

// Without RequireCA a non-CA certificate stays a warning, as for every
// other source.
func TestRenderNonCAIsAWarningWithoutRequireCA(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	src := bundleSource("roots", part("example.com:roots:a", f.nonCA.pem))
	src.RequireCA = false
	res, err := Render(input(src))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(warningReasons(res.Warnings)).To(ContainElement(CertificateNotCA))
}

func privateKeyPEM(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(fixtures(t).root.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
