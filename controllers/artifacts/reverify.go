package artifacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
)

// requestReconciles asks Flux, once per trust change of a namespace's
// Secret, to reconcile each governed OCIRepository there. First sight only
// records the digest: nothing changed that Flux must hear about.
func (r *Reconciler) requestReconciles(ctx context.Context, repos []*ocirepos.Repository, secrets map[string]*corev1.Secret, reverify bool) error {
	var errs []error
	now := r.Now()
	for _, repo := range repos {
		s := secrets[repo.Namespace]
		if s == nil {
			continue
		}
		digest := s.Annotations[v1alpha1.TrustDigestAnnotation]
		annotations := map[string]string{ocirepos.ReverifiedDigestAnnotation: digest}
		switch ocirepos.NextAction(repo, digest) {
		case ocirepos.Nothing:
			continue
		case ocirepos.Request:
			if reverify {
				maps.Copy(annotations, ocirepos.RequestAnnotations(repo, now))
			}
		}
		// Guarded by the resourceVersion read: the baseline recorded is
		// exactly Flux's verdict at the moment of the request. A conflict
		// (Flux wrote status meanwhile) is retried with the newer read.
		body, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations": annotations, "resourceVersion": repo.ResourceVersion}})
		if err != nil {
			return err
		}
		u := ocirepos.New()
		u.SetNamespace(repo.Namespace)
		u.SetName(repo.Name)
		if err := r.Patch(ctx, u, client.RawPatch(types.MergePatchType, body), client.FieldOwner(FieldOwner)); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("annotating OCIRepository %s: %w", checker.Key(repo), err))
			continue
		}
		if repo.Annotations == nil {
			repo.Annotations = map[string]string{}
		}
		maps.Copy(repo.Annotations, annotations)
	}
	return errors.Join(errs...)
}
