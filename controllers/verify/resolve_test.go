package verify

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/test/registry"
)

// TestDigestResolution covers Flux's precedence: the revision's digest, then
// spec.ref digest, semver (with filter), tag, "latest".
func TestDigestResolution(t *testing.T) {
	w := newWorld(t, registry.Options{})
	s := newSigner("trusted root")
	v100 := w.push("1.0.0", "1.0.0", "latest")
	v130 := w.push("1.3.0", "v1.3.0")
	v200 := w.push("2.0.0", "2.0.0", "not-semver")
	rc := w.push("1.4.0-rc.1", "1.4.0-rc.1")
	w.sign(v100, s)
	w.sign(v130, s)
	w.sign(rc, s)
	// v200 stays unsigned, so picking it shows as SignatureNotFound.

	cases := map[string]struct {
		ref      Reference
		revision string
		digest   string
		outcome  Outcome
		reason   string
		wantRev  string
	}{
		"revision wins over ref": {ref: Reference{Tag: "2.0.0"}, revision: "1.0.0@" + v100.Digest.String(), digest: v100.Digest.String(), outcome: Verified, reason: ReasonSucceeded, wantRev: "1.0.0@" + v100.Digest.String()},
		"digest revision":        {revision: v130.Digest.String(), digest: v130.Digest.String(), outcome: Verified, reason: ReasonSucceeded, wantRev: v130.Digest.String()},
		"ref digest":             {ref: Reference{Digest: v200.Digest.String(), Tag: "1.0.0"}, digest: v200.Digest.String(), outcome: Failed, reason: ReasonSignatureNotFound, wantRev: v200.Digest.String()},
		"semver beats tag":       {ref: Reference{SemVer: "1.x", Tag: "2.0.0"}, digest: v130.Digest.String(), outcome: Verified, reason: ReasonSucceeded, wantRev: "v1.3.0@" + v130.Digest.String()},
		"semver with filter":     {ref: Reference{SemVer: ">=1.0.0", SemverFilter: `^1\.0`}, digest: v100.Digest.String(), outcome: Verified, reason: ReasonSucceeded, wantRev: "1.0.0@" + v100.Digest.String()},
		"semver highest":         {ref: Reference{SemVer: ">=1.0.0"}, digest: v200.Digest.String(), outcome: Failed, reason: ReasonSignatureNotFound},
		"semver prerelease":      {ref: Reference{SemVer: ">=1.4.0-0 <2.0.0"}, digest: rc.Digest.String(), outcome: Verified, reason: ReasonSucceeded},
		"tag":                    {ref: Reference{Tag: "2.0.0"}, digest: v200.Digest.String(), outcome: Failed, reason: ReasonSignatureNotFound, wantRev: "2.0.0@" + v200.Digest.String()},
		"latest by default":      {digest: v100.Digest.String(), outcome: Verified, reason: ReasonSucceeded, wantRev: "latest@" + v100.Digest.String()},
		"missing tag":            {ref: Reference{Tag: "9.9.9"}, outcome: Failed, reason: ReasonDigestNotFound},
		"no semver match":        {ref: Reference{SemVer: ">=5.0.0"}, outcome: Failed, reason: ReasonDigestNotFound},
		"bad semver":             {ref: Reference{SemVer: "not a range"}, outcome: Failed, reason: ReasonInvalidReference},
		"bad filter":             {ref: Reference{SemVer: "1.x", SemverFilter: "("}, outcome: Failed, reason: ReasonInvalidReference},
		"bad ref digest":         {ref: Reference{Digest: "sha256:nope"}, outcome: Failed, reason: ReasonInvalidReference},
		"bad revision":           {revision: "v1@sha256:nope", outcome: Failed, reason: ReasonInvalidReference},
		"missing digest":         {revision: someDigest, outcome: Failed, reason: ReasonDigestNotFound},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			req := w.request(v100, w.trustFor(s.root))
			req.Ref, req.Revision = tc.ref, tc.revision
			r := New(Options{}).Verify(testContext(t), req, 0)
			expectResult(g, r, tc.outcome, tc.reason)
			if tc.digest != "" {
				g.Expect(r.Digest).To(Equal(tc.digest))
			}
			if tc.wantRev != "" {
				g.Expect(r.Revision).To(Equal(tc.wantRev))
			}
		})
	}
}

func TestInvalidURL(t *testing.T) {
	g := NewWithT(t)
	s := newSigner("trusted root")
	data := map[string][]byte{
		"trustpolicy.json": []byte(`{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]}`),
		"root.crt":         s.root.PEM(),
	}
	for _, url := range []string{"https://ghcr.io/org/app", "oci://ghcr.io/Org/App", "oci://ghcr.io/org/app:v1"} {
		r := New(Options{}).Verify(testContext(t), Request{URL: url, TrustData: data}, 0)
		expectResult(g, r, Failed, ReasonInvalidReference)
		g.Expect(r.Message).To(HavePrefix("URL validation failed for '" + url + "'"))
	}
}
