package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/registry"
)

// clusterPolicy is a staged policy trusting the registry's CA (from a
// ConfigMap in the trust namespace) and a fixture root (inline), for the
// namespaces labelled cli-test/verify=true, with extra roots and
// namespaces as given.
func clusterPolicy(s *signedRegistry, extraRoots map[string]string, extraNamespaces ...string) string {
	var certs strings.Builder
	certs.WriteString("  - name: cli-test-root\n    configMapRef: {name: cli-test-roots, key: root.crt}\n")
	g2, _ := os.ReadFile(filepath.Join("testdata", "certs", "release-root-g2.crt"))
	roots := map[string]string{"release-root-g2": string(g2)}
	for k, v := range extraRoots {
		roots[k] = v
	}
	for _, name := range []string{"release-root-g2", "someone-elses-root"} {
		if pem, ok := roots[name]; ok {
			fmt.Fprintf(&certs, "  - name: %s\n    inline: |\n      %s\n", name, strings.ReplaceAll(strings.TrimSpace(pem), "\n", "\n      "))
		}
	}
	namespaces := ""
	if len(extraNamespaces) > 0 {
		namespaces = fmt.Sprintf("    namespaces: [%s]\n", strings.Join(extraNamespaces, ", "))
	}
	return s.policyHead("cli-cluster") + fmt.Sprintf(`  certificates:
%s  target:
%s    namespaceSelector:
      matchLabels: {cli-test/verify: "true"}
    labels: {team.example.com/owner: platform}
  rollout:
    strategy: Staged
    stages:
    - name: canary
      namespaces: [team-a]
`, certs.String(), namespaces)
}

// TestAgainstTheOperator runs the operator in this process and the CLI
// next to it: render must produce byte for byte the Secret data the
// operator wrote, and status, diff and check --from-cluster must tell what
// the cluster holds.
func TestAgainstTheOperator(t *testing.T) {
	c := startCluster(t)
	s := newSignedRegistry(t, registry.Options{})
	for _, ns := range []string{"team-a", "team-b"} {
		c.namespace(t, ns, map[string]string{"cli-test/verify": "true"})
	}
	c.namespace(t, "sandbox", nil)

	roots := &corev1.ConfigMap{Data: map[string]string{"root.crt": string(s.ca.PEM())}}
	roots.APIVersion, roots.Kind = "v1", "ConfigMap"
	roots.Name, roots.Namespace = "cli-test-roots", trustNamespace
	sources := writeFile(t, "sources.yaml", asYAML(t, roots))
	policy := writeFile(t, "policy.yaml", clusterPolicy(s, nil))
	c.apply(t, sources, policy)

	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		p := c.policy(g, "cli-cluster")
		g.Expect(p.Status.Rollout).NotTo(BeNil())
		g.Expect(p.Status.Rollout.StableDigest).To(Equal(p.Status.TrustDigest), "the staged rollout completed")
		c.secret(g, "team-b")
	}, time.Minute, 200*time.Millisecond).Should(Succeed())

	t.Run("render writes the manager's Secret data, byte for byte", func(t *testing.T) {
		g := NewWithT(t)
		r := c.vpol(t, "render", "-f", policy, "--source-dir", sources, "-n", "team-a")
		g.Expect(r.code).To(Equal(0), r.stderr)
		expectTheManagersSecret(g, r.stdout, c.secret(g, "team-a"))
	})

	c.ociRepository(t, "team-a", "oci://"+s.repo, "trusted", metav1.ConditionTrue)
	c.ociRepository(t, "team-b", "oci://"+s.repo, "untrusted", metav1.ConditionFalse)
	g.Eventually(func(g Gomega) {
		counts := c.policy(g, "cli-cluster").Status.OCIRepositories
		g.Expect(counts.Matched).To(BeEquivalentTo(2))
		g.Expect(counts.Verified).To(BeEquivalentTo(1))
		g.Expect(counts.Failed).To(BeEquivalentTo(1))
		g.Expect(counts.Pending).To(BeZero())
	}, time.Minute, 200*time.Millisecond).Should(Succeed())

	t.Run("status", func(t *testing.T) {
		g := NewWithT(t)
		r := c.vpol(t, "status", "cli-cluster")
		t.Logf("kubectl vpol status cli-cluster:\n%s", r.stdout)
		g.Expect(r.code).To(Equal(0), r.stderr)
		g.Expect(r.stdout).To(HavePrefix("VerificationPolicy cli-cluster: Ready=False (VerificationFailed)\n"))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  ArtifactsVerified +False +VerificationFailed +1 of 2 OCIRepositories fail verification: team-b/app \(UntrustedSigner\)$`))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  cli-test-root\.crt +ca +cli-test-root +CN=CLI Test Root`))
		g.Expect(r.stdout).To(ContainSubstring("Namespaces: 2/2 synced, 0 conflicted, 0 failed (status); 2 targeted now"))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  team-a +Synced +canary +-$`))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  team-b +Synced +unstaged +-$`))
		g.Expect(r.stdout).NotTo(MatchRegexp(`(?m)^  sandbox`))
		g.Expect(r.stdout).To(ContainSubstring("OCIRepositories: 2 matched, 1 verified, 1 failed, 0 pending"))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  team-a +app +Verified +- +Verified +-$`))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  team-b +app +Failed +UntrustedSigner +Failed +-$`))
		g.Expect(r.stdout).To(ContainSubstring("Rollout: Staged, complete"))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  canary +1 +Verified `))
		g.Expect(r.stdout).NotTo(ContainSubstring("sha256:"), "digests only with -o wide")

		digest := c.policy(g, "cli-cluster").Status.TrustDigest
		r = c.vpol(t, "status", "cli-cluster", "-o", "wide")
		g.Expect(r.code).To(Equal(0), r.stderr)
		g.Expect(r.stdout).To(ContainSubstring("trust digest " + digest))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  team-a +Synced +canary +- +%s$`, digest))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  NAMESPACE +NAME +VERDICT +REASON +FLUX +FRESHNESS +REVISION$`))

		r = c.vpol(t, "status")
		g.Expect(r.code).To(Equal(0), r.stderr)
		g.Expect(r.stdout).To(ContainSubstring("VerificationPolicy cli-cluster"))
		r = c.vpol(t, "status", "cli-cluster", "-o", "json")
		g.Expect(r.code).To(Equal(0), r.stderr)
		g.Expect(r.stdout).To(ContainSubstring(`"trustDigest": "` + digest + `"`))

		g.Expect(c.vpol(t, "status", "no-such-policy").code).To(Equal(2))
	})

	t.Run("diff", func(t *testing.T) {
		g := NewWithT(t)
		digest := c.policy(g, "cli-cluster").Status.TrustDigest
		r := c.vpol(t, "diff", "-f", policy)
		g.Expect(r.code).To(Equal(0), "the policy in place: no difference\n"+r.stdout+r.stderr)
		g.Expect(r.stdout).To(ContainSubstring("trust digest: " + digest + " (unchanged)"))
		g.Expect(r.stdout).To(ContainSubstring("certificates: 0 added, 0 removed, 2 unchanged"))
		g.Expect(r.stdout).To(ContainSubstring("namespaces: 0 gain the Secret, 0 lose it, 2 keep it"))

		// A new root and a new namespace; sources come from the cluster.
		changed := writeFile(t, "policy.yaml", clusterPolicy(s, map[string]string{"someone-elses-root": string(s.otherCA.PEM())}, "sandbox"))
		r = c.vpol(t, "diff", "-f", changed)
		t.Logf("kubectl vpol diff:\n%s", r.stdout)
		g.Expect(r.code).To(Equal(1), r.stdout+r.stderr)
		g.Expect(r.stdout).To(MatchRegexp(`trust digest: %s -> sha256:[0-9a-f]{64}\n`, digest))
		g.Expect(r.stdout).To(ContainSubstring("certificates: 1 added, 0 removed, 2 unchanged"))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  \+  someone-elses-root\.crt  CN=Someone Else's Root,O=verification-operator tests,ST=WA,C=US  expires \d{4}-\d\d-\d\d$`))
		g.Expect(r.stdout).To(ContainSubstring("namespaces: 1 gain the Secret, 0 lose it, 2 keep it"))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  \+  sandbox$`))

		// Only team-a by name: team-b loses the Secret, and a root goes.
		narrowed := strings.Replace(clusterPolicy(s, nil, "team-a"), "    namespaceSelector:\n      matchLabels: {cli-test/verify: \"true\"}\n", "", 1)
		narrowedFile := writeFile(t, "policy.yaml", narrowed)
		r = c.vpol(t, "diff", "-f", narrowedFile)
		g.Expect(r.code).To(Equal(1), r.stdout+r.stderr)
		g.Expect(r.stdout).To(ContainSubstring("namespaces: 0 gain the Secret, 1 lose it, 1 keep it"))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  -  team-b$`))

		// A rejected spec changes nothing, and says why.
		r = c.vpol(t, "diff", "-f", "testdata/render/private-key.yaml")
		g.Expect(r.code).To(Equal(2))
		g.Expect(r.stderr).To(ContainSubstring("PrivateKeyRejected"))
	})

	t.Run("check --from-cluster verifies the governed OCIRepositories", func(t *testing.T) {
		g := NewWithT(t)
		r := c.vpol(t, "check", "-f", policy, "--source-dir", sources, "--from-cluster")
		t.Logf("kubectl vpol check --from-cluster:\n%s", r.stdout)
		g.Expect(r.code).To(Equal(1), r.stdout+r.stderr)
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^team-a/app +Verified +Succeeded +CN=CLI Test Release Signing`))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^team-b/app +Failed +UntrustedSigner +CN=Someone Else Signing`))
		g.Expect(r.stdout).To(ContainSubstring("1 of 2 artifacts would fail verification"))
	})

	t.Run("clusterTrustBundle sources: the CLI reads bundles as the manager does", func(t *testing.T) {
		testClusterTrustBundles(t, c, s)
	})

	t.Run("a Secret name the manager may not write: the same rejection", func(t *testing.T) {
		g := NewWithT(t)
		file := filepath.Join("testdata", "render", "secret-name-not-allowed.yaml")
		c.apply(t, file)
		var message string
		g.Eventually(func(g Gomega) {
			cond := apimeta.FindStatusCondition(c.policy(g, "other-secret-name").Status.Conditions, v1alpha1.SecretsSyncedCondition)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(v1alpha1.ReasonSecretNameNotAllowed))
			message = cond.Message
		}, time.Minute, 200*time.Millisecond).Should(Succeed())
		r := c.vpol(t, "render", "-f", file)
		g.Expect(r.code).To(Equal(1))
		g.Expect(r.stderr).To(ContainSubstring("Rejected  SecretNameNotAllowed  " + message + "\n"))
	})
}

// expectTheManagersSecret decodes render's output and compares it with the
// Secret the manager wrote: the data byte for byte, and its metadata.
func expectTheManagersSecret(g Gomega, stdout string, written *corev1.Secret) {
	var rendered corev1.Secret
	g.Expect(yaml.UnmarshalStrict([]byte(stdout), &rendered)).To(Succeed())
	g.Expect(rendered.Data).To(HaveLen(len(written.Data)))
	for k, v := range written.Data {
		g.Expect(rendered.Data).To(HaveKey(k))
		g.Expect(rendered.Data[k]).To(Equal(v), "key %s", k)
	}
	g.Expect(rendered.Annotations[v1alpha1.TrustDigestAnnotation]).To(Equal(written.Annotations[v1alpha1.TrustDigestAnnotation]))
	g.Expect(rendered.Labels).To(Equal(written.Labels))
	g.Expect(rendered.Type).To(Equal(written.Type))
	g.Expect(rendered.OwnerReferences[0].Name).To(Equal(written.OwnerReferences[0].Name))
}

// clusterTrustBundle writes a v1beta1 ClusterTrustBundle manifest (the
// version the test control plane serves).
func clusterTrustBundle(t *testing.T, name, signer string, labels map[string]string, pem []byte) string {
	b := &certificatesv1beta1.ClusterTrustBundle{Spec: certificatesv1beta1.ClusterTrustBundleSpec{SignerName: signer, TrustBundle: string(pem)}}
	b.APIVersion, b.Kind = "certificates.k8s.io/v1beta1", "ClusterTrustBundle"
	b.Name, b.Labels = name, labels
	return asYAML(t, b)
}

// testClusterTrustBundles has the manager render a policy from a signer's
// bundles (selected by label, in name order) and a named optional one, and
// checks that render, given the same bundles as files, writes its Secret
// byte for byte; that diff and check --from-cluster read them from the
// cluster at the version discovery finds served (v1beta1 here); and that
// status names the bundle of each certificate.
func testClusterTrustBundles(t *testing.T, c *cluster, s *signedRegistry) {
	g := NewWithT(t)
	fixture := func(name string) []byte {
		pem, err := os.ReadFile(filepath.Join("testdata", "certs", name))
		g.Expect(err).NotTo(HaveOccurred())
		return pem
	}
	prod := map[string]string{"ring": "production"}
	bundles := writeFile(t, "bundles.yaml", strings.Join([]string{
		clusterTrustBundle(t, "cli-test.example.com:roots:a", "cli-test.example.com/roots", prod, s.ca.PEM()),
		clusterTrustBundle(t, "cli-test.example.com:roots:b", "cli-test.example.com/roots", prod, fixture("release-root-g2.crt")),
		clusterTrustBundle(t, "cli-test.example.com:roots:c", "cli-test.example.com/roots", map[string]string{"ring": "staging"}, s.otherCA.PEM()),
		clusterTrustBundle(t, "cli-test-retiring", "", nil, fixture("release-root-g3.crt")),
	}, "---\n"))
	policy := writeFile(t, "policy.yaml", s.policyHead("cli-bundles")+`  certificates:
  - name: roots
    clusterTrustBundle:
      signerName: cli-test.example.com/roots
      labelSelector: {matchLabels: {ring: production}}
  - name: retiring
    clusterTrustBundle: {name: cli-test-retiring, optional: true}
  target:
    namespaces: [team-c]
`)
	c.namespace(t, "team-c", nil)
	c.apply(t, bundles, policy)
	// Wait for the whole Secret: the manager may render once before its
	// watch has seen every bundle (the named one is optional, so a render
	// without it is valid), then again.
	var written *corev1.Secret
	g.Eventually(func(g Gomega) {
		p := c.policy(g, "cli-bundles")
		g.Expect(p.Status.TrustDigest).NotTo(BeEmpty())
		written = c.secret(g, "team-c")
		g.Expect(written.Annotations).To(HaveKeyWithValue(v1alpha1.TrustDigestAnnotation, p.Status.TrustDigest))
		g.Expect(written.Data).To(HaveKey("roots-1.crt"))
		g.Expect(written.Data).To(HaveKey("roots-2.crt"))
		g.Expect(written.Data).To(HaveKey("retiring.crt"))
	}, time.Minute, 200*time.Millisecond).Should(Succeed())

	r := c.vpol(t, "render", "-f", policy, "--source-dir", bundles, "-n", "team-c")
	g.Expect(r.code).To(Equal(0), r.stderr)
	expectTheManagersSecret(g, r.stdout, written)

	r = c.vpol(t, "diff", "-f", policy)
	g.Expect(r.code).To(Equal(0), "bundles read from the cluster: no difference\n"+r.stdout+r.stderr)
	g.Expect(r.stdout).To(ContainSubstring("certificates: 0 added, 0 removed, 3 unchanged"))

	// One more production bundle in the pull request: the files' bundles
	// join the cluster's selection.
	next := writeFile(t, "next.yaml", clusterTrustBundle(t, "cli-test.example.com:roots:d", "cli-test.example.com/roots", prod,
		certs.NewCA("CLI Test Next Root").PEM()))
	r = c.vpol(t, "diff", "-f", policy, "--source-dir", next)
	g.Expect(r.code).To(Equal(1), r.stdout+r.stderr)
	g.Expect(r.stdout).To(ContainSubstring("certificates: 1 added, 0 removed, 3 unchanged"))
	g.Expect(r.stdout).To(MatchRegexp(`(?m)^  \+  roots-3\.crt  CN=CLI Test Next Root`))

	r = c.vpol(t, "check", "-f", policy, "--from-cluster", "--insecure", "--docker-config", noDockerConfig(t), "--artifact", s.artifact("trusted"))
	g.Expect(r.code).To(Equal(0), "verified with the root of a bundle in the cluster\n"+r.stdout+r.stderr)
	g.Expect(r.stderr).To(ContainSubstring("the policy would govern no OCIRepository and no HelmChart"))

	r = c.vpol(t, "status", "cli-bundles")
	g.Expect(r.code).To(Equal(0), r.stderr)
	g.Expect(r.stdout).To(MatchRegexp(`(?m)^  roots-1\.crt +ca +roots \(ClusterTrustBundle cli-test\.example\.com:roots:a\) +CN=CLI Test Root`))
}
