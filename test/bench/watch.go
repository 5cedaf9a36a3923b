package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// convergence watches the Secret called name in every namespace and tells
// when all target namespaces hold one that matches. It observes through the
// API server's watch, as a user's tooling would, so the time includes
// everything up to the moment the content is visible.
type convergence struct {
	targets map[string]bool
	match   func(*corev1.Secret) bool

	mu sync.Mutex
	ok map[string]bool
	// progress holds when each namespace first matched, in order.
	progress []time.Time
	doneAt   time.Time
	done     chan struct{}
	stopped  chan struct{}
	cancel   context.CancelFunc
}

func watchConvergence(ctx context.Context, kube kubernetes.Interface, name string, targets []string, match func(*corev1.Secret) bool) (*convergence, error) {
	c := &convergence{
		targets: make(map[string]bool, len(targets)),
		match:   match,
		ok:      map[string]bool{},
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	for _, ns := range targets {
		c.targets[ns] = true
	}
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return kube.CoreV1().Secrets("").List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return kube.CoreV1().Secrets("").Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Secret{}, 0, cache.Indexers{})
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.observe(o, false) },
		UpdateFunc: func(_, o any) { c.observe(o, false) },
		DeleteFunc: func(o any) { c.observe(o, true) },
	}); err != nil {
		return nil, err
	}
	ctx, c.cancel = context.WithCancel(ctx)
	go func() {
		defer close(c.stopped)
		inf.RunWithContext(ctx)
	}()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		c.stop()
		return nil, fmt.Errorf("watching Secrets %s: cache did not sync", name)
	}
	return c, nil
}

func (c *convergence) observe(o any, deleted bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o, deleted = d.Obj, true
	}
	s, ok := o.(*corev1.Secret)
	if !ok || !c.targets[s.Namespace] {
		return
	}
	good := !deleted && c.match(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if good {
		if !c.ok[s.Namespace] {
			c.progress = append(c.progress, time.Now())
		}
		c.ok[s.Namespace] = true
	} else {
		delete(c.ok, s.Namespace)
	}
	if len(c.ok) == len(c.targets) && c.doneAt.IsZero() {
		c.doneAt = time.Now()
		close(c.done)
	}
}

// wait waits until every target matches, or timeout. It returns when that
// happened and how many matched.
func (c *convergence) wait(ctx context.Context, timeout time.Duration) (time.Time, int, error) {
	select {
	case <-c.done:
	case <-time.After(timeout):
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doneAt.IsZero() {
		return time.Now(), len(c.ok), fmt.Errorf("%d of %d namespaces converged within %s", len(c.ok), len(c.targets), timeout)
	}
	return c.doneAt, len(c.ok), ctx.Err()
}

// projectFrom extrapolates an unfinished convergence that started at
// start: the remaining namespaces at the rate of the later half of those
// done so far (the first ones may have come in a client-side burst).
func (c *convergence) projectFrom(start time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, n := len(c.progress), len(c.targets)
	if k < 4 {
		return 0
	}
	first, last := c.progress[k/2], c.progress[k-1]
	per := last.Sub(first) / time.Duration(k-1-k/2)
	return last.Sub(start) + time.Duration(n-k)*per
}

func (c *convergence) stop() {
	c.cancel()
	<-c.stopped
}

// certsIn returns the DER of every certificate in the values of data whose
// key passes keep; each value may hold several PEM blocks.
func certsIn(data map[string][]byte, keep func(string) bool) [][]byte {
	var out [][]byte
	for k, v := range data {
		if !keep(k) {
			continue
		}
		rest := v
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type == "CERTIFICATE" {
				out = append(out, b.Bytes)
			}
		}
	}
	return out
}

// holdsExactly reports whether ders is exactly one certificate, want.
func holdsExactly(ders [][]byte, want *x509.Certificate) bool {
	return len(ders) == 1 && bytes.Equal(ders[0], want.Raw)
}

// Secret content checks, one per system: the Secret must carry exactly the
// expected certificate (so a rotation counts only once the old one is gone).

func matchOurs(policy string, want *x509.Certificate) func(*corev1.Secret) bool {
	return func(s *corev1.Secret) bool {
		if s.Labels[labelPolicy] != policy || len(s.Data[trustPolicyKey]) == 0 {
			return false
		}
		return holdsExactly(certsIn(s.Data, isCertKey), want)
	}
}

// matchOursSet is matchOurs for a Secret that must hold exactly the given
// certificates, in any order.
func matchOursSet(policy string, want ...*x509.Certificate) func(*corev1.Secret) bool {
	return func(s *corev1.Secret) bool {
		if s.Labels[labelPolicy] != policy || len(s.Data[trustPolicyKey]) == 0 {
			return false
		}
		ders := certsIn(s.Data, isCertKey)
		if len(ders) != len(want) {
			return false
		}
		for _, w := range want {
			if !slices.ContainsFunc(ders, func(d []byte) bool { return bytes.Equal(d, w.Raw) }) {
				return false
			}
		}
		return true
	}
}

func matchTrustManager(key string, want *x509.Certificate) func(*corev1.Secret) bool {
	return func(s *corev1.Secret) bool {
		return holdsExactly(certsIn(s.Data, func(k string) bool { return k == key }), want)
	}
}

func isCertKey(k string) bool { return strings.HasSuffix(k, ".crt") || strings.HasSuffix(k, ".pem") }
