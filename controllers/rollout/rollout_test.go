package rollout

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

func ns(name string, labels map[string]string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestAssignPutsEachNamespaceInTheFirstMatchingStage(t *testing.T) {
	g := NewWithT(t)
	spec := v1alpha1.RolloutSpec{Stages: []v1alpha1.RolloutStage{
		{Name: "canary", Namespaces: []string{"b"}},
		{Name: "early", NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"ring": "early"}}},
	}}
	stages, err := Assign(spec, []corev1.Namespace{
		ns("a", map[string]string{"ring": "early"}),
		ns("b", map[string]string{"ring": "early"}), // named in canary: first match wins
		ns("c", nil),
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(stages).To(Equal([]Stage{
		{Name: "canary", Namespaces: []string{"b"}},
		{Name: "early", Namespaces: []string{"a"}},
		{Name: UnstagedName, Namespaces: []string{"c"}},
	}))

	stages, err = Assign(spec, []corev1.Namespace{ns("b", nil)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(stages).To(HaveLen(2), "no implicit stage when every namespace is staged")
	g.Expect(stages[1].Namespaces).To(BeEmpty())
}

func TestStateMachine(t *testing.T) {
	g := NewWithT(t)
	stages := []Stage{{Name: "one", Namespaces: []string{"a"}}, {Name: "two", Namespaces: []string{"b", "c"}}}
	st := Begin(nil, "sha256:new", "sha256:old")
	Align(st, stages)
	g.Expect(Current(st)).To(Equal(0))
	g.Expect(st.Stages[1].Namespaces).To(BeEquivalentTo(2))

	MarkProgressing(st, 0)
	g.Expect(st.Stages[0].State).To(Equal(v1alpha1.StageProgressing))
	g.Expect(st.Stages[0].Digest).To(Equal("sha256:new"))
	MarkVerified(st, 0, time.Unix(100, 0), "ok")
	g.Expect(Current(st)).To(Equal(1))
	MarkFailed(st, 1, []string{"b/app: UntrustedSigner"})
	g.Expect(st.Stages[1].State).To(Equal(v1alpha1.StageFailed))
	g.Expect(st.Stages[1].Message).To(ContainSubstring("b/app: UntrustedSigner"))

	// A forced stage is done, but not Verified.
	MarkForced(st, 1, time.Unix(200, 0), "forced despite: b/app: UntrustedSigner")
	g.Expect(st.Stages[1].State).To(Equal(v1alpha1.StageForced))
	g.Expect(Current(st)).To(Equal(2))

	// Resuming the same digest keeps progress; a new digest restarts.
	g.Expect(Begin(st, "sha256:new", "sha256:old")).To(BeIdenticalTo(st))
	fresh := Begin(st, "sha256:newer", "sha256:old")
	Align(fresh, stages)
	g.Expect(Current(fresh)).To(Equal(0))
	g.Expect(fresh.Stages[0].State).To(Equal(v1alpha1.StagePending))
}
