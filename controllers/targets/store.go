package targets

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
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
// label.
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

// NewStore creates the informers' caches for names; Add them to the
// manager (Runnables) to start them.
func NewStore(cfg *rest.Config, scheme *runtime.Scheme, mapper meta.RESTMapper, names []string) (*Store, error) {
	if len(names) == 0 {
		return nil, errors.New("no Secret name is allowed: set --target-secret-names")
	}
	managed := labels.SelectorFromSet(labels.Set{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue})
	s := &Store{names: slices.Clone(names), caches: map[string]cache.Cache{}}
	for _, name := range names {
		c, err := cache.New(cfg, cache.Options{
			Scheme:           scheme,
			Mapper:           mapper,
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}: {
					Field: fields.OneTermEqualSelector("metadata.name", name),
					Label: managed,
				},
			},
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

// Get reads one of our Secrets from its name's cache. A name that is not
// allowed is NotFound: the operator cannot have written it.
func (s *Store) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c := s.caches[key.Name]
	if c == nil {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
	}
	return c.Get(ctx, key, obj, opts...)
}

// List lists our Secrets across every name's cache (*corev1.SecretList
// only), with the given options (labels, namespace).
func (s *Store) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	out, ok := list.(*corev1.SecretList)
	if !ok {
		return fmt.Errorf("the Secret store lists Secrets only, not %T", list)
	}
	out.Items = out.Items[:0]
	for _, n := range s.names {
		var part corev1.SecretList
		if err := s.caches[n].List(ctx, &part, opts...); err != nil {
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
		out = append(out, source.Kind(s.caches[n], &corev1.Secret{},
			handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, sec *corev1.Secret) []reconcile.Request {
				return PolicyOfSecret(ctx, sec)
			})))
	}
	return out
}

var _ client.Reader = (*Store)(nil)
