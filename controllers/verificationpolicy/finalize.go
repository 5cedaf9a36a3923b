package verificationpolicy

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// finalize removes the generated Secrets (deletionPolicy Delete) or
// releases them (Orphan: the data stays, our labels, annotations and owner
// reference go), deletes the rollout snapshot, then removes the finalizer.
func (r *Reconciler) finalize(ctx context.Context, p *pass) error {
	obj := p.obj
	if !controllerutil.ContainsFinalizer(obj, v1alpha1.FinalizerName) {
		return nil
	}
	list, err := targets.ListOurs(ctx, r.Secrets, obj.Name)
	if err != nil {
		return err
	}
	var secrets []*metav1.PartialObjectMetadata
	for i := range list {
		if !targets.IsBookkeeping(&list[i]) {
			secrets = append(secrets, &list[i])
		}
	}
	if err := r.deleteSnapshot(ctx, obj); err != nil {
		return fmt.Errorf("deleting the rollout snapshot: %w", err)
	}
	if obj.Spec.Target.DeletionPolicy == v1alpha1.DeletionPolicyOrphan {
		if err := r.Writer.Release(ctx, secrets); err != nil {
			return fmt.Errorf("releasing generated Secrets: %w", err)
		}
		r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, "SecretsOrphaned",
			"left %d Secrets in place without operator ownership (deletionPolicy Orphan)", len(secrets))
	} else {
		if err := r.Writer.Prune(ctx, secrets); err != nil {
			return fmt.Errorf("deleting generated Secrets: %w", err)
		}
		r.EventRecorder.Eventf(obj, corev1.EventTypeNormal, "SecretsDeleted",
			"deleted %d generated Secrets", len(secrets))
	}
	controllerutil.RemoveFinalizer(obj, v1alpha1.FinalizerName)
	if err := r.Patch(ctx, obj, client.MergeFrom(p.before), client.FieldOwner(FieldOwner)); err != nil {
		return client.IgnoreNotFound(err)
	}
	deletePolicyMetrics(obj.Name)
	return nil
}
