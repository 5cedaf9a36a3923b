package targets

import (
	"reflect"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestSharedMetadataIsEqualAndSharedOnlyWhenEqual: the sharer never
// changes a value, shares maps and owner references between objects only
// when they are equal, and keeps maps that differ (even in a way its key
// encoding cannot tell apart) apart.
func TestSharedMetadataIsEqualAndSharedOnlyWhenEqual(t *testing.T) {
	g := NewWithT(t)
	s := newSharer()
	owner := func(name string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: "verification.flux-notation.io/v1alpha1", Kind: "VerificationPolicy", Name: name, UID: "uid-1", Controller: ptr.To(true)}}
	}
	meta := func(ns, policy, digest string) *metav1.PartialObjectMetadata {
		m := NewSecretMeta()
		m.Namespace, m.Name = ns, "notation-config"
		m.Labels = map[string]string{"app.kubernetes.io/managed-by": "verification-operator", "policy": policy}
		m.Annotations = map[string]string{"digest": digest}
		m.OwnerReferences = owner(policy)
		return m
	}
	a, b, c := meta("a", "p", "sha256:1"), meta("b", "p", "sha256:1"), meta("c", "q", "sha256:2")
	for _, m := range []*metav1.PartialObjectMetadata{a, b, c} {
		want := m.DeepCopy()
		s.share(m)
		g.Expect(m).To(Equal(want), "sharing changes no value")
	}
	g.Expect(sameMap(a.Labels, b.Labels)).To(BeTrue())
	g.Expect(sameMap(a.Annotations, b.Annotations)).To(BeTrue())
	g.Expect(&a.OwnerReferences[0]).To(BeIdenticalTo(&b.OwnerReferences[0]))
	g.Expect(sameMap(a.Labels, c.Labels)).To(BeFalse())
	g.Expect(sameMap(a.Annotations, c.Annotations)).To(BeFalse())
	g.Expect(&a.OwnerReferences[0]).NotTo(BeIdenticalTo(&c.OwnerReferences[0]))

	// A Controller flag that differs is a different owner reference.
	d := meta("d", "p", "sha256:1")
	d.OwnerReferences[0].Controller = nil
	s.share(d)
	g.Expect(d.OwnerReferences[0].Controller).To(BeNil())

	// Two maps whose NUL-joined encodings are equal stay apart.
	x := map[string]string{"a": "x\x00b\x00y"}
	y := map[string]string{"a": "x", "b": "y"}
	gx, gy := s.dict(x), s.dict(y)
	g.Expect(gx).To(Equal(x))
	g.Expect(gy).To(Equal(y))
	g.Expect(s.dict(map[string]string{"a": "x\x00b\x00y"})).To(Equal(x))

	// Past maxShared distinct values a table starts over, and still
	// returns equal values.
	for i := range maxShared + 10 {
		v := map[string]string{"k": string(rune('a' + i%26)), "n": metav1.Now().String() + string(rune(i))}
		g.Expect(s.dict(v)).To(Equal(v))
	}
	g.Expect(len(s.dicts)).To(BeNumerically("<=", maxShared))
}

// TestSharingWhatIsSharedAllocatesNothing: a restart hands the transform
// every Secret at once, nearly all with metadata already shared; looking
// them up must not leave garbage per Secret (it used to be about 2 KB each,
// which made the restart's peak RSS).
func TestSharingWhatIsSharedAllocatesNothing(t *testing.T) {
	g := NewWithT(t)
	s := newSharer()
	labels := map[string]string{"app.kubernetes.io/managed-by": "verification-operator", "verification.flux-notation.io/policy": "example"}
	annotations := map[string]string{"verification.flux-notation.io/trust-digest": "sha256:0123456789abcdef"}
	refs := []metav1.OwnerReference{{APIVersion: "verification.flux-notation.io/v1alpha1", Kind: "VerificationPolicy",
		Name: "example", UID: "4f0c", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	shared := s.dict(labels)
	s.dict(annotations)
	s.refs(refs)
	g.Expect(testing.AllocsPerRun(100, func() {
		s.dict(labels)
		s.dict(annotations)
		s.refs(refs)
	})).To(BeZero())
	g.Expect(sameMap(s.dict(map[string]string{"verification.flux-notation.io/policy": "example", "app.kubernetes.io/managed-by": "verification-operator"}), shared)).To(BeTrue())
}
