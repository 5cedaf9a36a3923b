package trustconfig

import (
	"encoding/json"
	"testing"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// decodePolicy reads trustpolicy.json the way Flux does.
func decodePolicy(g *WithT, res *Result) trustpolicy.Document {
	var doc trustpolicy.Document
	g.ExpectWithOffset(1, json.Unmarshal(res.Data[TrustPolicyKey], &doc)).To(Succeed())
	return doc
}

func TestRenderTrustStores(t *testing.T) {
	f := fixtures(t)
	ca := caSource("ca", f.root.pem)
	sa := typedSource("sa", v1alpha1.CertificateTypeSigningAuthority, f.second.pem)
	tsa := typedSource("tsa", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem)
	tests := []struct {
		name    string
		sources []Source
		stores  []string
	}{
		{name: "ca", sources: []Source{ca}, stores: []string{"ca:p"}},
		{name: "defaulted type is ca", sources: []Source{{Name: "x", PEM: f.root.pem}}, stores: []string{"ca:p"}},
		{name: "signingAuthority", sources: []Source{sa}, stores: []string{"signingAuthority:p"}},
		{name: "ca and signingAuthority", sources: []Source{sa, ca}, stores: []string{"ca:p", "signingAuthority:p"}},
		{name: "ca and tsa", sources: []Source{tsa, ca}, stores: []string{"ca:p", "tsa:p"}},
		{name: "all three", sources: []Source{ca, sa, tsa}, stores: []string{"ca:p", "signingAuthority:p", "tsa:p"}},
		// notary.x509.signingAuthority signatures are never timestamp-checked.
		{name: "signingAuthority and tsa", sources: []Source{sa, tsa}, stores: []string{"signingAuthority:p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			res, err := Render(Input{
				Statements: []v1alpha1.TrustPolicyStatement{strict("p", "ghcr.io/org/app"), skip("off", "*")},
				Sources:    tt.sources,
				Now:        testNow,
			})
			g.Expect(err).NotTo(HaveOccurred())
			doc := decodePolicy(g, res)
			g.Expect(doc.Version).To(Equal("1.0"))
			g.Expect(doc.TrustPolicies).To(HaveLen(2))
			g.Expect(doc.TrustPolicies[0].TrustStores).To(Equal(tt.stores))
			g.Expect(doc.TrustPolicies[0].TrustedIdentities).To(Equal([]string{"*"}))
			g.Expect(doc.TrustPolicies[1].TrustStores).To(BeEmpty())
			g.Expect(doc.TrustPolicies[1].TrustedIdentities).To(BeEmpty())
			g.Expect(doc.Validate()).To(Succeed())
		})
	}
}

func TestRenderStatementsKeepSpecOrderAndSettings(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	statements := []v1alpha1.TrustPolicyStatement{
		strict("zeta", "registry.example.com/zeta"),
		{
			Name:           "alpha",
			RegistryScopes: []string{"registry.example.com/alpha", "localhost:5000/alpha"},
			SignatureVerification: v1alpha1.SignatureVerification{
				Level:    "permissive",
				Override: map[string]v1alpha1.ValidationAction{"revocation": "skip", "authenticity": "log"},
			},
			TrustedIdentities: []string{"x509.subject: C=US, ST=WA, O=Org, CN=a", "x509.subject: C=US, ST=WA, O=Org, CN=b"},
		},
		skip("middle", "*"),
	}
	res, err := Render(Input{Statements: statements, Sources: []Source{caSource("ca", f.root.pem)}, Now: testNow})
	g.Expect(err).NotTo(HaveOccurred())
	doc := decodePolicy(g, res)
	g.Expect(doc.TrustPolicies).To(HaveLen(3))
	g.Expect(doc.TrustPolicies[0].Name).To(Equal("zeta"))
	g.Expect(doc.TrustPolicies[1]).To(Equal(trustpolicy.TrustPolicy{
		Name:           "alpha",
		RegistryScopes: []string{"registry.example.com/alpha", "localhost:5000/alpha"},
		SignatureVerification: trustpolicy.SignatureVerification{
			VerificationLevel: "permissive",
			Override:          map[trustpolicy.ValidationType]trustpolicy.ValidationAction{"revocation": "skip", "authenticity": "log"},
		},
		TrustStores:       []string{"ca:alpha"},
		TrustedIdentities: []string{"x509.subject: C=US, ST=WA, O=Org, CN=a", "x509.subject: C=US, ST=WA, O=Org, CN=b"},
	}))
	g.Expect(doc.TrustPolicies[2].Name).To(Equal("middle"))
}

func TestRenderSkipStatementDropsIdentities(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	st := skip("off", "*")
	st.TrustedIdentities = []string{"*"} // the CRD forbids this; Flux would strip it too
	res, err := Render(Input{Statements: []v1alpha1.TrustPolicyStatement{st}, Sources: []Source{caSource("ca", f.root.pem)}, Now: testNow})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(decodePolicy(g, res).TrustPolicies[0].TrustedIdentities).To(BeEmpty())
}

func TestRenderTimestampRequiredWarning(t *testing.T) {
	f := fixtures(t)
	sources := []Source{caSource("ca", f.root.pem), typedSource("tsa", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem)}
	with := func(level, verifyTimestamp string, override map[string]v1alpha1.ValidationAction) v1alpha1.TrustPolicyStatement {
		st := strict("p")
		st.SignatureVerification = v1alpha1.SignatureVerification{Level: level, VerifyTimestamp: verifyTimestamp, Override: override}
		return st
	}
	tests := []struct {
		name      string
		statement v1alpha1.TrustPolicyStatement
		warns     bool
	}{
		{name: "strict", statement: with("strict", "", nil), warns: true},
		{name: "strict, always", statement: with("strict", "always", nil), warns: true},
		{name: "strict, afterCertExpiry", statement: with("strict", "afterCertExpiry", nil), warns: false},
		{name: "strict, timestamps logged", statement: with("strict", "", map[string]v1alpha1.ValidationAction{"authenticTimestamp": "log"}), warns: false},
		{name: "permissive", statement: with("permissive", "", nil), warns: false},
		{name: "audit, timestamps enforced", statement: with("audit", "", map[string]v1alpha1.ValidationAction{"authenticTimestamp": "enforce"}), warns: true},
		{name: "skip", statement: skip("p", "*"), warns: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			res, err := Render(Input{Statements: []v1alpha1.TrustPolicyStatement{tt.statement}, Sources: sources, Now: testNow})
			g.Expect(err).NotTo(HaveOccurred())
			if tt.warns {
				g.Expect(warningReasons(res.Warnings)).To(ContainElement(TimestampRequired))
			} else {
				g.Expect(warningReasons(res.Warnings)).NotTo(ContainElement(TimestampRequired))
			}
		})
	}
}

func TestRenderRejectsBadStatements(t *testing.T) {
	f := fixtures(t)
	ca := []Source{caSource("ca", f.root.pem)}
	tsaOnly := []Source{typedSource("tsa", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem)}
	mod := func(name string, change func(*v1alpha1.TrustPolicyStatement)) v1alpha1.TrustPolicyStatement {
		st := strict(name, "ghcr.io/org/"+name)
		change(&st)
		return st
	}
	tests := []struct {
		name       string
		statements []v1alpha1.TrustPolicyStatement
		sources    []Source
		field      string
		contain    string
	}{
		{name: "no statements", statements: nil, field: "trustPolicies", contain: "at least one"},
		{name: "duplicate names", statements: []v1alpha1.TrustPolicyStatement{strict("a", "x.io/a"), strict("a", "x.io/b")}, field: "trustPolicies[a]", contain: "used twice"},
		{name: "scope in two statements", statements: []v1alpha1.TrustPolicyStatement{strict("a", "x.io/a"), strict("b", "x.io/b", "x.io/a")}, field: "trustPolicies[b]", contain: `already used by statement "a"`},
		{name: "two wildcard statements", statements: []v1alpha1.TrustPolicyStatement{strict("a"), skip("b", "*")}, field: "trustPolicies[b]", contain: `"*" is already used`},
		{name: "scope listed twice", statements: []v1alpha1.TrustPolicyStatement{strict("a", "x.io/a", "x.io/a")}, field: "trustPolicies[a]", contain: "listed twice"},
		{name: "wildcard with other scopes", statements: []v1alpha1.TrustPolicyStatement{strict("a", "*", "x.io/a")}, field: "trustPolicies[a]", contain: "wildcard"},
		{name: "scope with a tag", statements: []v1alpha1.TrustPolicyStatement{strict("a", "x.io/a:v1")}, field: "trustPolicies[a]", contain: "not valid"},
		{name: "no scopes", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) { s.RegistryScopes = nil })}, field: "trustPolicies[a]", contain: "zero registry scopes"},
		{name: "empty name", statements: []v1alpha1.TrustPolicyStatement{strict("ok", "x.io/ok"), strict("", "x.io/a")}, field: "trustPolicies[1]", contain: "missing a name"},
		{name: "name unusable as store name", statements: []v1alpha1.TrustPolicyStatement{strict("a b", "x.io/a")}, field: "trustPolicies[a b]", contain: "trust store name"},
		{name: "unknown level", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) { s.SignatureVerification.Level = "paranoid" })}, field: "trustPolicies[a]", contain: `invalid signature verification level "paranoid"`},
		{name: "empty level", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) { s.SignatureVerification.Level = "" })}, field: "trustPolicies[a]", contain: "level is empty"},
		{name: "integrity override", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) {
			s.SignatureVerification.Override = map[string]v1alpha1.ValidationAction{"integrity": "log"}
		})}, field: "trustPolicies[a]", contain: `"integrity" verification can not be overridden`},
		{name: "expiry skipped", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) {
			s.SignatureVerification.Override = map[string]v1alpha1.ValidationAction{"expiry": "skip"}
		})}, field: "trustPolicies[a]", contain: "can not be skipped"},
		{name: "skip with override", statements: []v1alpha1.TrustPolicyStatement{{
			Name: "a", RegistryScopes: []string{"*"},
			SignatureVerification: v1alpha1.SignatureVerification{Level: "skip", Override: map[string]v1alpha1.ValidationAction{"revocation": "skip"}},
		}}, field: "trustPolicies[a]", contain: "customize"},
		{name: "bad verifyTimestamp", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) { s.SignatureVerification.VerifyTimestamp = "never" })}, field: "trustPolicies[a]", contain: "verifyTimestamp"},
		{name: "no trusted identities", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) { s.TrustedIdentities = nil })}, field: "trustPolicies[a]", contain: "trusted identities"},
		{name: "wildcard identity with others", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) {
			s.TrustedIdentities = []string{"*", "x509.subject: C=US, ST=WA, O=Org"}
		})}, field: "trustPolicies[a]", contain: "wildcard identity"},
		{name: "identity without DN minimum", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) {
			s.TrustedIdentities = []string{"x509.subject: CN=release"}
		})}, field: "trustPolicies[a]", contain: "mandatory RDN"},
		{name: "overlapping identities", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) {
			s.TrustedIdentities = []string{"x509.subject: C=US, ST=WA, O=Org", "x509.subject: C=US, ST=WA, O=Org, CN=x"}
		})}, field: "trustPolicies[a]", contain: "overlapping"},
		{name: "identity without separator", statements: []v1alpha1.TrustPolicyStatement{mod("a", func(s *v1alpha1.TrustPolicyStatement) {
			s.TrustedIdentities = []string{"release-team"}
		})}, field: "trustPolicies[a]", contain: "missing separator"},
		{name: "only tsa certificates for a verifying statement", statements: []v1alpha1.TrustPolicyStatement{skip("off", "x.io/off"), strict("a")}, sources: tsaOnly, field: "trustPolicies[a]", contain: "no certificate source has type ca or signingAuthority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			sources := tt.sources
			if sources == nil {
				sources = ca
			}
			_, err := Render(Input{Statements: tt.statements, Sources: sources, Now: testNow})
			e := expectError(g, err, v1alpha1.ReasonInvalidTrustPolicy, tt.field)
			g.Expect(e.Message).To(ContainSubstring(tt.contain))
		})
	}
}

func TestRenderTSAOnlyWithSkipStatements(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	res, err := Render(Input{
		Statements: []v1alpha1.TrustPolicyStatement{skip("off", "*")},
		Sources:    []Source{typedSource("tsa", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem)},
		Now:        testNow,
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Data).To(HaveKey("tsa.crt"))
	g.Expect(res.Warnings).To(BeEmpty())
}

func TestRenderWarnsAboutDockerHubScopes(t *testing.T) {
	f := fixtures(t)
	tests := []struct {
		scope string
		want  string // "" means no warning
	}{
		{scope: "docker.io/org/app", want: "index.docker.io/org/app"},
		{scope: "docker.io/nginx", want: "index.docker.io/library/nginx"},
		{scope: "index.docker.io/nginx", want: "index.docker.io/library/nginx"},
		{scope: "index.docker.io/library/nginx"},
		{scope: "index.docker.io/org/app"},
		{scope: "ghcr.io/org/app"},
		{scope: "localhost:5000/app"},
		{scope: "mirror.docker.io/nginx"},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			g := NewWithT(t)
			res, err := Render(Input{Statements: []v1alpha1.TrustPolicyStatement{strict("p", tt.scope)}, Sources: []Source{caSource("ca", f.root.pem)}, Now: testNow})
			g.Expect(err).NotTo(HaveOccurred())
			if tt.want == "" {
				g.Expect(res.Warnings).To(BeEmpty())
				return
			}
			g.Expect(warningReasons(res.Warnings)).To(Equal([]string{RegistryScopeNeverMatches}))
			g.Expect(res.Warnings[0].Message).To(ContainSubstring(`use that scope instead`))
			g.Expect(res.Warnings[0].Message).To(ContainSubstring(`"` + tt.want + `"`))
		})
	}
}
