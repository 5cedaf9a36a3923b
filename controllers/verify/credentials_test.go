package verify

import (
	"encoding/base64"
	"testing"

	. "github.com/onsi/gomega"
)

// TestKeyringMatchesLikeFlux pins the credential selection of
// go-containerregistry's Kubernetes keychain, which Flux uses.
func TestKeyringMatchesLikeFlux(t *testing.T) {
	cfg := func(entries string) []byte { return []byte(`{"auths":{` + entries + `}}`) }
	kr, err := newKeyring([][]byte{
		cfg(`"registry.example.com":{"username":"host","password":"p1"},
		     "registry.example.com/team":{"username":"team","password":"p2"},
		     "*.glob.example.com":{"username":"glob","password":"p3"},
		     "https://index.docker.io/v1/":{"username":"hub","password":"p4"},
		     "docker.io":{"username":"short-hub","password":"p5"},
		     "localhost:5000":{"username":"port","password":"p6"},
		     "token.example.com":{"identitytoken":"refresh","registrytoken":"access"}`),
		cfg(`"registry.example.com":{"username":"second-secret","password":"p7"},
		     "other.example.com":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("encoded:pa:ss")) + `"}`),
	})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())

	cases := map[string]string{
		"registry.example.com/app":          "host", // the first secret wins for the same key
		"registry.example.com/team/app":     "team", // the longer key wins
		"registry.example.com/teamster/app": "team", // a string prefix, as in the kubelet
		"a.glob.example.com/app":            "glob",
		"a.b.glob.example.com/app":          "",    // one label per glob
		"index.docker.io/library/nginx":     "hub", // docker.io alone does not match
		"localhost:5000/app":                "port",
		"localhost:5001/app":                "",
		"localhost/app":                     "",
		"other.example.com/app":             "encoded",
		"unknown.example.com/app":           "",
	}
	for repo, user := range cases {
		g := NewWithT(t)
		a, ok := kr.lookup(repo)
		g.Expect(ok).To(Equal(user != ""), repo)
		g.Expect(a.Username).To(Equal(user), repo)
	}

	g := NewWithT(t)
	a, _ := kr.lookup("other.example.com/app")
	g.Expect(a.Password).To(Equal("pa:ss"))
	a, _ = kr.lookup("token.example.com/app")
	c := a.credential()
	g.Expect(c.RefreshToken).To(Equal("refresh"))
	g.Expect(c.AccessToken).To(Equal("access"))
	g.Expect(kr.secrets()).To(ContainElements("p1", "pa:ss", "refresh", "access"))
}

func TestKeyringRejectsBadConfigsWithoutQuotingThem(t *testing.T) {
	g := NewWithT(t)
	_, err := newKeyring([][]byte{[]byte(`{"auths": "s3cret`)})
	g.Expect(err).To(MatchError(ContainSubstring("pull secret 1")))
	g.Expect(err.Error()).NotTo(ContainSubstring("s3cret"))

	_, err = newKeyring([][]byte{[]byte(`{"auths":{"r.example.com":{"auth":"bm9jb2xvbg=="}}}`)}) // "nocolon"
	g.Expect(err).To(MatchError(ContainSubstring("base64(username:password)")))
	g.Expect(err.Error()).NotTo(ContainSubstring("nocolon"))
}
