package trustconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// sha256String is an independent digest of a hand-built byte string.
func sha256String(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestFluxFingerprintMatchesHandBuiltInput(t *testing.T) {
	g := NewWithT(t)
	data := map[string][]byte{
		"trustpolicy.json": []byte(`{"version":"1.0"}`),
		"a.pem":            []byte("BBB"), // key order and value order differ on purpose
		"z.crt":            []byte("AAA"),
		"m.crt":            []byte("AAB"),
		"notes.txt":        []byte("ignored: not a certificate key"),
		"x.crt.bak":        []byte("ignored too"),
	}
	want := "provider:notation\x00" +
		"trustpolicy:{\"version\":\"1.0\"}\x00" +
		"cert:AAA\x00" +
		"cert:AAB\x00" +
		"cert:BBB\x00"
	g.Expect(FluxFingerprint("notation", data)).To(Equal(sha256String(want)))
	// Pinned (computed with sha256sum from the shell), so a change of the
	// hand-built string above is noticed too.
	g.Expect(sha256String(want)).To(Equal("sha256:239d68b2080924cfc9b2f81c368470fd276cfb0a99ae8ddd11b79d1c08feadcd"))
}

func TestFluxFingerprintWithoutTrustPolicy(t *testing.T) {
	g := NewWithT(t)
	data := map[string][]byte{"a.crt": []byte("A")}
	g.Expect(FluxFingerprint("notation", data)).To(Equal(sha256String("provider:notation\x00cert:A\x00")))
	// An empty but present trust policy still counts.
	data["trustpolicy.json"] = nil
	g.Expect(FluxFingerprint("notation", data)).To(Equal(sha256String("provider:notation\x00trustpolicy:\x00cert:A\x00")))
	// The provider is part of it.
	g.Expect(FluxFingerprint("cosign", data)).NotTo(Equal(FluxFingerprint("notation", data)))
}

func TestFluxFingerprintIgnoresKeyNames(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	res, err := Render(input(caSource("team-a", f.root.pem), caSource("team-b", f.second.pem)))
	g.Expect(err).NotTo(HaveOccurred())

	renamed := map[string][]byte{
		TrustPolicyKey:  res.Data[TrustPolicyKey],
		"other-1.pem":   res.Data["team-b.crt"],
		"zzz.crt":       res.Data["team-a.crt"],
		"unrelated.txt": []byte("x"),
	}
	g.Expect(FluxFingerprint(ProviderNotation, renamed)).To(Equal(res.FluxFingerprint))
	// The trust digest, by contrast, sees every key.
	g.Expect(TrustDigest(renamed)).NotTo(Equal(res.TrustDigest))

	// Changing the certificates changes the fingerprint.
	res2, err := Render(input(caSource("team-a", f.root.pem), caSource("team-b", f.tsaRoot.pem)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res2.FluxFingerprint).NotTo(Equal(res.FluxFingerprint))
}

func TestTrustDigest(t *testing.T) {
	g := NewWithT(t)
	data := map[string][]byte{
		"trustpolicy.json": []byte("{}"),
		"b.crt":            []byte("B"),
		"a.crt":            []byte("A"),
	}
	want := "a.crt\x00A\x00" + "b.crt\x00B\x00" + "trustpolicy.json\x00{}\x00"
	g.Expect(TrustDigest(data)).To(Equal(sha256String(want)))

	// NUL separators keep a different split of the same bytes apart.
	g.Expect(TrustDigest(map[string][]byte{"ab": []byte("c")})).NotTo(Equal(TrustDigest(map[string][]byte{"a": []byte("bc")})))
	// Renaming a key changes it.
	g.Expect(TrustDigest(map[string][]byte{"a.crt": []byte("A")})).NotTo(Equal(TrustDigest(map[string][]byte{"b.crt": []byte("A")})))
	g.Expect(TrustDigest(nil)).To(Equal(sha256String("")))
}

// Render's digests describe the data it returns, rebuilt here from the
// documented byte layouts (not from TrustDigest or FluxFingerprint): the
// fingerprint as source-controller v1.10 computes it, the trust digest as
// sorted key/value pairs.
func TestRenderReportsTheDigestsOfItsData(t *testing.T) {
	g := NewWithT(t)
	f := fixtures(t)
	res, err := Render(input(caSource("a", f.root.pem), typedSource("t", v1alpha1.CertificateTypeTSA, f.tsaRoot.pem)))
	g.Expect(err).NotTo(HaveOccurred())

	var keys, certs []string
	for k, v := range res.Data {
		keys = append(keys, k)
		if strings.HasSuffix(k, ".crt") || strings.HasSuffix(k, ".pem") {
			certs = append(certs, string(v))
		}
	}
	sort.Strings(keys)
	sort.Strings(certs)
	g.Expect(certs).To(HaveLen(2))
	var trust strings.Builder
	for _, k := range keys {
		trust.WriteString(k + "\x00" + string(res.Data[k]) + "\x00")
	}
	fingerprint := "provider:notation\x00trustpolicy:" + string(res.Data["trustpolicy.json"]) + "\x00"
	for _, c := range certs {
		fingerprint += "cert:" + c + "\x00"
	}
	g.Expect(res.TrustDigest).To(Equal(sha256String(trust.String())))
	g.Expect(res.FluxFingerprint).To(Equal(sha256String(fingerprint)))
}
