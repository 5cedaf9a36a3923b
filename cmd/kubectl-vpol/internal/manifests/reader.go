package manifests

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reader serves the files' Secrets and ConfigMaps to the operator's own
// source resolver (controllers/sources), so a missing object or key gets
// exactly the operator's reason and message (ClusterTrustBundles too:
// see ClusterTrustBundles). What the files do not hold
// is read from fallback, when set (the cluster, for diff), and is
// NotFound otherwise.
func (s *Set) Reader(fallback client.Reader) client.Reader {
	return &reader{set: s, fallback: fallback}
}

type reader struct {
	set      *Set
	fallback client.Reader
}

func (r *reader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	switch out := obj.(type) {
	case *corev1.Secret:
		for _, s := range r.set.Secrets {
			if s.Namespace == key.Namespace && s.Name == key.Name {
				s.DeepCopyInto(out)
				return nil
			}
		}
		return r.orFallback(ctx, key, obj, "secrets", opts)
	case *corev1.ConfigMap:
		for _, c := range r.set.ConfigMaps {
			if c.Namespace == key.Namespace && c.Name == key.Name {
				c.DeepCopyInto(out)
				return nil
			}
		}
		return r.orFallback(ctx, key, obj, "configmaps", opts)
	case *unstructured.Unstructured:
		if out.GroupVersionKind().GroupKind() == bundleGroupKind {
			return r.getBundle(ctx, key, out, opts)
		}
		return fmt.Errorf("manifests: cannot read a %s", out.GroupVersionKind())
	default:
		return fmt.Errorf("manifests: cannot read a %T", obj)
	}
}

func (r *reader) orFallback(ctx context.Context, key client.ObjectKey, obj client.Object, resource string, opts []client.GetOption) error {
	if r.fallback != nil {
		return r.fallback.Get(ctx, key, obj, opts...)
	}
	return apierrors.NewNotFound(schema.GroupResource{Resource: resource}, key.Name)
}

// List serves the resolver's one list: the ClusterTrustBundles of a
// signerName source. Secrets and ConfigMaps are read by name.
func (r *reader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if u, ok := list.(*unstructured.UnstructuredList); ok && u.GroupVersionKind().Group == bundleGroupKind.Group && u.GetKind() == bundleKind+"List" {
		return r.listBundles(ctx, u, opts)
	}
	return fmt.Errorf("manifests: cannot list %T", list)
}

// OutsideNamespace returns a note for each Secret and ConfigMap that is not
// in namespace: the operator reads sources from the trust namespace only,
// so these are never used, which is worth saying when someone expected
// them to be.
func (s *Set) OutsideNamespace(namespace string) []string {
	var notes []string
	note := func(kind, ns, name string) {
		if ns == namespace {
			return
		}
		where := "has no metadata.namespace"
		if ns != "" {
			where = "is in namespace " + ns
		}
		notes = append(notes, fmt.Sprintf("%s %s (%s) %s, not in the trust namespace %s: certificate sources are read from the trust namespace only, so it is not used",
			kind, name, s.origins[kindKey(kind, ns, name)], where, namespace))
	}
	for _, sec := range s.Secrets {
		note("Secret", sec.Namespace, sec.Name)
	}
	for _, cm := range s.ConfigMaps {
		note("ConfigMap", cm.Namespace, cm.Name)
	}
	return notes
}
