package targets

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// Store is the operator's view of the Secrets it may write: the names it is
// allowed (--target-secret-names), each watched by an informer of its own
// that lists and watches only Secrets of that name carrying the managed-by
// label, as metadata (see intact.go for how the data is known without
// caching it).
//
// Why one informer per name: the ClusterRole grants get, list, watch,
// update and delete on Secrets by resourceNames only, and Kubernetes
// authorizes a list or watch against resourceNames only when the request
// carries the field selector metadata.name=<name>. So the operator never
// lists or watches Secrets cluster-wide, and could not if it tried: no
// Secret it does not manage is ever sent to it.
type Store struct {
	names  []string
	caches map[string]cache.Cache
}

// NewSecretMeta returns an empty metadata-only Secret, the Store's object.
func NewSecretMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// NewSecretMetaList returns an empty list of metadata-only Secrets.
func NewSecretMetaList() *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	return l
}

// NewStore creates the informers' caches for names; Add them to the
// manager (Runnables) to start them. fieldOwner is the field manager the
// operator writes with, whose sole ownership of the data proves it intact.
func NewStore(cfg *rest.Config, scheme *runtime.Scheme, mapper meta.RESTMapper, names []string, fieldOwner string) (*Store, error) {
	if len(names) == 0 {
		return nil, errors.New("no Secret name is allowed: set --target-secret-names")
	}
	managed := labels.SelectorFromSet(labels.Set{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue})
	s := &Store{names: slices.Clone(names), caches: map[string]cache.Cache{}}
	for _, name := range names {
		c, err := cache.New(cfg, cache.Options{
			Scheme:               scheme,
			Mapper:               mapper,
			DefaultFieldSelector: fields.OneTermEqualSelector("metadata.name", name),
			DefaultLabelSelector: managed,
			DefaultTransform:     stripManagedFields(fieldOwner),
		})
		if err != nil {
			return nil, fmt.Errorf("creating the cache of Secrets named %s: %w", name, err)
		}
		s.caches[name] = c
	}
	return s, nil
}

// Names are the allowed Secret names.
func (s *Store) Names() []string { return slices.Clone(s.names) }

// Allowed reports whether the operator may write Secrets named name.
func (s *Store) Allowed(name string) bool { return s.caches[name] != nil }

// Caches are the informers' caches, one per name, to start.
func (s *Store) Caches() []cache.Cache {
	out := make([]cache.Cache, 0, len(s.names))
	for _, n := range s.names {
		out = append(out, s.caches[n])
	}
	return out
}

// Get reads the metadata of one of our Secrets (a *metav1.PartialObjectMetadata
// of kind Secret) from its name's cache. A name that is not allowed is
// NotFound: the operator cannot have written it.
func (s *Store) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := onlyMeta(obj); err != nil {
		return err
	}
	c := s.caches[key.Name]
	if c == nil {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
	}
	return c.Get(ctx, key, obj, opts...)
}

// List lists the metadata of our Secrets across every name's cache (a
// *metav1.PartialObjectMetadataList of kind SecretList), with the given
// options (labels, namespace).
func (s *Store) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	out, ok := list.(*metav1.PartialObjectMetadataList)
	if !ok || out.GetObjectKind().GroupVersionKind().Kind != "SecretList" {
		return fmt.Errorf("the Secret store lists the metadata of Secrets only, not %T", list)
	}
	out.Items = out.Items[:0]
	for _, n := range s.names {
		part := NewSecretMetaList()
		if err := s.caches[n].List(ctx, part, opts...); err != nil {
			return fmt.Errorf("listing Secrets named %s: %w", n, err)
		}
		out.Items = append(out.Items, part.Items...)
	}
	return nil
}

// Sources are watches on our Secrets for a controller, one per name, each
// event mapped to the policy that wrote the Secret.
func (s *Store) Sources() []source.Source {
	var out []source.Source
	for _, n := range s.names {
		out = append(out, source.Kind(s.caches[n], NewSecretMeta(),
			handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, m *metav1.PartialObjectMetadata) []reconcile.Request {
				return PolicyOfSecret(ctx, m)
			})))
	}
	return out
}

func onlyMeta(obj client.Object) error {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok && m.GetObjectKind().GroupVersionKind().Kind == "Secret" {
		return nil
	}
	return fmt.Errorf("the Secret store holds the metadata of Secrets only, not %T", obj)
}

var _ client.Reader = (*Store)(nil)
