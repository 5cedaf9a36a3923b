package verificationpolicy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// TestNamespaceEventsOfTheInitialListAreSkipped: a namespace created later
// wakes every policy; the namespaces of the informer's initial list do not
// (every policy is reconciled after the start anyway), nor does an update
// that changes neither labels nor phase.
func TestNamespaceEventsOfTheInitialListAreSkipped(t *testing.T) {
	p := namespaceChanged()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"team": "a"}}}
	if p.Create(event.CreateEvent{Object: ns, IsInInitialList: true}) {
		t.Error("a namespace of the initial list maps to the policies")
	}
	if !p.Create(event.CreateEvent{Object: ns}) {
		t.Error("a new namespace does not map to the policies")
	}
	relabelled := ns.DeepCopy()
	relabelled.Labels["team"] = "b"
	if !p.Update(event.UpdateEvent{ObjectOld: ns, ObjectNew: relabelled}) {
		t.Error("a relabelled namespace does not map to the policies")
	}
	annotated := ns.DeepCopy()
	annotated.Annotations = map[string]string{"note": "x"}
	if p.Update(event.UpdateEvent{ObjectOld: ns, ObjectNew: annotated}) {
		t.Error("an annotation change maps to the policies")
	}
}
