package targets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
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
//
// Why client-go informers rather than controller-runtime caches: at tens of
// thousands of Secrets, what an entry costs besides the object matters. A
// controller-runtime cache always indexes by namespace, which for one name
// is one single-entry set per namespace (about 350 bytes a Secret, a sixth
// of what 50,000 Secrets cost). The Store indexes by policy instead, which
// is how the reconcilers list (one set per policy), and answers a Get by
// its key.
type Store struct {
	names     []string
	informers map[string]toolscache.SharedIndexInformer
}

// policyIndex indexes the Store's Secrets by the policy that wrote them.
const policyIndex = "policy"

func byPolicy(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("not an object: %T", obj)
	}
	if p := m.GetLabels()[v1alpha1.PolicyLabel]; p != "" {
		return []string{p}, nil
	}
	return nil, nil
}

// NewSecretMeta returns an empty metadata-only Secret, the Store's object.
func NewSecretMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(secretGVK)
	return m
}

// NewSecretMetaList returns an empty list of metadata-only Secrets.
func NewSecretMetaList() *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	return l
}

var secretGVK = corev1.SchemeGroupVersion.WithKind("Secret")

// NewStore creates the informers for names; Add the Store to the manager
// (it is a Runnable) to start them. fieldOwner is the field manager the
// operator writes with, whose sole ownership of the data proves it intact.
func NewStore(cfg *rest.Config, names []string, fieldOwner string) (*Store, error) {
	if len(names) == 0 {
		return nil, errors.New("no Secret name is allowed: set --target-secret-names")
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	secrets := meta.Resource(corev1.SchemeGroupVersion.WithResource("secrets"))
	managed := labels.SelectorFromSet(labels.Set{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue}).String()
	sh := newSharer()
	strip := stripManagedFields(fieldOwner)
	transform := func(in any) (any, error) {
		out, err := strip(in)
		if m, ok := out.(metav1.Object); ok && err == nil {
			sh.share(m)
		}
		return out, err
	}
	s := &Store{names: slices.Clone(names), informers: map[string]toolscache.SharedIndexInformer{}}
	for _, name := range names {
		byName := fields.OneTermEqualSelector("metadata.name", name).String()
		narrow := func(o *metav1.ListOptions) {
			o.FieldSelector, o.LabelSelector = byName, managed
		}
		lw := &toolscache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				narrow(&o)
				return secrets.List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				narrow(&o)
				return secrets.Watch(ctx, o)
			},
		}
		inf := toolscache.NewSharedIndexInformerWithOptions(lw, &metav1.PartialObjectMetadata{}, toolscache.SharedIndexInformerOptions{
			Indexers:          toolscache.Indexers{policyIndex: byPolicy},
			ObjectDescription: "Secrets named " + name,
		})
		if err := inf.SetTransform(transform); err != nil {
			return nil, err
		}
		s.informers[name] = inf
	}
	return s, nil
}

// Names are the allowed Secret names.
func (s *Store) Names() []string { return slices.Clone(s.names) }

// Allowed reports whether the operator may write Secrets named name.
func (s *Store) Allowed(name string) bool { return s.informers[name] != nil }

// initialListsAtOnce bounds how many informers make their initial list at
// the same time. An informer holds its whole initial list in memory, with
// managedFields, until the transform runs: about 3 KiB a Secret, so twenty
// names of 2,500 Secrets listed at once would hold 150 MiB of it together.
// Measured, the bound has not lowered a restarted manager's peak at that
// size (210 MiB before, 216 MiB after, test/bench/RESULTS-large.md): what
// drives that peak is still open. It costs little: the restart resyncs in
// 7 s either way.
const initialListsAtOnce = 2

// Start runs the informers until ctx is done (manager.Runnable), starting
// initialListsAtOnce at a time: the next one starts when one has synced.
func (s *Store) Start(ctx context.Context) error {
	slots := make(chan struct{}, initialListsAtOnce)
	var wg sync.WaitGroup
	for _, name := range s.names {
		inf := s.informers[name]
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil
		}
		wg.Go(func() { inf.RunWithContext(ctx) })
		wg.Go(func() {
			toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
			<-slots
		})
	}
	wg.Wait()
	return nil
}

// NeedLeaderElection is false: like the manager's caches, the Store runs on
// a standby replica too, so a replica taking over starts warm.
func (s *Store) NeedLeaderElection() bool { return false }

// WaitForCacheSync waits until every informer has listed its Secrets.
func (s *Store) WaitForCacheSync(ctx context.Context) bool {
	synced := make([]toolscache.InformerSynced, 0, len(s.informers))
	for _, inf := range s.informers {
		synced = append(synced, inf.HasSynced)
	}
	return toolscache.WaitForCacheSync(ctx.Done(), synced...)
}

// Get reads the metadata of one of our Secrets (a *metav1.PartialObjectMetadata
// of kind Secret). A name that is not allowed is NotFound: the operator
// cannot have written it. What it returns is a copy.
func (s *Store) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if err := onlyMeta(obj); err != nil {
		return err
	}
	notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
	inf := s.informers[key.Name]
	if inf == nil {
		return notFound
	}
	item, exists, err := inf.GetIndexer().GetByKey(key.Namespace + "/" + key.Name)
	if err != nil {
		return err
	}
	if !exists {
		return notFound
	}
	out := obj.(*metav1.PartialObjectMetadata)
	item.(*metav1.PartialObjectMetadata).DeepCopyInto(out)
	out.SetGroupVersionKind(secretGVK)
	return nil
}

// List lists the metadata of our Secrets across every name (a
// *metav1.PartialObjectMetadataList of kind SecretList), filtered by the
// namespace and label selector of opts. A selector on the policy label is
// answered from the policy index. The items are copies, unless opts hold
// client.UnsafeDisableDeepCopy: then their maps are the Store's own, which
// the caller must not modify.
func (s *Store) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	out, ok := list.(*metav1.PartialObjectMetadataList)
	if !ok || out.GetObjectKind().GroupVersionKind().Kind != "SecretList" {
		return fmt.Errorf("the Secret store lists the metadata of Secrets only, not %T", list)
	}
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	if lo.FieldSelector != nil && !lo.FieldSelector.Empty() {
		return errors.New("the Secret store does not filter by field")
	}
	sel := lo.LabelSelector
	if sel == nil {
		sel = labels.Everything()
	}
	policy, byPolicy := sel.RequiresExactMatch(v1alpha1.PolicyLabel)
	noCopy := lo.UnsafeDisableDeepCopy != nil && *lo.UnsafeDisableDeepCopy
	out.Items = out.Items[:0]
	for _, n := range s.names {
		indexer := s.informers[n].GetIndexer()
		var items []any
		if byPolicy {
			var err error
			if items, err = indexer.ByIndex(policyIndex, policy); err != nil {
				return err
			}
		} else {
			items = indexer.List()
		}
		for _, item := range items {
			m := item.(*metav1.PartialObjectMetadata)
			if (lo.Namespace != "" && m.Namespace != lo.Namespace) || !sel.Matches(labels.Set(m.Labels)) {
				continue
			}
			if !noCopy {
				m = m.DeepCopy()
			}
			out.Items = append(out.Items, *m)
			out.Items[len(out.Items)-1].SetGroupVersionKind(secretGVK)
		}
	}
	return nil
}

// Sources are watches on our Secrets for a controller, one per name, each
// event mapped to the policy that wrote the Secret. Handlers see the
// Store's own objects and only read them. The controller waits for them
// to sync before its first reconcile (they are SyncingSources, as
// source.Kind is): a pass over a Store still listing would take every
// Secret it has not seen yet for missing.
func (s *Store) Sources() []source.Source {
	out := make([]source.Source, 0, len(s.names))
	for _, n := range s.names {
		inf := s.informers[n]
		out = append(out, syncingInformer{
			Informer: &source.Informer{Informer: inf, Handler: handler.EnqueueRequestsFromMapFunc(PolicyOfSecret)},
			name:     n,
			synced:   inf.HasSynced,
		})
	}
	return out
}

// syncingInformer is a source.Informer the controller waits for.
type syncingInformer struct {
	*source.Informer
	name   string
	synced toolscache.InformerSynced
}

// WaitForSync returns when the informer has listed its Secrets, or an
// error when ctx ends first (the controller's CacheSyncTimeout).
func (s syncingInformer) WaitForSync(ctx context.Context) error {
	if !toolscache.WaitForCacheSync(ctx.Done(), s.synced) {
		return fmt.Errorf("the informer of Secrets named %s did not sync: %w", s.name, context.Cause(ctx))
	}
	return nil
}

var _ source.SyncingSource = syncingInformer{}

func onlyMeta(obj client.Object) error {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok && m.GetObjectKind().GroupVersionKind().Kind == "Secret" {
		return nil
	}
	return fmt.Errorf("the Secret store holds the metadata of Secrets only, not %T", obj)
}

var _ client.Reader = (*Store)(nil)
