package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
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
	return fmt.Sprintf(`apiVersion: verification.flux-notation.io/v1alpha1
kind: VerificationPolicy
metadata:
  name: cli-cluster
spec:
  trustPolicies:
  - name: app
    registryScopes: [%q]
    signatureVerification: {level: strict}
    trustedIdentities: ["x509.subject: C=US, ST=WA, O=verification-operator tests, CN=CLI Test Release Signing"]
  certificates:
%s  target:
%s    namespaceSelector:
      matchLabels: {cli-test/verify: "true"}
    labels: {team.example.com/owner: platform}
  rollout:
    strategy: Staged
    stages:
    - name: canary
      namespaces: [team-a]
`, s.repo, certs.String(), namespaces)
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
		var rendered corev1.Secret
		g.Expect(yaml.UnmarshalStrict([]byte(r.stdout), &rendered)).To(Succeed())
		written := c.secret(g, "team-a")
		g.Expect(rendered.Data).To(HaveLen(len(written.Data)))
		for k, v := range written.Data {
			g.Expect(rendered.Data).To(HaveKey(k))
			g.Expect(rendered.Data[k]).To(Equal(v), "key %s", k)
		}
		g.Expect(rendered.Annotations[v1alpha1.TrustDigestAnnotation]).To(Equal(written.Annotations[v1alpha1.TrustDigestAnnotation]))
		g.Expect(rendered.Labels).To(Equal(written.Labels))
		g.Expect(rendered.Type).To(Equal(written.Type))
		g.Expect(rendered.OwnerReferences[0].Name).To(Equal(written.OwnerReferences[0].Name))
	})

	c.ociRepository(t, "team-a", "oci://"+s.repo, "trusted", metav1.ConditionTrue)
	c.ociRepository(t, "team-b", "oci://"+s.repo, "untrusted", metav1.ConditionFalse)
	g.Eventually(func(g Gomega) {
		counts := c.policy(g, "cli-cluster").Status.OCIRepositories
		g.Expect(counts.Matched).To(BeEquivalentTo(2))
		g.Expect(counts.Failed).To(BeEquivalentTo(1))
	}, time.Minute, 200*time.Millisecond).Should(Succeed())

	t.Run("status", func(t *testing.T) {
		g := NewWithT(t)
		r := c.vpol(t, "status", "cli-cluster")
		t.Logf("kubectl vpol status cli-cluster:\n%s", r.stdout)
		g.Expect(r.code).To(Equal(0), r.stderr)
		g.Expect(r.stdout).To(HavePrefix("VerificationPolicy cli-cluster: Ready=False (VerificationFailed)\n"))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  ArtifactsVerified +False +VerificationFailed +1 of 2 OCIRepositories fail verification: team-b/app \(UntrustedSigner\)$`))
		g.Expect(r.stdout).To(MatchRegexp(`(?m)^  cli-test-root\.crt +ca +CN=CLI Test Root`))
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
}
