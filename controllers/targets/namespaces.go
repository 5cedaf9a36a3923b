package targets

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
)

// Selection is the outcome of matching a policy's target against the
// namespaces that exist.
type Selection struct {
	// Targeted namespaces exist, are not terminating and are selected; sorted.
	Targeted []string
	// Terminating namespaces are selected but being deleted: nothing is
	// written there, as the API server would refuse it anyway.
	Terminating []string
	// Missing namespaces are listed by name but do not exist (yet).
	Missing []string
}

// Select matches target against namespaces. The selector was validated by
// the API server's schema, but a LabelSelector can still hold an operator
// or value Kubernetes' label parser rejects; that is returned as a Stalling
// *inputerror.Error (only a spec change fixes it).
func Select(target v1alpha1.Target, namespaces []corev1.Namespace) (Selection, error) {
	var selector labels.Selector
	if target.NamespaceSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(target.NamespaceSelector)
		if err != nil {
			return Selection{}, &inputerror.Error{Kind: inputerror.Stalling, Reason: v1alpha1.ReasonInvalidSpec,
				Field: "target.namespaceSelector", Message: err.Error()}
		}
		selector = s
	}
	byName := make(map[string]bool, len(target.Namespaces))
	for _, n := range target.Namespaces {
		byName[n] = true
	}

	var sel Selection
	seen := make(map[string]bool, len(namespaces))
	for i := range namespaces {
		ns := &namespaces[i]
		seen[ns.Name] = true
		if !byName[ns.Name] && (selector == nil || !selector.Matches(labels.Set(ns.Labels))) {
			continue
		}
		if IsTerminating(ns) {
			sel.Terminating = append(sel.Terminating, ns.Name)
			continue
		}
		sel.Targeted = append(sel.Targeted, ns.Name)
	}
	for n := range byName {
		if !seen[n] {
			sel.Missing = append(sel.Missing, n)
		}
	}
	sort.Strings(sel.Targeted)
	sort.Strings(sel.Terminating)
	sort.Strings(sel.Missing)
	return sel, nil
}

// IsTerminating reports whether a namespace is being deleted.
func IsTerminating(ns *corev1.Namespace) bool {
	return ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
}
