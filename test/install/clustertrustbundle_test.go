package install

import (
	"slices"
	"testing"

	. "github.com/onsi/gomega"
)

// TestRBACReadsClusterTrustBundlesOnly: clusterTrustBundle sources need
// get, list and watch on clustertrustbundles cluster-wide (they are
// cluster-scoped) and nothing more: no write, no "attest" on signers, which
// would let the manager publish trust anchors itself.
func TestRBACReadsClusterTrustBundlesOnly(t *testing.T) {
	g := NewWithT(t)
	var verbs []string
	for _, obj := range ofKind(kustomizeBuild(t, "config/default"), "Role", "ClusterRole") {
		for _, rule := range rulesOf(t, obj) {
			if !slices.Contains(rule.APIGroups, "certificates.k8s.io") {
				continue
			}
			g.Expect(obj.GetKind()).To(Equal("ClusterRole"), "%s %s: ClusterTrustBundles are cluster-scoped", obj.GetKind(), obj.GetName())
			g.Expect(rule.Resources).To(Equal([]string{"clustertrustbundles"}), "%s: nothing else of certificates.k8s.io (signers, CSRs)", obj.GetName())
			verbs = append(verbs, rule.Verbs...)
		}
	}
	slices.Sort(verbs)
	g.Expect(verbs).To(Equal([]string{"get", "list", "watch"}))
}
