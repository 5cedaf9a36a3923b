package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/test/certs"
	"github.com/flux-notation/verification-operator/test/cluster"
)

// createSecrets is the permission the negative test takes away: without
// it no namespace can receive its first Secret.
var createSecrets = cluster.Grant{Verb: "create", Resource: "secrets"}

// TestShippedRBACIsSufficient proves config/rbac is enough for the manager
// and that the test would notice if it were not: the manager runs as the
// ServiceAccount bound to exactly the rendered RBAC and completes a sync;
// with one rule removed the same sync fails; with the rule back it
// converges. (test/install checks the other direction: no rule is broader
// than declared.)
func TestShippedRBACIsSufficient(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	g.Expect(install.User()).To(Equal("system:serviceaccount:verification-operator-system:verification-operator-controller-manager"),
		"the ServiceAccount config/default renders")

	label := uniqueLabel()
	namespaces := createNamespaces(t, "rbac", 2, label)
	name := uniqueName("rbac")
	m := startManager(t)
	t.Cleanup(func() { deletePolicy(t, name) }) // runs before the manager stops

	steps(t,
		step{"the ServiceAccount has what config/rbac grants and no more", func(t *testing.T) {
			g := NewWithT(t)
			grants := install.Grants()
			g.Expect(grants).To(ContainElement(createSecrets))
			g.Expect(cluster.WaitAuthorized(ctx, k8s, install.User(), grants...)).To(Succeed())
			// Impersonation really narrows the manager: it is no admin.
			for _, denied := range []cluster.Grant{
				{Verb: "get", Resource: "configmaps", Namespace: "default"}, // sources: trust namespace only
				{Verb: "patch", Resource: "secrets", Namespace: "default"},
				// Secrets: by allowed name only (test/install checks every verb).
				{Verb: "get", Resource: "secrets", Namespace: "default", Name: "db-password"},
				{Verb: "list", Resource: "secrets"},
				{Verb: "watch", Resource: "secrets", Namespace: "default"},
				{Verb: "get", Resource: "serviceaccounts", Namespace: "default", Name: "default"},
				{Verb: "delete", Resource: "namespaces"},
				{Verb: "create", Group: rbacv1.GroupName, Resource: "clusterrolebindings"},
			} {
				allowed, err := cluster.Allowed(ctx, k8s, install.User(), denied)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(allowed).To(BeFalse(), "%s is allowed", denied)
			}
		}},
		step{"the manager completes a sync with exactly that", func(t *testing.T) {
			NewWithT(t).Expect(k8s.Create(ctx, newPolicy(name, label, inlineCA("root", certs.NewCA("rbac root"))))).To(Succeed())
			p := waitReady(t, name)
			waitSecrets(t, name, namespaces, p.Status.TrustDigest)
			expectNoForbidden(t, m)
		}},
		step{"without the rule to create Secrets the sync fails", func(t *testing.T) {
			g := NewWithT(t)
			role := clusterRoleGranting(t, createSecrets)
			// Put the rule back when this step ends, pass or fail: the
			// tests after this one need the shipped RBAC.
			t.Cleanup(func() { restore(t, role) })
			g.Expect(cluster.Apply(ctx, k8s, withoutGrant(t, role, createSecrets))).To(Succeed())
			g.Expect(cluster.WaitDenied(ctx, k8s, install.User(), createSecrets)).To(Succeed())

			late := createNamespaces(t, "rbac", 1, label)[0]
			g.Eventually(func(g Gomega) {
				p := getPolicy(g, name)
				ready := conditions.Get(p, meta.ReadyCondition)
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.Status).To(Equal(metav1.ConditionFalse), ready.Message)
				g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonSyncFailed), ready.Message)
				g.Expect(p.Status.NamespaceIssues).To(ContainElement(And(
					HaveField("Namespace", late),
					HaveField("Message", ContainSubstring("forbidden")),
				)))
			}, timeout, poll).Should(Succeed())
			g.Expect(secretsOf(g, name)).NotTo(HaveKey(late))
			g.Eventually(func(g Gomega) bool { return hasEvent(g, name, v1alpha1.ReasonSyncFailed) }, timeout, poll).
				Should(BeTrue(), "a SyncFailed event")
			namespaces = append(namespaces, late)
		}},
		step{"with the rule back the manager converges by itself", func(t *testing.T) {
			// No reconcile request: the failed sync is retried with backoff.
			p := waitReady(t, name)
			waitSecrets(t, name, namespaces, p.Status.TrustDigest)
		}},
	)
}

// clusterRoleGranting returns the rendered ClusterRole that grants want.
func clusterRoleGranting(t *testing.T, want cluster.Grant) *unstructured.Unstructured {
	t.Helper()
	for _, role := range install.Objects("ClusterRole") {
		for _, rule := range rulesOf(t, role) {
			if grantsIn(rule, want) {
				return role
			}
		}
	}
	t.Fatalf("no rendered ClusterRole grants %s", want)
	return nil
}

// withoutGrant returns role with want's verb removed from the rules that
// grant want, leaving everything else as rendered.
func withoutGrant(t *testing.T, role *unstructured.Unstructured, want cluster.Grant) *unstructured.Unstructured {
	t.Helper()
	var rules []rbacv1.PolicyRule
	for _, rule := range rulesOf(t, role) {
		if grantsIn(rule, want) {
			rule.Verbs = slices.DeleteFunc(slices.Clone(rule.Verbs), func(v string) bool { return v == want.Verb })
		}
		if len(rule.Verbs) > 0 { // a rule without verbs is invalid
			rules = append(rules, rule)
		}
	}
	out := role.DeepCopy()
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&rbacv1.ClusterRole{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	out.Object["rules"] = raw["rules"]
	return out
}

// restore applies the rendered role again and waits until it is in force.
func restore(t *testing.T, role *unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	if err := cluster.Apply(ctx, k8s, role); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitAuthorized(ctx, k8s, install.User(), install.Grants()...); err != nil {
		t.Fatal(err)
	}
}

func grantsIn(rule rbacv1.PolicyRule, g cluster.Grant) bool {
	return slices.Contains(rule.APIGroups, g.Group) && slices.Contains(rule.Resources, g.Resource) &&
		slices.Contains(rule.Verbs, g.Verb)
}

func rulesOf(t *testing.T, role *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var r rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(role.Object, &r); err != nil {
		t.Fatal(err)
	}
	return r.Rules
}
