package rollout

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// UnstagedName names the implicit last stage: targeted namespaces that no
// stage selects.
const UnstagedName = "unstaged"

// Stage is a group of targeted namespaces, in rollout order.
type Stage struct {
	Name       string
	Namespaces []string
}

// Assign puts each targeted namespace in the first stage that selects it,
// by name or selector; the rest form an implicit last stage (only when
// non-empty). namespaces are the targeted Namespace objects.
func Assign(spec v1alpha1.RolloutSpec, namespaces []corev1.Namespace) ([]Stage, error) {
	type matcher struct {
		names    map[string]bool
		selector labels.Selector
	}
	matchers := make([]matcher, len(spec.Stages))
	for i, st := range spec.Stages {
		m := matcher{names: map[string]bool{}}
		for _, n := range st.Namespaces {
			m.names[n] = true
		}
		if st.NamespaceSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(st.NamespaceSelector)
			if err != nil {
				return nil, fmt.Errorf("rollout.stages[%s].namespaceSelector: %w", st.Name, err)
			}
			m.selector = sel
		}
		matchers[i] = m
	}

	stages := make([]Stage, len(spec.Stages)+1)
	for i, st := range spec.Stages {
		stages[i].Name = st.Name
	}
	stages[len(spec.Stages)].Name = UnstagedName
	for _, ns := range namespaces {
		placed := len(spec.Stages)
		for i, m := range matchers {
			if m.names[ns.Name] || (m.selector != nil && m.selector.Matches(labels.Set(ns.Labels))) {
				placed = i
				break
			}
		}
		stages[placed].Namespaces = append(stages[placed].Namespaces, ns.Name)
	}
	for i := range stages {
		sort.Strings(stages[i].Namespaces)
	}
	if len(stages[len(spec.Stages)].Namespaces) == 0 {
		stages = stages[:len(spec.Stages)]
	}
	return stages, nil
}
