package policystatus

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/randfill"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// Every status field belongs to exactly one share: applying both shares of
// a random status onto an empty one rebuilds it, and applying one share
// leaves the other's fields alone. A field added to the API without an
// owner fails here instead of being silently dropped on a conflict retry.
func TestEveryStatusFieldHasExactlyOneOwner(t *testing.T) {
	g := NewWithT(t)
	f := randfill.New().NilChance(0).NumElements(1, 3)
	for range 50 {
		src := &v1alpha1.VerificationPolicy{}
		f.Fill(&src.Status)
		src.Status.Conditions = []metav1.Condition{
			cond(meta.StalledCondition, metav1.ConditionTrue, "X"),
			cond(v1alpha1.ArtifactsVerifiedCondition, metav1.ConditionFalse, "Y"),
		}

		rebuilt := &v1alpha1.VerificationPolicy{}
		Sync.apply(rebuilt, src)
		Artifacts.apply(rebuilt, src)
		withoutReady := func(s v1alpha1.VerificationPolicyStatus) v1alpha1.VerificationPolicyStatus {
			out := s.DeepCopy()
			out.Conditions = nil
			for _, c := range s.Conditions {
				if c.Type != meta.ReadyCondition {
					out.Conditions = append(out.Conditions, c)
				}
			}
			return *out
		}
		g.Expect(withoutReady(rebuilt.Status)).To(Equal(withoutReady(src.Status)))

		other := &v1alpha1.VerificationPolicy{}
		f.Fill(&other.Status)
		other.Status.Conditions = nil
		onlySync := other.DeepCopy()
		Sync.apply(onlySync, src)
		g.Expect(onlySync.Status.OCIRepositories).To(Equal(other.Status.OCIRepositories))
		g.Expect(onlySync.Status.ArtifactIssues).To(Equal(other.Status.ArtifactIssues))
		g.Expect(onlySync.Status.HelmCharts).To(Equal(other.Status.HelmCharts))
		g.Expect(onlySync.Status.Artifacts).To(Equal(other.Status.Artifacts))
		g.Expect(conditions.Has(onlySync, v1alpha1.ArtifactsVerifiedCondition)).To(BeFalse())
		onlyArtifacts := other.DeepCopy()
		Artifacts.apply(onlyArtifacts, src)
		g.Expect(onlyArtifacts.Status.Namespaces).To(Equal(other.Status.Namespaces))
		g.Expect(onlyArtifacts.Status.TrustDigest).To(Equal(other.Status.TrustDigest))
		g.Expect(conditions.Has(onlyArtifacts, meta.StalledCondition)).To(BeFalse())
	}
}

func newScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	NewWithT(t).Expect(v1alpha1.AddToScheme(s)).To(Succeed())
	return s
}

// Two reconcilers write at once from the same read. The artifact
// reconciler's write (computed afresh) is rebuilt on the latest version, and
// Ready is derived from both shares; the sync's (which carries rollout
// progress and may come from a stale read) returns the conflict instead.
// Each successful write is one request.
func TestConcurrentWritersKeepEachOthersShare(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	var patches atomic.Int32
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).
		WithStatusSubresource(&v1alpha1.VerificationPolicy{}).
		WithObjects(&v1alpha1.VerificationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 1}}).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				patches.Add(1)
				return c.SubResource(sub).Patch(ctx, obj, p, opts...)
			},
		}).Build()
	sync := &Writer{Client: c, Reader: c, Share: Sync}
	artifacts := &Writer{Client: c, Reader: c, Share: Artifacts}

	read := func() *v1alpha1.VerificationPolicy {
		p := &v1alpha1.VerificationPolicy{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: "p"}, p)).To(Succeed())
		return p
	}
	syncBefore, artBefore := read(), read()

	synced := syncBefore.DeepCopy()
	synced.Status.ObservedGeneration = 1
	synced.Status.Namespaces = v1alpha1.NamespaceCounts{Targeted: 2, Synced: 2, Summary: "2/2"}
	conditions.MarkTrue(synced, v1alpha1.SecretsSyncedCondition, meta.SucceededReason, "2/2 namespaces synced")
	g.Expect(sync.Patch(ctx, syncBefore, synced)).To(Succeed())
	g.Expect(patches.Load()).To(BeEquivalentTo(1))

	art := artBefore.DeepCopy()
	art.Status.OCIRepositories = v1alpha1.ArtifactCounts{Matched: 1, Failed: 1}
	conditions.MarkFalse(art, v1alpha1.ArtifactsVerifiedCondition, "VerificationFailed", "1 of 1 fails")
	g.Expect(artifacts.Patch(ctx, artBefore, art)).To(Succeed())
	g.Expect(patches.Load()).To(BeEquivalentTo(3), "one conflicting write, then one that succeeds")

	got := read()
	g.Expect(got.Status.OCIRepositories).To(Equal(v1alpha1.ArtifactCounts{Matched: 1, Failed: 1}))
	g.Expect(got.Status.Namespaces.Summary).To(Equal("2/2"))
	g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue(), "Ready is derived from both shares")
	g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal("VerificationFailed"))
	g.Expect(art.Status).To(Equal(got.Status), "the caller's object holds what was written")

	// The sync writing from a read older than the latest version: the
	// conflict comes back, nothing is written.
	stale := syncBefore.DeepCopy()
	stale.Status.Namespaces = v1alpha1.NamespaceCounts{Targeted: 3, Synced: 3, Summary: "3/3"}
	err := sync.Patch(ctx, syncBefore, stale)
	g.Expect(kerrors.IsConflict(err)).To(BeTrue(), "%v", err)
	g.Expect(read().Status.Namespaces.Summary).To(Equal("2/2"))

	// Nothing changed: no request.
	again := read()
	n := patches.Load()
	g.Expect(sync.Patch(ctx, again, again.DeepCopy())).To(Succeed())
	g.Expect(patches.Load()).To(Equal(n))
}
