package statusview

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// The status lists the failing and pending artifacts (the first 20) and
// counts the rest; the verdict of each artifact is read back from that.
func TestIssueVerdicts(t *testing.T) {
	issue := func(name, reason string) v1alpha1.ArtifactIssue {
		return v1alpha1.ArtifactIssue{Namespace: "ns", Name: name, Reason: reason}
	}
	cases := []struct {
		name                     string
		failed, pending, matched int32
		issues                   []v1alpha1.ArtifactIssue
		repo, verdict, reason    string
	}{
		{"listed, only failures", 1, 0, 2, []v1alpha1.ArtifactIssue{issue("a", "UntrustedSigner")}, "a", "Failed", "UntrustedSigner"},
		{"not listed", 1, 0, 2, []v1alpha1.ArtifactIssue{issue("a", "UntrustedSigner")}, "b", "Verified", ""},
		{"listed, only pending", 0, 1, 2, []v1alpha1.ArtifactIssue{issue("a", "RegistryUnreachable")}, "a", "Pending", "RegistryUnreachable"},
		{"both, a pending reason", 1, 1, 3, []v1alpha1.ArtifactIssue{issue("a", "UntrustedSigner"), issue("b", "RegistryUnreachable")}, "b", "Pending", "RegistryUnreachable"},
		{"both, a failure reason", 1, 1, 3, []v1alpha1.ArtifactIssue{issue("a", "UntrustedSigner"), issue("b", "RegistryUnreachable")}, "a", "Failed", "UntrustedSigner"},
		{"stale only is about Flux", 0, 0, 1, []v1alpha1.ArtifactIssue{issue("a", v1alpha1.ReasonFluxStale)}, "a", "Verified", ""},
		{"list cut short", 25, 0, 30, []v1alpha1.ArtifactIssue{issue("a", "UntrustedSigner")}, "b", Unknown, "not among the issues listed"},
		{"not checked yet", 0, 0, 0, nil, "a", "Pending", "not checked yet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			verdict, reason := newIssueVerdicts(tc.failed, tc.pending, tc.matched, tc.issues).of("ns", tc.repo)
			g.Expect(verdict).To(Equal(tc.verdict))
			g.Expect(reason).To(Equal(tc.reason))
		})
	}
}

// Each certificate says which source (and bundle) brought it in, as
// render's summary does; -o wide adds its digest.
func TestCertificatesShowTheirSource(t *testing.T) {
	g := NewWithT(t)
	p := &v1alpha1.VerificationPolicy{}
	p.Status.Certificates = []v1alpha1.CertificateStatus{
		{Key: "roots-1.crt", Type: v1alpha1.CertificateTypeCA, Source: "roots (ClusterTrustBundle example.com:roots:g2)", Subject: "CN=G2", SHA256: "ab"},
		{Key: "old.crt", Type: v1alpha1.CertificateTypeCA, Subject: "CN=G1", SHA256: "cd"},
	}
	s := certificatesSection(p, false)
	g.Expect(s.Header).To(Equal([]string{"KEY", "TYPE", "SOURCE", "SUBJECT", "NOT AFTER"}))
	g.Expect(s.Rows[0][:4]).To(Equal([]string{"roots-1.crt", "ca", "roots (ClusterTrustBundle example.com:roots:g2)", "CN=G2"}))
	g.Expect(s.Rows[1][2]).To(Equal("-"), "no source recorded")
	wide := certificatesSection(p, true)
	g.Expect(wide.Header).To(HaveExactElements("KEY", "TYPE", "SOURCE", "SUBJECT", "NOT AFTER", "SHA256"))
	g.Expect(wide.Rows[0]).To(HaveLen(6))
}
