package install

import (
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestRBACIsLeastPrivilege checks the shape of every Role and ClusterRole
// config/default installs (the bundle carries the same rules: see
// TestBundleIsCurrent):
//   - nothing is granted by wildcard, so every grant is explicit and reviewed;
//   - certificate sources (Secrets, ConfigMaps) are readable in the manager's
//     own namespace only, through a Role; ConfigMaps are only read there,
//     and Secrets only written for the rollout snapshots;
//   - no ClusterRole touches ConfigMaps: the manager never needs them
//     outside its namespace.
func TestRBACIsLeastPrivilege(t *testing.T) {
	// Report every offending rule, not just the first.
	g := NewGomega(func(message string, _ ...int) { t.Helper(); t.Error(message) })
	rendered := kustomizeBuild(t, "config/default")
	deployments := ofKind(rendered, "Deployment")
	if len(deployments) != 1 {
		t.Fatalf("want one Deployment (the manager), rendered %d", len(deployments))
	}
	managerNamespace := deployments[0].GetNamespace()

	readsSources := false
	for _, obj := range ofKind(rendered, "Role", "ClusterRole") {
		name := obj.GetKind() + " " + obj.GetName()
		for i, rule := range rulesOf(t, obj) {
			for _, field := range [][]string{rule.Verbs, rule.Resources, rule.APIGroups, rule.NonResourceURLs, rule.ResourceNames} {
				g.Expect(field).NotTo(ContainElement(ContainSubstring("*")), "%s rule %d grants by wildcard", name, i)
			}
			source := slices.Contains(rule.APIGroups, "") &&
				(slices.Contains(rule.Resources, "secrets") || slices.Contains(rule.Resources, "configmaps"))
			if obj.GetKind() == "Role" && source {
				g.Expect(obj.GetNamespace()).To(Equal(managerNamespace), "%s reads sources outside the trust namespace", name)
				writable := []string{"get", "list", "watch"}
				if !slices.Contains(rule.Resources, "configmaps") {
					writable = append(writable, "create", "update", "delete") // rollout snapshots
				}
				g.Expect(rule.Verbs).To(HaveEach(BeElementOf(writable)), "%s rule %d may change sources", name, i)
				readsSources = true
			}
			if obj.GetKind() == "ClusterRole" && slices.Contains(rule.APIGroups, "") {
				g.Expect(rule.Resources).NotTo(ContainElement("configmaps"), "%s rule %d reads ConfigMaps cluster-wide", name, i)
			}
		}
	}
	g.Expect(readsSources).To(BeTrue(), "no Role lets the manager read certificate sources in %s (make manifests)", managerNamespace)
}

func rulesOf(t *testing.T, obj *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole // a Role's rules have the same shape
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
		t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return role.Rules
}
