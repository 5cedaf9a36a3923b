package trustconfig

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// fluxRead reads Secret data the way source-controller does: trustpolicy.json
// decoded with encoding/json into notation-go's Document, trust stores and
// identities removed from skip statements, and every key ending in .crt or
// .pem read as one certificate (first PEM block only, else raw DER).
func fluxRead(g *WithT, data map[string][]byte) (*trustpolicy.Document, [][]byte) {
	raw, ok := data["trustpolicy.json"]
	g.ExpectWithOffset(1, ok).To(BeTrue(), "'trustpolicy.json' not found")
	var doc trustpolicy.Document
	g.ExpectWithOffset(1, json.Unmarshal(raw, &doc)).To(Succeed())
	for i := range doc.TrustPolicies {
		if doc.TrustPolicies[i].SignatureVerification.VerificationLevel == trustpolicy.LevelSkip.Name {
			doc.TrustPolicies[i].TrustStores = []string{}
			doc.TrustPolicies[i].TrustedIdentities = []string{}
		}
	}
	var certs [][]byte
	for k, v := range data {
		if strings.HasSuffix(k, ".crt") || strings.HasSuffix(k, ".pem") {
			certs = append(certs, v)
		}
	}
	g.ExpectWithOffset(1, certs).NotTo(BeEmpty(), "no certificates found in secret")
	return &doc, certs
}

func TestRoundTripAsFluxReadsIt(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	in := Input{
		Statements: []v1alpha1.TrustPolicyStatement{
			strict("prod", "ghcr.io/org/app"),
			skip("dev", "localhost:5000/dev"),
			{
				Name:                  "rest",
				RegistryScopes:        []string{"*"},
				SignatureVerification: v1alpha1.SignatureVerification{Level: "audit"},
				TrustedIdentities:     []string{"x509.subject: C=DE, ST=Berlin, O=Flux Notation Test"},
			},
		},
		Sources: []Source{
			{Name: "corp", Origin: "inline", PEM: bundle([]byte("# corp roots\n"), f.root.pem, []byte("\n# again\n"), f.root.pem, f.second.pem)},
			{Name: "legacy", Type: v1alpha1.CertificateTypeSigningAuthority, Origin: "Secret trust/legacy key ca.pem", PEM: bundle(f.expired.pem, f.second.pem)},
			{Name: "tsa", Type: v1alpha1.CertificateTypeTSA, Origin: "ConfigMap trust/tsa key root.crt", PEM: f.tsaRoot.pem},
			{Name: "misc", Origin: "inline", PEM: bundle(f.nonCA.pem, f.leaf.pem)},
		},
		Now: testNow,
	}
	res, err := Render(in)
	g.Expect(err).NotTo(HaveOccurred())

	doc, certs := fluxRead(g, res.Data)
	g.Expect(doc.Validate()).To(Succeed())

	// Every distinct input certificate comes back exactly once.
	var got []string
	for _, c := range certs {
		block, _ := pem.Decode(c)
		g.Expect(block).NotTo(BeNil())
		cert, err := x509.ParseCertificate(block.Bytes)
		g.Expect(err).NotTo(HaveOccurred())
		got = append(got, string(cert.Raw))
	}
	var want []string
	for _, c := range []*testCert{f.root, f.second, f.expired, f.tsaRoot, f.nonCA, f.leaf} {
		want = append(want, string(c.cert.Raw))
	}
	g.Expect(got).To(ConsistOf(want))
	g.Expect(res.Certificates).To(HaveLen(len(want)))
}
