package policystatus

import (
	"context"
	"fmt"
	"slices"

	"github.com/fluxcd/pkg/apis/meta"
	apierrors "k8s.io/apimachinery/pkg/api/equality"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// Share is the part of a policy's status that one reconciler owns. Ready
// is in no share: both derive it (SetReady) in every write.
type Share struct {
	// FieldOwner names the reconciler in managedFields.
	FieldOwner string
	// Conditions are the condition types the reconciler sets.
	Conditions []string
	// MergeOnConflict: when another writer changed the policy since it was
	// read, copy the share onto the latest version and write again. Only for
	// a share computed without reading earlier status; a share that carries
	// state forward (the sync's rollout progress) may have been computed
	// from a stale read, and its conflict is returned for the work to be
	// redone from a fresh one.
	MergeOnConflict bool
	// copyFields copies the reconciler's other status fields.
	copyFields func(dst, src *v1alpha1.VerificationPolicyStatus)
}

// Sync is the sync reconciler's share: everything but the artifact
// verdicts. It carries the rollout's progress from one pass to the next, so
// a conflict is returned, never merged.
var Sync = Share{
	FieldOwner: "verification-operator",
	Conditions: []string{
		meta.ReconcilingCondition,
		meta.StalledCondition,
		v1alpha1.SecretsSyncedCondition,
		v1alpha1.RolloutHeldCondition,
	},
	copyFields: func(dst, src *v1alpha1.VerificationPolicyStatus) {
		dst.ObservedGeneration = src.ObservedGeneration
		dst.ReconcileRequestStatus = src.ReconcileRequestStatus
		dst.TrustDigest = src.TrustDigest
		dst.FluxFingerprint = src.FluxFingerprint
		dst.Certificates = slices.Clone(src.Certificates)
		dst.Namespaces = src.Namespaces
		dst.NamespaceIssues = slices.Clone(src.NamespaceIssues)
		dst.Rollout = src.Rollout.DeepCopy()
	},
}

// Artifacts is the artifact reconciler's share: verdicts and
// ArtifactsVerified, computed afresh on every pass.
var Artifacts = Share{
	FieldOwner:      "verification-operator-artifacts",
	Conditions:      []string{v1alpha1.ArtifactsVerifiedCondition},
	MergeOnConflict: true,
	copyFields: func(dst, src *v1alpha1.VerificationPolicyStatus) {
		dst.Artifacts = src.Artifacts
		dst.OCIRepositories = src.OCIRepositories
		dst.HelmCharts = src.HelmCharts
		dst.ArtifactIssues = slices.Clone(src.ArtifactIssues)
	},
}

// apply makes dst's share equal to src's, then derives Ready again for the
// generation src was computed for.
func (s Share) apply(dst, src *v1alpha1.VerificationPolicy) {
	s.copyFields(&dst.Status, &src.Status)
	for _, t := range s.Conditions {
		setOrRemove(&dst.Status.Conditions, t, findCondition(src.Status.Conditions, t))
	}
	derived := dst.DeepCopy()
	derived.Generation = src.Generation
	SetReady(derived)
	dst.Status.Conditions = derived.Status.Conditions
}

// Writer writes one share of a policy's status.
type Writer struct {
	// Client writes the status subresource.
	Client client.Client
	// Reader reads the policy again after a conflict; uncached, so the
	// retry starts from the API server's latest version.
	Reader client.Reader
	Share  Share
}

// Patch derives Ready and writes obj's status in one request, guarded by
// before's resourceVersion; it makes no request when nothing changed. If
// another writer changed the policy since before was read, a share that
// merges on conflict is copied onto the latest version, Ready is derived
// again from the latest conditions, and the write is retried; for other
// shares the conflict is returned (kerrors.IsConflict). Afterwards obj holds
// the status as written (other shares included) and the new
// resourceVersion; its spec and metadata are left as they were read.
func (w *Writer) Patch(ctx context.Context, before, obj *v1alpha1.VerificationPolicy) error {
	SetReady(obj)
	if apierrors.Semantic.DeepEqual(before.Status, obj.Status) {
		return nil
	}
	err := w.patch(ctx, before, obj)
	if !kerrors.IsConflict(err) || !w.Share.MergeOnConflict {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest := &v1alpha1.VerificationPolicy{}
		if err := w.Reader.Get(ctx, client.ObjectKeyFromObject(obj), latest); err != nil {
			return err
		}
		base := latest.DeepCopy()
		w.Share.apply(latest, obj)
		if !apierrors.Semantic.DeepEqual(base.Status, latest.Status) {
			if err := w.patch(ctx, base, latest); err != nil {
				return err
			}
		}
		obj.Status = latest.Status
		obj.ResourceVersion = latest.ResourceVersion
		return nil
	})
}

func (w *Writer) patch(ctx context.Context, before, obj *v1alpha1.VerificationPolicy) error {
	// The patch decodes the response into its argument: keep obj's spec and
	// metadata as read (the caller may still be working from them) and take
	// only the status and resourceVersion back.
	out := obj.DeepCopy()
	patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	if err := w.Client.Status().Patch(ctx, out, patch, client.FieldOwner(w.Share.FieldOwner)); err != nil {
		if kerrors.IsConflict(err) {
			return err
		}
		return fmt.Errorf("patching status: %w", err)
	}
	obj.Status = out.Status
	obj.ResourceVersion = out.ResourceVersion
	return nil
}

func findCondition(list []metav1.Condition, t string) *metav1.Condition {
	for i := range list {
		if list[i].Type == t {
			return &list[i]
		}
	}
	return nil
}

// setOrRemove replaces the condition of type t in list with c, as it is
// (its transition time included), or removes it when c is nil.
func setOrRemove(list *[]metav1.Condition, t string, c *metav1.Condition) {
	i := slices.IndexFunc(*list, func(x metav1.Condition) bool { return x.Type == t })
	switch {
	case c == nil && i >= 0:
		*list = slices.Delete(*list, i, i+1)
	case c != nil && i >= 0:
		(*list)[i] = *c
	case c != nil:
		*list = append(*list, *c)
	}
}
