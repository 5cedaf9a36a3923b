package targets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// State is the outcome of syncing one namespace.
type State string

const (
	// Synced: the namespace holds the desired Secret.
	Synced State = "Synced"
	// Conflicted: a Secret of the same name that we do not own is in the way.
	Conflicted State = "Conflicted"
	// Failed: the API server refused the write.
	Failed State = "Failed"
)

// Outcome is what happened in one namespace.
type Outcome struct {
	Namespace string
	State     State
	// Wrote is true when an API write was made (create or update).
	Wrote   bool
	Reason  string
	Message string
}

// Writer writes and prunes generated Secrets.
type Writer struct {
	// Client writes Secrets.
	Client client.Client
	// APIReader reads a Secret uncached (a GET by an allowed name): to tell
	// who owns one that is in the way (Store holds only ours) or that Store
	// has not seen yet, and to read the data of ours when its metadata does
	// not prove it intact.
	APIReader client.Reader
	// FieldOwner names us in managedFields.
	FieldOwner string
	// Concurrency bounds parallel API writes for one policy.
	Concurrency int

	// checked remembers, per Secret, the resourceVersion and trust digest
	// whose data was read and found as desired, so a Secret whose metadata
	// cannot prove its data (a foreign manager co-owns a key with the same
	// value) is read once per change, not on every pass. Only such Secrets
	// are in it: for the others managedFields are the proof.
	checked sync.Map
}

type checkedData struct{ resourceVersion, digest string }

// Sync makes every namespace hold tmpl's Secret. existing maps namespace to
// the metadata of the policy's Secret of that name as Store sees it.
// Outcomes are returned sorted by namespace; a failure in one namespace
// never stops others.
func (w *Writer) Sync(ctx context.Context, tmpl Template, namespaces []string, existing map[string]*metav1.PartialObjectMetadata) []Outcome {
	outcomes := make([]Outcome, len(namespaces))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, w.Concurrency))
	keys := slices.Sorted(maps.Keys(tmpl.Data))
	for i, ns := range namespaces {
		g.Go(func() error {
			outcomes[i] = w.syncOne(ctx, tmpl, keys, ns, existing[ns])
			return nil
		})
	}
	_ = g.Wait()
	sort.Slice(outcomes, func(i, j int) bool { return outcomes[i].Namespace < outcomes[j].Namespace })
	return outcomes
}

func (w *Writer) syncOne(ctx context.Context, tmpl Template, keys []string, ns string, cached *metav1.PartialObjectMetadata) Outcome {
	desired := tmpl.Desired(ns)
	policy := tmpl.Policy.Name
	if cached != nil {
		switch {
		case !MetaUpToDate(cached, desired):
			// A new digest (rotation) or metadata drift: the update replaces
			// the data whatever it is, so the cached metadata is enough.
			return w.update(ctx, ns, FromMeta(cached), desired)
		case DataIntact(cached, keys) || w.wasChecked(cached, tmpl.TrustDigest):
			return Outcome{Namespace: ns, State: Synced}
		}
		// The metadata is as desired but cannot vouch for the data: read it.
		var live corev1.Secret
		if err := w.APIReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: desired.Name}, &live); err != nil {
			if !apierrors.IsNotFound(err) {
				return failed(ns, "read", err)
			}
		} else {
			return w.syncLive(ctx, ns, policy, &live, desired)
		}
	}

	err := w.Client.Create(ctx, desired, client.FieldOwner(w.FieldOwner))
	if err == nil {
		return Outcome{Namespace: ns, State: Synced, Wrote: true}
	}
	if !apierrors.IsAlreadyExists(err) {
		return failed(ns, "create", err)
	}

	// Something named like our Secret exists but is not in our cache: either
	// it is not ours, or the cache has not caught up with our own create.
	var live corev1.Secret
	if err := w.APIReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: desired.Name}, &live); err != nil {
		return failed(ns, "read", err)
	}
	return w.syncLive(ctx, ns, policy, &live, desired)
}

// syncLive syncs from a Secret read from the API server.
func (w *Writer) syncLive(ctx context.Context, ns, policy string, live, desired *corev1.Secret) Outcome {
	if !IsOwnedBy(live, policy) {
		return conflict(ns, live)
	}
	if UpToDate(live, desired) {
		w.remember(live, desired.Annotations[v1alpha1.TrustDigestAnnotation])
		return Outcome{Namespace: ns, State: Synced}
	}
	return w.update(ctx, ns, live, desired)
}

// update writes desired over our existing Secret. The resourceVersion of
// existing is sent as a precondition, so a Secret replaced by someone else
// since we read it is never overwritten: the write fails and is retried.
func (w *Writer) update(ctx context.Context, ns string, existing, desired *corev1.Secret) Outcome {
	merged := Merge(existing, desired)
	if err := w.Client.Update(ctx, merged, client.FieldOwner(w.FieldOwner)); err != nil {
		return failed(ns, "update", err)
	}
	// Not remembered: our write makes managedFields vouch for the data.
	w.checked.Delete(ns + "/" + desired.Name)
	return Outcome{Namespace: ns, State: Synced, Wrote: true}
}

func (w *Writer) remember(s *corev1.Secret, digest string) {
	w.checked.Store(s.Namespace+"/"+s.Name, checkedData{resourceVersion: s.ResourceVersion, digest: digest})
}

func (w *Writer) wasChecked(m *metav1.PartialObjectMetadata, digest string) bool {
	v, ok := w.checked.Load(m.Namespace + "/" + m.Name)
	return ok && v.(checkedData) == checkedData{resourceVersion: m.ResourceVersion, digest: digest}
}

// Prune deletes Secrets of ours that are no longer wanted, each guarded by
// its UID and resourceVersion so a replacement is never deleted.
func (w *Writer) Prune(ctx context.Context, secrets []*metav1.PartialObjectMetadata) error {
	return w.forEach(ctx, secrets, func(ctx context.Context, m *metav1.PartialObjectMetadata) error {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name}}
		err := w.Client.Delete(ctx, s, client.Preconditions{UID: &m.UID, ResourceVersion: &m.ResourceVersion})
		w.checked.Delete(m.Namespace + "/" + m.Name)
		return client.IgnoreNotFound(err)
	})
}

// Release strips our ownership from secrets (deletionPolicy Orphan). The
// data stays, so each is read in full first; one that is no longer the
// one listed (another UID) is left alone.
func (w *Writer) Release(ctx context.Context, secrets []*metav1.PartialObjectMetadata) error {
	return w.forEach(ctx, secrets, func(ctx context.Context, m *metav1.PartialObjectMetadata) error {
		var live corev1.Secret
		if err := w.APIReader.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: m.Name}, &live); err != nil {
			return client.IgnoreNotFound(err)
		}
		if live.UID != m.UID {
			return nil
		}
		w.checked.Delete(m.Namespace + "/" + m.Name)
		err := w.Client.Update(ctx, Orphaned(&live), client.FieldOwner(w.FieldOwner))
		return client.IgnoreNotFound(err)
	})
}

func (w *Writer) forEach(ctx context.Context, secrets []*metav1.PartialObjectMetadata, fn func(context.Context, *metav1.PartialObjectMetadata) error) error {
	var (
		mu   sync.Mutex
		errs []error
	)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, w.Concurrency))
	for _, s := range secrets {
		g.Go(func() error {
			if err := fn(ctx, s); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s/%s: %w", s.Namespace, s.Name, err))
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

func failed(ns, verb string, err error) Outcome {
	return Outcome{
		Namespace: ns, State: Failed, Reason: v1alpha1.ReasonWriteFailed,
		Message: fmt.Sprintf("%s failed: %s", verb, err.Error()),
	}
}

func conflict(ns string, live *corev1.Secret) Outcome {
	msg := fmt.Sprintf("Secret %s/%s exists and is not managed by this policy; it is left untouched", ns, live.Name)
	if owner := live.Labels[v1alpha1.PolicyLabel]; owner != "" && live.Labels[v1alpha1.ManagedByLabel] == v1alpha1.ManagedByValue {
		msg = fmt.Sprintf("Secret %s/%s is managed by VerificationPolicy %q, which wrote it first", ns, live.Name, owner)
	}
	return Outcome{Namespace: ns, State: Conflicted, Reason: v1alpha1.ReasonSecretConflict, Message: msg}
}
