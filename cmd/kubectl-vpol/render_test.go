package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// now is the time every golden render is made at: the fixture
// certificates' validity warnings depend on it, and nothing else does.
const now = "--now=2030-01-01T00:00:00Z"

// TestRenderGolden pins render's whole output (stdout, stderr, exit code)
// for the shipped samples and for every reason the operator rejects input
// with that needs no cluster to tell (ClusterTrustBundleAPINotServed does:
// see internal/preview). The rejection messages are the operator's (the
// same admission check, resolver and renderer); the golden files show a
// reviewer what a platform engineer will read.
func TestRenderGolden(t *testing.T) {
	sources := filepath.Join("testdata", "sources")
	large := oversizedSource(t)
	cases := []struct {
		name string
		args []string
	}{
		{"render/sample", []string{"render", "-f", "../../config/samples", "--policy", "example-corp-releases", "--source-dir", sources, "-n", "flux-system", now}},
		{"render/sample-clustertrustbundle", []string{"render", "-f", "../../config/samples", "--policy", "example-corp-trust-bundles", "--source-dir", sources, "-n", "team-bundles", now}},
		{"render/sample-json", []string{"render", "-f", "../../config/samples/verification_v1alpha1_verificationpolicy.yaml", "--source-dir", sources, "-o", "json", now}},
		{"render/warnings", []string{"render", "-f", "testdata/render/warnings.yaml", now}},
		{"render/source-not-found", []string{"render", "-f", "../../config/samples/verification_v1alpha1_verificationpolicy.yaml", now}},
		{"render/bundle-not-found", []string{"render", "-f", "../../config/samples/verification_v1alpha1_verificationpolicy_clustertrustbundle.yaml", now}},
		{"render/source-key-not-found", []string{"render", "-f", "testdata/render/source-key-not-found.yaml", "--source-dir", sources, now}},
		{"render/source-in-another-namespace", []string{"render", "-f", "../../config/samples/verification_v1alpha1_verificationpolicy.yaml", "--source-dir", sources, "--trust-namespace", "flux-system", now}},
		{"render/invalid-certificate", []string{"render", "-f", "testdata/render/invalid-certificate.yaml", now}},
		{"render/private-key", []string{"render", "-f", "testdata/render/private-key.yaml", now}},
		{"render/invalid-trust-policy", []string{"render", "-f", "testdata/render/invalid-trust-policy.yaml", now}},
		{"render/duplicate-key", []string{"render", "-f", "testdata/render/duplicate-key.yaml", now}},
		{"render/invalid-spec", []string{"render", "-f", "testdata/render/invalid-spec.yaml", now}},
		{"render/secret-too-large", []string{"render", "-f", "testdata/render/secret-too-large.yaml", "--source-dir", large, now}},
		{"render/secret-name-not-allowed", []string{"render", "-f", "testdata/render/secret-name-not-allowed.yaml", "--source-dir", sources, now}},
		{"render/unknown-field", []string{"render", "-f", "testdata/render/unknown-field.yaml", now}},
		{"render/duplicate-source", []string{"render", "-f", "../../config/samples", "-f", "testdata/render/duplicate-source.yaml", "--source-dir", sources, now}},
		{"render/no-policy", []string{"render", "-f", sources, now}},
		{"render/bad-output", []string{"render", "-f", "testdata/render/warnings.yaml", "-o", "table", now}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, vpol(t, tc.args...), tc.args, map[string]string{large: "$TMP"})
		})
	}
}

// oversizedSource writes a Secret in the trust namespace holding the
// fixture certificate whose extension makes it larger than a Secret may
// be (stored gzipped: it is mostly zeros).
func oversizedSource(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "certs", "oversized-root.crt.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	s := corev1.Secret{Data: map[string][]byte{"ca.crt": pem}}
	s.APIVersion, s.Kind = "v1", "Secret"
	s.Name, s.Namespace = "oversized-root", "verification-operator-system"
	out, err := yaml.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "oversized-root.yaml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRenderPrintsTheOperatorsSecret decodes render's YAML and checks it
// is the Secret the operator builds: its data renders to the digest it
// carries, and the trust policy is the one Flux reads.
func TestRenderPrintsTheOperatorsSecret(t *testing.T) {
	g := NewWithT(t)
	r := vpol(t, "render", "-f", "../../config/samples", "--policy", "example-corp-releases", "--source-dir", filepath.Join("testdata", "sources"), now)
	g.Expect(r.code).To(Equal(0), r.stderr)
	var s corev1.Secret
	g.Expect(yaml.UnmarshalStrict([]byte(r.stdout), &s)).To(Succeed())
	g.Expect(s.Name).To(Equal(v1alpha1.DefaultSecretName))
	g.Expect(s.Namespace).To(BeEmpty(), "the same Secret goes to every namespace unless -n says which")
	g.Expect(s.Annotations).To(HaveKeyWithValue(v1alpha1.TrustDigestAnnotation, trustconfig.TrustDigest(s.Data)))
	g.Expect(s.Data).To(HaveKey(trustconfig.TrustPolicyKey))
	g.Expect(s.Data).To(HaveKey("release-root-g2.crt"))
	g.Expect(bytes.Contains(s.Data[trustconfig.TrustPolicyKey], []byte(`"ca:platform-releases"`))).To(BeTrue())
}

// TestRenderTargetSecretNames: --target-secret-names means what the
// manager's flag means; a name it lists is admitted.
func TestRenderTargetSecretNames(t *testing.T) {
	g := NewWithT(t)
	args := []string{"render", "-f", "testdata/render/secret-name-not-allowed.yaml", "--source-dir", filepath.Join("testdata", "sources"), now}
	r := vpol(t, append(args, "--target-secret-names", "notation-config,notation-cluster-roots")...)
	g.Expect(r.code).To(Equal(0), r.stderr)
	var s corev1.Secret
	g.Expect(yaml.UnmarshalStrict([]byte(r.stdout), &s)).To(Succeed())
	g.Expect(s.Name).To(Equal("notation-cluster-roots"))

	r = vpol(t, append(args, "--target-secret-names", "notation-config")...)
	g.Expect(r.code).To(Equal(1))
	g.Expect(r.stderr).To(ContainSubstring("(--target-secret-names=notation-config)"))
}
