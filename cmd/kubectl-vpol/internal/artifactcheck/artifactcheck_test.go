package artifactcheck

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/controllers/verify"
)

func TestParseArtifact(t *testing.T) {
	const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		in  string
		url string
		ref verify.Reference
	}{
		{"oci://ghcr.io/org/app:v1", "oci://ghcr.io/org/app", verify.Reference{Tag: "v1"}},
		{"oci://localhost:5000/app:v1", "oci://localhost:5000/app", verify.Reference{Tag: "v1"}},
		{"oci://localhost:5000/app", "oci://localhost:5000/app", verify.Reference{}},
		{"oci://ghcr.io/org/app@" + dgst, "oci://ghcr.io/org/app", verify.Reference{Digest: dgst}},
		{"oci://ghcr.io/org/app:v1@" + dgst, "oci://ghcr.io/org/app", verify.Reference{Digest: dgst}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			g := NewWithT(t)
			a, err := ParseArtifact(tc.in)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(a.URL).To(Equal(tc.url))
			g.Expect(a.Ref).To(Equal(tc.ref))
		})
	}
	for _, bad := range []string{"ghcr.io/org/app:v1", "oci://", "oci://ghcr.io"} {
		_, err := ParseArtifact(bad)
		NewWithT(t).Expect(err).To(HaveOccurred(), bad)
	}
}

func TestPassed(t *testing.T) {
	g := NewWithT(t)
	for verdict, want := range map[string]bool{"Verified": true, "Ignored": true, Delegated: true, "Failed": false, "Unavailable": false, Pending: false} {
		g.Expect(Row{Verdict: verdict}.Passed()).To(Equal(want), verdict)
	}
}
