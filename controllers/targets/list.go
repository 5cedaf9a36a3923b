package targets

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// ListGenerated lists the Secrets written for a policy, its rollout
// snapshot included (callers tell them apart with IsBookkeeping).
func ListGenerated(ctx context.Context, c client.Reader, policy string, opts ...client.ListOption) ([]corev1.Secret, error) {
	var list corev1.SecretList
	opts = append(opts, client.MatchingLabels{
		v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
		v1alpha1.PolicyLabel:    policy,
	})
	if err := c.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("listing generated Secrets: %w", err)
	}
	return list.Items, nil
}

// ListOurs lists the metadata of the Secrets written for a policy, from a
// reader of metadata-only Secrets (the Store).
func ListOurs(ctx context.Context, c client.Reader, policy string, opts ...client.ListOption) ([]metav1.PartialObjectMetadata, error) {
	list := NewSecretMetaList()
	opts = append(opts, client.MatchingLabels{
		v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue,
		v1alpha1.PolicyLabel:    policy,
	})
	if err := c.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("listing generated Secrets: %w", err)
	}
	return list.Items, nil
}

// IsBookkeeping tells the operator's own Secrets (the rollout snapshot)
// apart from the ones it writes for Flux.
func IsBookkeeping(s metav1.Object) bool {
	return s.GetLabels()[v1alpha1.RoleLabel] != ""
}

// SelectNamespaces lists the namespaces and matches target against them.
// The namespaces are the cache's own objects (not copies: there can be
// thousands): callers must not modify them.
func SelectNamespaces(ctx context.Context, c client.Reader, target v1alpha1.Target) (Selection, []corev1.Namespace, error) {
	var list corev1.NamespaceList
	if err := c.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return Selection{}, nil, fmt.Errorf("listing namespaces: %w", err)
	}
	sel, err := Select(target, list.Items)
	return sel, list.Items, err
}

// PolicyOfSecret maps one of our Secrets to the policy that wrote it, for
// watches; other Secrets map to nothing.
func PolicyOfSecret(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[v1alpha1.ManagedByLabel] != v1alpha1.ManagedByValue || l[v1alpha1.PolicyLabel] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: l[v1alpha1.PolicyLabel]}}}
}
