package targets

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
)

func namespace(name string, lbls map[string]string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
}

func deleting(ns corev1.Namespace) corev1.Namespace {
	now := metav1.Now()
	ns.DeletionTimestamp = &now
	return ns
}

func phaseTerminating(ns corev1.Namespace) corev1.Namespace {
	ns.Status.Phase = corev1.NamespaceTerminating
	return ns
}

func TestSelect(t *testing.T) {
	team := map[string]string{"team": "yes"}
	// Deliberately not sorted, so the output order is the function's.
	namespaces := []corev1.Namespace{
		namespace("zeta", team),
		namespace("beta", nil),
		namespace("alpha", team),
		deleting(namespace("gone-a", team)),
		phaseTerminating(namespace("gone-b", team)),
		namespace("gamma", map[string]string{"team": "no"}),
		deleting(namespace("gone-named", nil)),
	}
	selector := &metav1.LabelSelector{MatchLabels: team}
	cases := []struct {
		name   string
		target v1alpha1.Target
		want   Selection
	}{
		{"nothing asked", v1alpha1.Target{}, Selection{}},
		{"by name", v1alpha1.Target{Namespaces: []string{"zeta", "beta"}},
			Selection{Targeted: []string{"beta", "zeta"}}},
		{"by name, duplicates collapse", v1alpha1.Target{Namespaces: []string{"beta", "beta"}},
			Selection{Targeted: []string{"beta"}}},
		{"by name, missing ones sorted", v1alpha1.Target{Namespaces: []string{"nope-2", "beta", "nope-1"}},
			Selection{Targeted: []string{"beta"}, Missing: []string{"nope-1", "nope-2"}}},
		{"by name, terminating", v1alpha1.Target{Namespaces: []string{"gone-named", "beta"}},
			Selection{Targeted: []string{"beta"}, Terminating: []string{"gone-named"}}},
		{"by selector", v1alpha1.Target{NamespaceSelector: selector},
			Selection{Targeted: []string{"alpha", "zeta"}, Terminating: []string{"gone-a", "gone-b"}}},
		{"by selector with expressions", v1alpha1.Target{NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"yes"}}},
		}}, Selection{Targeted: []string{"beta", "gamma"}, Terminating: []string{"gone-named"}}},
		{"empty selector selects everything", v1alpha1.Target{NamespaceSelector: &metav1.LabelSelector{}},
			Selection{Targeted: []string{"alpha", "beta", "gamma", "zeta"}, Terminating: []string{"gone-a", "gone-b", "gone-named"}}},
		{"both: the union, each once", v1alpha1.Target{Namespaces: []string{"beta", "alpha", "missing"}, NamespaceSelector: selector},
			Selection{Targeted: []string{"alpha", "beta", "zeta"}, Terminating: []string{"gone-a", "gone-b"}, Missing: []string{"missing"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := Select(tc.target, namespaces)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestSelectNoNamespaces(t *testing.T) {
	g := NewWithT(t)
	got, err := Select(v1alpha1.Target{Namespaces: []string{"b", "a"}, NamespaceSelector: &metav1.LabelSelector{}}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(Selection{Missing: []string{"a", "b"}}))
}

func TestSelectInvalidSelector(t *testing.T) {
	cases := []struct {
		name string
		req  metav1.LabelSelectorRequirement
	}{
		{"In without values", metav1.LabelSelectorRequirement{Key: "team", Operator: metav1.LabelSelectorOpIn}},
		{"NotIn without values", metav1.LabelSelectorRequirement{Key: "team", Operator: metav1.LabelSelectorOpNotIn}},
		{"Exists with values", metav1.LabelSelectorRequirement{Key: "team", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}}},
		{"unknown operator", metav1.LabelSelectorRequirement{Key: "team", Operator: "Near", Values: []string{"x"}}},
		{"invalid key", metav1.LabelSelectorRequirement{Key: "not a key!", Operator: metav1.LabelSelectorOpExists}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			target := v1alpha1.Target{
				Namespaces:        []string{"alpha"},
				NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{tc.req}},
			}
			got, err := Select(target, []corev1.Namespace{namespace("alpha", nil)})
			g.Expect(err).To(HaveOccurred())
			g.Expect(got).To(Equal(Selection{}), "nothing is selected on error")
			var ie *inputerror.Error
			g.Expect(err).To(BeAssignableToTypeOf(ie))
			ie, ok := inputerror.As(err)
			g.Expect(ok).To(BeTrue())
			g.Expect(ie.Kind).To(Equal(inputerror.Stalling))
			g.Expect(ie.Reason).To(Equal(v1alpha1.ReasonInvalidSpec))
			g.Expect(ie.Field).To(Equal("target.namespaceSelector"))
			g.Expect(ie.Message).NotTo(BeEmpty())
			g.Expect(err.Error()).To(HavePrefix("target.namespaceSelector: "))
		})
	}
}

func TestIsTerminating(t *testing.T) {
	cases := []struct {
		name string
		ns   corev1.Namespace
		want bool
	}{
		{"active", namespace("a", nil), false},
		{"phase Active", func() corev1.Namespace {
			ns := namespace("a", nil)
			ns.Status.Phase = corev1.NamespaceActive
			return ns
		}(), false},
		{"deletion timestamp", deleting(namespace("a", nil)), true},
		{"phase Terminating", phaseTerminating(namespace("a", nil)), true},
		{"both", deleting(phaseTerminating(namespace("a", nil))), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(IsTerminating(&tc.ns)).To(Equal(tc.want))
		})
	}
}
