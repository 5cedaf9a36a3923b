package targets

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

func TestPolicyOfSecret(t *testing.T) {
	cases := []struct {
		name   string
		labels map[string]string
		want   []reconcile.Request
	}{
		{"ours", map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"},
			[]reconcile.Request{{NamespacedName: types.NamespacedName{Name: "pol"}}}},
		{"our rollout snapshot", map[string]string{
			v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol",
			v1alpha1.RoleLabel: v1alpha1.RoleRolloutSnapshot,
		}, []reconcile.Request{{NamespacedName: types.NamespacedName{Name: "pol"}}}},
		{"another manager", map[string]string{v1alpha1.ManagedByLabel: "helm", v1alpha1.PolicyLabel: "pol"}, nil},
		{"policy label only", map[string]string{v1alpha1.PolicyLabel: "pol"}, nil},
		{"empty policy label", map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: ""}, nil},
		{"managed-by only", map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue}, nil},
		{"no labels", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The policy is cluster-scoped: the request has no namespace
			// whatever the Secret's.
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "notation-config", Namespace: "team-a", Labels: tc.labels}}
			NewWithT(t).Expect(PolicyOfSecret(context.Background(), s)).To(Equal(tc.want))
		})
	}
}

func TestIsBookkeeping(t *testing.T) {
	cases := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"rollout snapshot", map[string]string{v1alpha1.RoleLabel: v1alpha1.RoleRolloutSnapshot}, true},
		{"any role", map[string]string{v1alpha1.RoleLabel: "something"}, true},
		{"empty role", map[string]string{v1alpha1.RoleLabel: ""}, false},
		{"written for Flux", map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "pol"}, false},
		{"no labels", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels}}
			NewWithT(t).Expect(IsBookkeeping(s)).To(Equal(tc.want))
		})
	}
}

func TestListGenerated(t *testing.T) {
	g := NewWithT(t)
	ours := func(ns, name, policy string, extra map[string]string) *corev1.Secret {
		l := map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: policy}
		for k, v := range extra {
			l[k] = v
		}
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: l}}
	}
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(
		ours("a", "notation-config", "pol", nil),
		ours("b", "notation-config", "pol", nil),
		ours("trust", "pol-snapshot", "pol", map[string]string{v1alpha1.RoleLabel: v1alpha1.RoleRolloutSnapshot}),
		ours("a", "other-config", "other", nil),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "user", Labels: map[string]string{v1alpha1.PolicyLabel: "pol"}}},
	).Build()

	names := func(list []corev1.Secret) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.Namespace+"/"+s.Name)
		}
		return out
	}
	all, err := ListGenerated(context.Background(), c, "pol")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(names(all)).To(ConsistOf("a/notation-config", "b/notation-config", "trust/pol-snapshot"))
	var bookkeeping int
	for i := range all {
		if IsBookkeeping(&all[i]) {
			bookkeeping++
		}
	}
	g.Expect(bookkeeping).To(Equal(1))

	inA, err := ListGenerated(context.Background(), c, "pol", client.InNamespace("a"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(names(inA)).To(ConsistOf("a/notation-config"))

	none, err := ListGenerated(context.Background(), c, "nobody")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(none).To(BeEmpty())

	boom := errors.New("boom")
	failing := fake.NewClientBuilder().WithScheme(newScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error { return boom },
	}).Build()
	_, err = ListGenerated(context.Background(), failing, "pol")
	g.Expect(err).To(MatchError(boom))
}

func TestSelectNamespaces(t *testing.T) {
	g := NewWithT(t)
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b", Labels: map[string]string{"team": "yes"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"team": "yes"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "c"}},
	).Build()
	sel, list, err := SelectNamespaces(context.Background(), c, v1alpha1.Target{
		Namespaces:        []string{"c", "missing"},
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "yes"}},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sel).To(Equal(Selection{Targeted: []string{"a", "b", "c"}, Missing: []string{"missing"}}))
	g.Expect(list).To(HaveLen(3))

	_, _, err = SelectNamespaces(context.Background(), c, v1alpha1.Target{
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "In"}}},
	})
	g.Expect(err).To(HaveOccurred())

	boom := errors.New("boom")
	failing := fake.NewClientBuilder().WithScheme(newScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error { return boom },
	}).Build()
	_, _, err = SelectNamespaces(context.Background(), failing, v1alpha1.Target{Namespaces: []string{"a"}})
	g.Expect(err).To(MatchError(boom))
}
