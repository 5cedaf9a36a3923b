package verify

import (
	"testing"

	. "github.com/onsi/gomega"
	"github.com/opencontainers/go-digest"
)

// TestArtifactReferenceIsFluxs: trust policy scopes are matched against
// go-containerregistry's repository names.
func TestArtifactReferenceIsFluxs(t *testing.T) {
	d := digest.Digest(someDigest)
	cases := map[string]string{
		"oci://docker.io/org/app":           "index.docker.io/org/app@" + someDigest,
		"oci://index.docker.io/org/app":     "index.docker.io/org/app@" + someDigest,
		"oci://docker.io/nginx":             "index.docker.io/library/nginx@" + someDigest,
		"oci://ghcr.io/org/team/app":        "ghcr.io/org/team/app@" + someDigest,
		"oci://localhost:5000/app":          "localhost:5000/app@" + someDigest,
		"oci://127.0.0.1:5000/app":          "127.0.0.1:5000/app@" + someDigest,
		"oci://registry.example.com:443/xy": "registry.example.com:443/xy@" + someDigest,
	}
	for url, want := range cases {
		g := NewWithT(t)
		repo, err := parseRepository(url, false)
		g.Expect(err).NotTo(HaveOccurred(), url)
		g.Expect(artifactReference(repo, d)).To(Equal(want), url)
	}
}

func TestDigestFromRevision(t *testing.T) {
	g := NewWithT(t)
	d, tag, ok, err := digestFromRevision("v1.2.3@" + someDigest)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(tag).To(Equal("v1.2.3"))
	g.Expect(d.String()).To(Equal(someDigest))
	g.Expect(revisionString(tag, d)).To(Equal("v1.2.3@" + someDigest))

	_, tag, ok, err = digestFromRevision(someDigest)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(tag).To(BeEmpty())

	_, _, ok, err = digestFromRevision("")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse())

	_, _, _, err = digestFromRevision("v1/0123")
	g.Expect(err).To(HaveOccurred())
}
