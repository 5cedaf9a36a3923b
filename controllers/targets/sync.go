package targets

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	// APIReader reads a Secret uncached (a GET by an allowed name), to tell
	// who owns one that is in the way (Store holds only ours) or that Store
	// has not seen yet.
	APIReader client.Reader
	// FieldOwner names us in managedFields.
	FieldOwner string
	// Concurrency bounds parallel API writes for one policy.
	Concurrency int
}

// Sync makes every namespace hold tmpl's Secret. existing maps namespace to
// the policy's Secret of that name as the cache sees it. Outcomes are
// returned sorted by namespace; a failure in one namespace never stops others.
func (w *Writer) Sync(ctx context.Context, tmpl Template, namespaces []string, existing map[string]*corev1.Secret) []Outcome {
	outcomes := make([]Outcome, len(namespaces))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, w.Concurrency))
	for i, ns := range namespaces {
		g.Go(func() error {
			outcomes[i] = w.syncOne(ctx, tmpl, ns, existing[ns])
			return nil
		})
	}
	_ = g.Wait()
	sort.Slice(outcomes, func(i, j int) bool { return outcomes[i].Namespace < outcomes[j].Namespace })
	return outcomes
}

func (w *Writer) syncOne(ctx context.Context, tmpl Template, ns string, cached *corev1.Secret) Outcome {
	desired := tmpl.Desired(ns)
	policy := tmpl.Policy.Name
	if cached != nil {
		if UpToDate(cached, desired) {
			return Outcome{Namespace: ns, State: Synced}
		}
		return w.update(ctx, ns, cached, desired)
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
	if !IsOwnedBy(&live, policy) {
		return conflict(ns, &live)
	}
	if UpToDate(&live, desired) {
		return Outcome{Namespace: ns, State: Synced}
	}
	return w.update(ctx, ns, &live, desired)
}

// update writes desired over our existing Secret. The resourceVersion of
// existing is sent as a precondition, so a Secret replaced by someone else
// since we read it is never overwritten: the write fails and is retried.
func (w *Writer) update(ctx context.Context, ns string, existing, desired *corev1.Secret) Outcome {
	merged := Merge(existing, desired)
	if err := w.Client.Update(ctx, merged, client.FieldOwner(w.FieldOwner)); err != nil {
		return failed(ns, "update", err)
	}
	return Outcome{Namespace: ns, State: Synced, Wrote: true}
}

// Prune deletes Secrets of ours that are no longer wanted, each guarded by
// its UID and resourceVersion so a replacement is never deleted.
func (w *Writer) Prune(ctx context.Context, secrets []*corev1.Secret) error {
	return w.forEach(ctx, secrets, func(ctx context.Context, s *corev1.Secret) error {
		err := w.Client.Delete(ctx, s, client.Preconditions{UID: &s.UID, ResourceVersion: &s.ResourceVersion})
		return client.IgnoreNotFound(err)
	})
}

// Release strips our ownership from secrets (deletionPolicy Orphan).
func (w *Writer) Release(ctx context.Context, secrets []*corev1.Secret) error {
	return w.forEach(ctx, secrets, func(ctx context.Context, s *corev1.Secret) error {
		err := w.Client.Update(ctx, Orphaned(s), client.FieldOwner(w.FieldOwner))
		return client.IgnoreNotFound(err)
	})
}

func (w *Writer) forEach(ctx context.Context, secrets []*corev1.Secret, fn func(context.Context, *corev1.Secret) error) error {
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
