package install

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/test/cluster"
	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// rbacKinds are what an install grants the manager.
var rbacKinds = []string{"Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}

// TestSecretAccessIsLeastPrivilege creates the RBAC config/default renders
// on a real API server and asks it, with SubjectAccessReviews as the
// manager's ServiceAccount, what the operator may do with Secrets: read
// none outside the allow-list (--target-secret-names) and the trust
// namespace, whatever the verb, name or namespace; do its work on the
// allowed name. Then it binds the optional registry-credentials grant
// (config/with-registry-credentials) and checks that it adds get, and only
// get.
func TestSecretAccessIsLeastPrivilege(t *testing.T) {
	g := NewWithT(t)
	rendered := kustomizeBuild(t, "config/default")
	sas := ofKind(rendered, "ServiceAccount")
	g.Expect(sas).To(HaveLen(1))
	trustNS := sas[0].GetNamespace()
	user := "system:serviceaccount:" + trustNS + ":" + sas[0].GetName()
	allowed := targetSecretNames(t, rendered)
	g.Expect(allowed).To(Equal([]string{"notation-config"}), "the Deployment's --target-secret-names")

	env, cfg, err := testenv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	apply := func(objs []*unstructured.Unstructured) {
		t.Helper()
		for _, obj := range ofKind(objs, rbacKinds...) {
			g.Expect(cluster.Apply(ctx, c, obj)).To(Succeed())
		}
	}
	apply(rendered)
	can := func(verb, resource, namespace, name string) cluster.Grant {
		return cluster.Grant{Verb: verb, Resource: resource, Namespace: namespace, Name: name}
	}
	// The RBAC is in force once what the manager needs is authorized.
	var needed []cluster.Grant
	for _, name := range allowed {
		for _, verb := range []string{"get", "list", "watch", "update", "delete"} {
			needed = append(needed, can(verb, "secrets", "", name), can(verb, "secrets", "team-a", name))
		}
	}
	needed = append(needed, can("create", "secrets", "team-a", ""),
		can("get", "secrets", trustNS, "signing-roots"), can("list", "secrets", trustNS, ""),
		can("create", "secrets", trustNS, ""), can("update", "secrets", trustNS, "vpol-rollout-p"))
	g.Expect(cluster.WaitAuthorized(ctx, c, user, needed...)).To(Succeed())

	// No read of any other Secret: every read verb, on names that are not
	// allowed (and on no name at all: list and watch without the field
	// selector), in a target namespace, a system namespace and cluster-wide.
	reads := []string{"get", "list", "watch"}
	var denied []cluster.Grant
	for _, verb := range reads {
		for _, ns := range []string{"team-a", "kube-system", ""} {
			for _, name := range []string{"", "db-password", "vpol-rollout-p", "notation-config-old"} {
				denied = append(denied, can(verb, "secrets", ns, name))
			}
		}
	}
	// Nor the registry credentials without the optional grant, nor a way
	// around it (a token for another ServiceAccount, patch of a Secret).
	denied = append(denied,
		can("get", "serviceaccounts", "team-a", "default"),
		cluster.Grant{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "team-a", Name: "default"},
		can("patch", "secrets", "team-a", "notation-config"),
		can("deletecollection", "secrets", "team-a", ""))
	expectDenied(t, ctx, c, user, denied)

	// The optional grant: get of any Secret and ServiceAccount, nothing else.
	withCreds := kustomizeBuild(t, "config/with-registry-credentials")
	g.Expect(len(withCreds)).To(Equal(len(rendered)+2), "config/default plus the ClusterRole and its binding")
	apply(withCreds)
	g.Expect(cluster.WaitAuthorized(ctx, c, user,
		can("get", "secrets", "team-a", "registry-pull"),
		can("get", "serviceaccounts", "team-a", "default"))).To(Succeed())
	var stillDenied []cluster.Grant
	for _, verb := range []string{"list", "watch"} {
		for _, ns := range []string{"team-a", ""} {
			stillDenied = append(stillDenied, can(verb, "secrets", ns, ""), can(verb, "serviceaccounts", ns, ""))
		}
	}
	stillDenied = append(stillDenied, can("update", "secrets", "team-a", "registry-pull"),
		cluster.Grant{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "team-a", Name: "default"})
	expectDenied(t, ctx, c, user, stillDenied)
}

func expectDenied(t *testing.T, ctx context.Context, c client.Client, user string, grants []cluster.Grant) {
	t.Helper()
	for _, gr := range grants {
		ok, err := cluster.Allowed(ctx, c, user, gr)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			t.Errorf("the manager may %s", gr)
		}
	}
}

// TestTargetSecretNamesMatchTheClusterRole: the flag and the ClusterRole's
// resourceNames are two lists of one thing; the manager refuses to start
// when they differ (targets.CheckAccess), and this keeps the shipped pair
// equal. Every ClusterRole rule that reads Secrets is narrowed by name.
func TestTargetSecretNamesMatchTheClusterRole(t *testing.T) {
	g := NewWithT(t)
	for _, dir := range []string{"config/default", "config/with-registry-credentials"} {
		rendered := kustomizeBuild(t, dir)
		want := targetSecretNames(t, rendered)
		var byName []string
		for _, role := range ofKind(rendered, "ClusterRole") {
			for i, rule := range rulesOf(t, role) {
				if !slices.Contains(rule.APIGroups, "") || !slices.Contains(rule.Resources, "secrets") {
					continue
				}
				reads := slices.ContainsFunc(rule.Verbs, func(v string) bool { return v == "list" || v == "watch" })
				g.Expect(reads && len(rule.ResourceNames) == 0).To(BeFalse(),
					"%s: ClusterRole %s rule %d lists or watches Secrets without resourceNames", dir, role.GetName(), i)
				if role.GetName() == "verification-operator-manager-role" && len(rule.ResourceNames) > 0 {
					byName = append(byName, rule.ResourceNames...)
				}
			}
		}
		slices.Sort(byName)
		g.Expect(byName).To(Equal(want), "%s: the manager ClusterRole's Secret resourceNames and --target-secret-names", dir)
	}
}

// targetSecretNames is the --target-secret-names of the rendered manager.
func targetSecretNames(t *testing.T, rendered []*unstructured.Unstructured) []string {
	t.Helper()
	deployments := ofKind(rendered, "Deployment")
	if len(deployments) != 1 {
		t.Fatalf("want one Deployment, rendered %d", len(deployments))
	}
	containers, _, _ := unstructured.NestedSlice(deployments[0].Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		args, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--target-secret-names="); ok {
				names := strings.Split(v, ",")
				slices.Sort(names)
				return names
			}
		}
	}
	t.Fatalf("the manager Deployment sets no --target-secret-names (the default, %q, would then be implicit)", "notation-config")
	return nil
}
