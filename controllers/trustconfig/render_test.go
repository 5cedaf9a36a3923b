package trustconfig

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

func keysOf(res *Result) []string {
	var keys []string
	for _, c := range res.Certificates {
		keys = append(keys, c.Key)
	}
	return keys
}

func TestRenderKeys(t *testing.T) {
	f := fixtures(t)
	tests := []struct {
		name     string
		sources  []Source
		keys     []string
		warnings []string
	}{
		{
			name:    "one certificate per source is <name>.crt",
			sources: []Source{caSource("team-a", f.root.pem), caSource("team-b", f.second.pem)},
			keys:    []string{"team-a.crt", "team-b.crt"},
		},
		{
			name:    "several certificates are numbered in PEM order",
			sources: []Source{caSource("roots", bundle(f.second.pem, f.root.pem, f.tsaRoot.pem))},
			keys:    []string{"roots-1.crt", "roots-2.crt", "roots-3.crt"},
		},
		{
			name:     "duplicate within a source is written once",
			sources:  []Source{caSource("roots", bundle(f.root.pem, f.root.pem))},
			keys:     []string{"roots.crt"},
			warnings: []string{DuplicateCertificate},
		},
		{
			name:     "duplicate across sources keeps the first",
			sources:  []Source{caSource("a", f.root.pem), caSource("b", bundle(f.root.pem, f.second.pem))},
			keys:     []string{"a.crt", "b.crt"},
			warnings: []string{DuplicateCertificate},
		},
		{
			name:     "a source of duplicates only writes nothing",
			sources:  []Source{caSource("a", bundle(f.root.pem, f.second.pem)), caSource("b", f.second.pem)},
			keys:     []string{"a-1.crt", "a-2.crt"},
			warnings: []string{DuplicateCertificate},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			res, err := Render(input(tt.sources...))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(keysOf(res)).To(Equal(tt.keys))

			want := map[string]bool{TrustPolicyKey: true}
			for _, k := range tt.keys {
				want[k] = true
			}
			g.Expect(res.Data).To(HaveLen(len(want)))
			for k := range res.Data {
				g.Expect(want).To(HaveKey(k))
			}
			// One PEM block per key, and nothing after it.
			for _, k := range tt.keys {
				block, rest := pem.Decode(res.Data[k])
				g.Expect(block).NotTo(BeNil())
				g.Expect(block.Type).To(Equal("CERTIFICATE"))
				g.Expect(rest).To(BeEmpty())
			}
			g.Expect(warningReasons(res.Warnings)).To(Equal(orEmpty(tt.warnings)))
		})
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestRenderDuplicateWarningNamesTheKeptKey(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	res, err := Render(input(caSource("a", f.root.pem), Source{Name: "b", Origin: "ConfigMap trust/b key ca.crt", PEM: f.root.pem}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Warnings).To(HaveLen(1))
	g.Expect(res.Warnings[0].Message).To(And(
		ContainSubstring("source b (from ConfigMap trust/b key ca.crt)"),
		ContainSubstring("under a.crt"),
		ContainSubstring("CN=Test Root CA"),
	))
}

func TestRenderDuplicateKeys(t *testing.T) {
	f := fixtures(t)
	tests := []struct {
		name    string
		sources []Source
		field   string
		contain string
	}{
		{
			name:    "numbered key meets a source name",
			sources: []Source{caSource("a", bundle(f.root.pem, f.second.pem)), caSource("a-1", f.tsaRoot.pem)},
			field:   "certificates[a-1]",
			contain: "a-1.crt is produced both by source a and by source a-1",
		},
		{
			name:    "source name meets a numbered key",
			sources: []Source{caSource("a-2", f.tsaRoot.pem), caSource("a", bundle(f.root.pem, f.second.pem))},
			field:   "certificates[a]",
			contain: "a-2.crt",
		},
		{
			name:    "two sources with the same name",
			sources: []Source{caSource("a", f.root.pem), caSource("a", f.second.pem)},
			field:   "certificates[a]",
			contain: "two certificate sources are named a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := Render(input(tt.sources...))
			e := expectError(g, err, v1alpha1.ReasonDuplicateKey, tt.field)
			g.Expect(e.Message).To(ContainSubstring(tt.contain))
		})
	}
}

func TestRenderCertificateSummaries(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	res, err := Render(input(
		typedSource("signing", v1alpha1.CertificateTypeCA, bundle(f.root.pem, f.leaf.pem)),
		typedSource("timestamps", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem),
		Source{Name: "defaulted", PEM: f.second.pem},
	))
	g.Expect(err).NotTo(HaveOccurred())

	summary := func(key string, typ v1alpha1.CertificateType, source string, c *testCert) v1alpha1.CertificateStatus {
		sum := sha256.Sum256(c.cert.Raw)
		return v1alpha1.CertificateStatus{
			Key: key, Type: typ, Source: source,
			Subject:   c.cert.Subject.String(),
			Issuer:    c.cert.Issuer.String(),
			NotBefore: metav1.NewTime(c.cert.NotBefore),
			NotAfter:  metav1.NewTime(c.cert.NotAfter),
			SHA256:    hex.EncodeToString(sum[:]),
		}
	}
	g.Expect(res.Certificates).To(Equal([]v1alpha1.CertificateStatus{
		summary("signing-1.crt", v1alpha1.CertificateTypeCA, "signing", f.root),
		summary("signing-2.crt", v1alpha1.CertificateTypeCA, "signing", f.leaf),
		summary("timestamps.crt", v1alpha1.CertificateTypeTSA, "timestamps", f.tsaRoot),
		summary("defaulted.crt", v1alpha1.CertificateTypeCA, "defaulted", f.second),
	}))
	// RFC 2253 order: most specific attribute first.
	g.Expect(res.Certificates[1].Subject).To(Equal("CN=Test Signer,O=Flux Notation Test,C=DE"))
	g.Expect(res.Certificates[1].Issuer).To(Equal("CN=Test Root CA,O=Flux Notation Test,C=DE"))
}

func TestRenderCertificateWarnings(t *testing.T) {
	f := fixtures(t)
	tests := []struct {
		name    string
		cert    *testCert
		reasons []string
		contain string
	}{
		{name: "valid CA", cert: f.root, reasons: []string{}},
		{name: "expired", cert: f.expired, reasons: []string{CertificateExpired}, contain: "expired on 2025-03-01"},
		{name: "not yet valid", cert: f.notYetValid, reasons: []string{CertificateNotYetValid}, contain: "not valid before 2026-03-02T12:00:00Z"},
		{name: "expires within 30 days", cert: f.expiresSoon, reasons: []string{CertificateExpiresSoon}, contain: "in 10 days"},
		{name: "self-signed non-CA", cert: f.nonCA, reasons: []string{CertificateNotCA}, contain: "CN=Self-signed Non-CA"},
		{name: "leaf", cert: f.leaf, reasons: []string{CertificateNotCA}, contain: "certificate c.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			res, err := Render(input(caSource("c", tt.cert.pem)))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(warningReasons(res.Warnings)).To(Equal(tt.reasons))
			if tt.contain != "" {
				g.Expect(res.Warnings[0].Message).To(ContainSubstring(tt.contain))
			}
		})
	}
}

func TestRenderExpiresSoonBoundary(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	notAfter := f.root.cert.NotAfter

	res, err := Render(Input{Statements: []v1alpha1.TrustPolicyStatement{strict("p")}, Sources: []Source{caSource("c", f.root.pem)}, Now: notAfter.Add(-ExpiresSoonWindow)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(warningReasons(res.Warnings)).To(Equal([]string{CertificateExpiresSoon}))

	res, err = Render(Input{Statements: []v1alpha1.TrustPolicyStatement{strict("p")}, Sources: []Source{caSource("c", f.root.pem)}, Now: notAfter.Add(-ExpiresSoonWindow - time.Second)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Warnings).To(BeEmpty())
}

func TestRenderZeroNowUsesTheClock(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	// The expired fixture ended a year before testNow, so it is expired for
	// any real clock after that.
	res, err := Render(Input{Statements: []v1alpha1.TrustPolicyStatement{strict("p")}, Sources: []Source{caSource("c", f.expired.pem)}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(warningReasons(res.Warnings)).To(ContainElement(CertificateExpired))
}

func TestRenderTrustStoreTypeWarnings(t *testing.T) {
	f := fixtures(t)
	tests := []struct {
		name    string
		sources []Source
		reasons []string
	}{
		{name: "ca only", sources: []Source{caSource("ca", f.root.pem)}, reasons: []string{}},
		{name: "ca and signingAuthority", sources: []Source{caSource("ca", f.root.pem), typedSource("sa", v1alpha1.CertificateTypeSigningAuthority, f.second.pem)}, reasons: []string{}},
		{
			name:    "tsa next to ca",
			sources: []Source{caSource("ca", f.root.pem), typedSource("tsa", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem)},
			reasons: []string{MixedTrustStoreTypes, TimestampRequired},
		},
		{
			name:    "tsa next to signingAuthority only",
			sources: []Source{typedSource("sa", v1alpha1.CertificateTypeSigningAuthority, f.root.pem), typedSource("tsa", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem)},
			reasons: []string{MixedTrustStoreTypes, TSACertificatesUnused},
		},
		{
			name:    "tsa duplicate of a ca certificate still counts as tsa",
			sources: []Source{caSource("ca", f.root.pem), typedSource("tsa", v1alpha1.CertificateTypeTSA, f.root.pem)},
			reasons: []string{DuplicateCertificate, MixedTrustStoreTypes, TimestampRequired},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			res, err := Render(input(tt.sources...))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(warningReasons(res.Warnings)).To(Equal(tt.reasons))
		})
	}
}

func TestRenderMixedWarningSaysWhatFluxDoes(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	res, err := Render(input(caSource("corp", f.root.pem), typedSource("tsa", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Warnings[0].Reason).To(Equal(MixedTrustStoreTypes))
	g.Expect(res.Warnings[0].Message).To(And(
		ContainSubstring("sources tsa"),
		ContainSubstring("sources corp"),
		ContainSubstring("Flux trusts every certificate in the Secret for every trust store type"),
	))
}

func TestRenderSecretTooLarge(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)

	// Six certificates of about 200 KiB each (a large non-critical
	// extension) exceed 1 MiB without generating thousands of keys.
	var big []byte
	for i := 0; i < 6; i++ {
		tmpl := caTemplate("Big CA", testNow.Add(-time.Hour), testNow.Add(time.Hour*24*365))
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: randomBytes(t, 150_000)}}
		big = append(big, mustCert(tmpl, nil).pem...)
	}
	_, err := Render(input(caSource("small", f.root.pem), caSource("huge", big)))
	e := expectError(g, err, v1alpha1.ReasonSecretTooLarge, "certificates")
	g.Expect(e.Message).To(ContainSubstring("from source huge"))

	// Just under the limit is fine: the limit is the API server's.
	five := bundleOf(t, big, 5)
	res, err := Render(input(caSource("huge", five)))
	g.Expect(err).NotTo(HaveOccurred())
	total := 0
	for _, v := range res.Data {
		total += len(v)
	}
	g.Expect(total).To(BeNumerically("<=", corev1.MaxSecretSize))
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// bundleOf returns the first n PEM blocks of data.
func bundleOf(t *testing.T, data []byte, n int) []byte {
	var out []byte
	for i := 0; i < n; i++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			t.Fatal("not enough blocks")
		}
		out = append(out, pem.EncodeToMemory(block)...)
	}
	return out
}

func TestRenderBoundsMessages(t *testing.T) {
	g := NewWithT(t)
	long := strings.Repeat("x", 10_000)

	tmpl := baseTemplate("ignored", testNow.Add(-time.Hour), testNow.Add(time.Hour)) // expires soon, not a CA
	tmpl.Subject = pkix.Name{CommonName: long, Organization: []string{long}}
	huge := mustCert(tmpl, nil)
	res, err := Render(Input{
		Statements: []v1alpha1.TrustPolicyStatement{strict("p")},
		Sources:    []Source{{Name: "c", Origin: long, PEM: bundle(huge.pem, huge.pem)}},
		Now:        testNow,
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(warningReasons(res.Warnings)).To(ConsistOf(DuplicateCertificate, CertificateExpiresSoon, CertificateNotCA))
	for _, w := range res.Warnings {
		g.Expect(len(w.Message)).To(BeNumerically("<", 1000), w.Reason)
	}
	g.Expect(len(res.Certificates[0].Subject)).To(BeNumerically("<=", maxDNLen))
	g.Expect(len(res.Certificates[0].Issuer)).To(BeNumerically("<=", maxDNLen))
	g.Expect(res.Certificates[0].Subject).To(HavePrefix("CN=xxxx"))
	g.Expect(res.Certificates[0].Subject).To(HaveSuffix("…"))

	// Errors are bounded too, whatever the origin or the names.
	_, err = Render(Input{Statements: []v1alpha1.TrustPolicyStatement{strict(long)}, Sources: []Source{{Name: "c", Origin: long, PEM: []byte("junk")}}})
	g.Expect(len(err.Error())).To(BeNumerically("<", 1200))
	// notation-go quotes the statement name (twice) in this error.
	_, err = Render(Input{Statements: []v1alpha1.TrustPolicyStatement{strict(long + "/")}, Sources: []Source{caSource("c", fixtures(t).root.pem)}})
	g.Expect(err).To(HaveOccurred())
	g.Expect(len(err.Error())).To(BeNumerically("<", 1200))
	g.Expect(err.Error()).To(HavePrefix("trustPolicies[" + strings.Repeat("x", 61) + "…]: "))
}

func TestRenderIsDeterministic(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	in := Input{
		Statements: []v1alpha1.TrustPolicyStatement{
			{
				Name:           "prod",
				RegistryScopes: []string{"ghcr.io/org/app", "index.docker.io/org/app"},
				SignatureVerification: v1alpha1.SignatureVerification{
					Level:           "strict",
					VerifyTimestamp: "afterCertExpiry",
					Override:        map[string]v1alpha1.ValidationAction{"revocation": "log", "expiry": "log", "authenticTimestamp": "log"},
				},
				TrustedIdentities: []string{"x509.subject: C=DE, ST=Berlin, O=Flux & Co, CN=release"},
			},
			skip("dev", "localhost:5000/dev"),
			strict("rest"),
		},
		Sources: []Source{
			caSource("corp", bundle(f.root.pem, f.second.pem)),
			typedSource("tsa", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem),
		},
		Now: testNow,
	}
	first, err := Render(in)
	g.Expect(err).NotTo(HaveOccurred())
	for i := 0; i < 20; i++ {
		again, err := Render(in)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(again).To(Equal(first))
	}

	g.Expect(string(first.Data[TrustPolicyKey])).To(Equal(`{
  "version": "1.0",
  "trustPolicies": [
    {
      "name": "prod",
      "registryScopes": [
        "ghcr.io/org/app",
        "index.docker.io/org/app"
      ],
      "signatureVerification": {
        "level": "strict",
        "override": {
          "authenticTimestamp": "log",
          "expiry": "log",
          "revocation": "log"
        },
        "verifyTimestamp": "afterCertExpiry"
      },
      "trustStores": [
        "ca:prod",
        "tsa:prod"
      ],
      "trustedIdentities": [
        "x509.subject: C=DE, ST=Berlin, O=Flux & Co, CN=release"
      ]
    },
    {
      "name": "dev",
      "registryScopes": [
        "localhost:5000/dev"
      ],
      "signatureVerification": {
        "level": "skip"
      },
      "trustStores": [],
      "trustedIdentities": []
    },
    {
      "name": "rest",
      "registryScopes": [
        "*"
      ],
      "signatureVerification": {
        "level": "strict"
      },
      "trustStores": [
        "ca:rest",
        "tsa:rest"
      ],
      "trustedIdentities": [
        "*"
      ]
    }
  ]
}
`))
	// Only "rest" enforces timestamps: "prod" logs them and checks them only
	// after expiry.
	g.Expect(warningReasons(first.Warnings)).To(Equal([]string{MixedTrustStoreTypes, TimestampRequired}))
	g.Expect(first.Warnings[1].Message).To(ContainSubstring(`statement "rest"`))
	g.Expect(first.Certificates).To(HaveLen(3))
	for _, c := range first.Certificates {
		block, _ := pem.Decode(first.Data[c.Key])
		cert, err := x509.ParseCertificate(block.Bytes)
		g.Expect(err).NotTo(HaveOccurred())
		sum := sha256.Sum256(cert.Raw)
		g.Expect(hex.EncodeToString(sum[:])).To(Equal(c.SHA256))
	}
}
