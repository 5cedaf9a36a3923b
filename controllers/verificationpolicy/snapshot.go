package verificationpolicy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// The rollout snapshot is a Secret in the trust namespace that keeps a
// policy's last fully rolled-out configuration: during the next staged
// rollout, namespaces of stages not yet reached that have none of ours get
// it, also after a restart, when nothing else in memory remembers it.

// stableTemplate returns the template of the stable configuration from the
// snapshot, creating the snapshot from a deployed Secret holding it when
// there is none yet (a policy switched to Staged, or an upgrade).
func (r *Reconciler) stableTemplate(ctx context.Context, obj *v1alpha1.VerificationPolicy, stable string, existing map[string]*metav1.PartialObjectMetadata) (*targets.Template, error) {
	if stable == "" {
		return nil, nil
	}
	var snap corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: r.Sources.Namespace, Name: snapshotName(obj.Name)}, &snap)
	switch {
	case err == nil && snap.Annotations[v1alpha1.TrustDigestAnnotation] == stable && trustconfig.TrustDigest(snap.Data) == stable:
		return &targets.Template{Policy: obj, Data: snap.Data, TrustDigest: stable}, nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, err
	}
	for _, m := range existing {
		if m.Annotations[v1alpha1.TrustDigestAnnotation] != stable {
			continue
		}
		data, digest, err := r.Contents.Of(ctx, m)
		if err != nil {
			return nil, err
		}
		if digest == stable {
			if err := r.writeSnapshot(ctx, obj, data, stable); err != nil {
				return nil, err
			}
			return &targets.Template{Policy: obj, Data: data, TrustDigest: stable}, nil
		}
	}
	return nil, nil
}

// writeSnapshot keeps data in the trust namespace, owned by the policy.
func (r *Reconciler) writeSnapshot(ctx context.Context, obj *v1alpha1.VerificationPolicy, data map[string][]byte, digest string) error {
	want := targets.Template{Policy: obj, Data: data, TrustDigest: digest}.Desired(r.Sources.Namespace)
	want.Name = snapshotName(obj.Name)
	want.Labels = map[string]string{
		v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
		v1alpha1.PolicyLabel:    obj.Name,
		v1alpha1.RoleLabel:      v1alpha1.RoleRolloutSnapshot,
	}
	want.Annotations = map[string]string{v1alpha1.TrustDigestAnnotation: digest}
	var cur corev1.Secret
	err := r.Get(ctx, client.ObjectKeyFromObject(want), &cur)
	switch {
	case apierrors.IsNotFound(err):
		return r.Create(ctx, want, client.FieldOwner(FieldOwner))
	case err != nil:
		return err
	case cur.Labels[v1alpha1.RoleLabel] != v1alpha1.RoleRolloutSnapshot:
		return fmt.Errorf("Secret %s/%s exists and is not this policy's rollout snapshot", cur.Namespace, cur.Name)
	}
	cur.Data = data
	cur.OwnerReferences = want.OwnerReferences
	maps.Copy(cur.Annotations, want.Annotations)
	return r.Update(ctx, &cur, client.FieldOwner(FieldOwner))
}

// deleteSnapshot deletes the policy's rollout snapshot, if it has one. (Its
// owner reference would have the garbage collector do it too, but not
// before the policy is gone.)
func (r *Reconciler) deleteSnapshot(ctx context.Context, obj *v1alpha1.VerificationPolicy) error {
	var snap corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: r.Sources.Namespace, Name: snapshotName(obj.Name)}, &snap)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case snap.Labels[v1alpha1.RoleLabel] != v1alpha1.RoleRolloutSnapshot || !targets.IsOwnedBy(&snap, obj.Name):
		return nil // not ours: left alone
	}
	m := targets.NewSecretMeta()
	m.ObjectMeta = snap.ObjectMeta
	return r.Writer.Prune(ctx, []*metav1.PartialObjectMetadata{m})
}

// snapshotName is the rollout snapshot Secret's name for a policy, hashed
// when the policy name is too long to prefix.
func snapshotName(policy string) string {
	const prefix = "vpol-rollout-"
	if len(prefix)+len(policy) <= 253 {
		return prefix + policy
	}
	sum := sha256.Sum256([]byte(policy))
	return prefix + policy[:200] + "-" + hex.EncodeToString(sum[:8])
}
