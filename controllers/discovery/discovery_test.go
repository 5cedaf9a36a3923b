package discovery

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	interval = 10 * time.Millisecond
	timeout  = 5 * time.Second
)

var (
	ociRepository = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "OCIRepository"}
	gitRepository = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"}
)

// mapper is a DefaultRESTMapper that kinds can be added to while Start reads
// it (DefaultRESTMapper itself is not safe for that). It counts lookups per
// kind, to tell how often discovery was asked. Only RESTMapping is used by
// the code under test; the other methods are the embedded, unguarded ones.
type mapper struct {
	*meta.DefaultRESTMapper
	mu      sync.RWMutex
	lookups map[schema.GroupKind]int
}

func newMapper() *mapper {
	return &mapper{
		DefaultRESTMapper: meta.NewDefaultRESTMapper([]schema.GroupVersion{ociRepository.GroupVersion()}),
		lookups:           map[schema.GroupKind]int{},
	}
}

func (m *mapper) add(gvk schema.GroupVersionKind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.DefaultRESTMapper.Add(gvk, meta.RESTScopeNamespace)
}

func (m *mapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups[gk]++
	return m.DefaultRESTMapper.RESTMapping(gk, versions...)
}

func (m *mapper) lookupsOf(gvk schema.GroupVersionKind) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.lookups[gvk.GroupKind()]
}

var _ meta.RESTMapper = &mapper{}

// recorder counts handler calls and what State said during them.
type recorder struct {
	served, notServed atomic.Int32
	mu                sync.Mutex
	seen              []string
}

func (r *recorder) handler(a *APIs, gvk schema.GroupVersionKind, name string) Handler {
	return Handler{
		OnServed: func(ctx context.Context) error {
			r.served.Add(1)
			r.note(name + " served, State " + a.State(gvk).String())
			return nil
		},
		OnNotServed: func(ctx context.Context) error {
			r.notServed.Add(1)
			r.note(name + " not served, State " + a.State(gvk).String())
			return nil
		},
	}
}

func (r *recorder) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, s)
}

func (r *recorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// start runs a.Start in the background; the returned channel gets its
// result. The test's cleanup stops it and waits for it.
func start(t *testing.T, a *APIs) (context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		done <- a.Start(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(timeout):
			t.Error("Start did not return after the context was cancelled")
		}
	})
	return cancel, done
}

func TestStateString(t *testing.T) {
	cases := []struct {
		state State
		want  string
	}{
		{Unknown, "Unknown"},
		{NotServed, "NotServed"},
		{Served, "Served"},
		{State(42), "Unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			NewWithT(t).Expect(tc.state.String()).To(Equal(tc.want))
		})
	}
}

func TestStateUnknownBeforeStart(t *testing.T) {
	g := NewWithT(t)
	m := newMapper()
	m.add(ociRepository)
	a := New(m, interval)
	rec := &recorder{}
	a.Watch(ociRepository, rec.handler(a, ociRepository, "h"))

	g.Expect(a.State(ociRepository)).To(Equal(Unknown), "served, but not looked at yet")
	g.Expect(a.State(gitRepository)).To(Equal(Unknown), "never registered")
	g.Expect(m.lookupsOf(ociRepository)).To(BeZero(), "Watch does not look")
	g.Expect(rec.served.Load()).To(BeZero())
	g.Expect(rec.notServed.Load()).To(BeZero())
}

func TestNotServedThenServed(t *testing.T) {
	g := NewWithT(t)
	m := newMapper()
	a := New(m, interval)
	rec := &recorder{}
	a.Watch(ociRepository, rec.handler(a, ociRepository, "h"))

	_, done := start(t, a)

	g.Eventually(func() State { return a.State(ociRepository) }, timeout, time.Millisecond).Should(Equal(NotServed))
	// Several polls later: still NotServed, reported once.
	g.Eventually(func() int { return m.lookupsOf(ociRepository) }, timeout, time.Millisecond).Should(BeNumerically(">=", 4))
	g.Expect(a.State(ociRepository)).To(Equal(NotServed))
	g.Expect(rec.notServed.Load()).To(BeEquivalentTo(1))
	g.Expect(rec.served.Load()).To(BeZero())
	g.Expect(done).NotTo(Receive(), "Start keeps looking while an API is not served")

	m.add(ociRepository)

	g.Eventually(done, timeout).Should(Receive(BeNil()), "Start returns once every API is served")
	g.Expect(a.State(ociRepository)).To(Equal(Served))
	g.Expect(rec.served.Load()).To(BeEquivalentTo(1))
	g.Expect(rec.notServed.Load()).To(BeEquivalentTo(1))
	// OnServed ran before State said Served; OnNotServed after it said NotServed.
	g.Expect(rec.calls()).To(Equal([]string{"h not served, State NotServed", "h served, State NotServed"}))

	lookups := m.lookupsOf(ociRepository)
	time.Sleep(3 * interval)
	g.Expect(m.lookupsOf(ociRepository)).To(Equal(lookups), "no more looks once served")
}

func TestServedAtFirstLook(t *testing.T) {
	g := NewWithT(t)
	m := newMapper()
	m.add(ociRepository)
	a := New(m, time.Hour) // a second look would never come in time
	rec := &recorder{}
	a.Watch(ociRepository, rec.handler(a, ociRepository, "h"))

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	g.Expect(a.Start(ctx)).To(Succeed())

	g.Expect(a.State(ociRepository)).To(Equal(Served))
	g.Expect(rec.served.Load()).To(BeEquivalentTo(1))
	g.Expect(rec.notServed.Load()).To(BeZero(), "never reported missing")
	g.Expect(rec.calls()).To(Equal([]string{"h served, State Unknown"}), "OnServed runs before State says Served")
	g.Expect(m.lookupsOf(ociRepository)).To(Equal(1))
}

func TestHandlersOfOneAPIAllRun(t *testing.T) {
	g := NewWithT(t)
	m := newMapper()
	a := New(m, interval)
	rec := &recorder{}
	a.Watch(ociRepository, rec.handler(a, ociRepository, "first"))
	a.Watch(ociRepository, rec.handler(a, ociRepository, "second"))
	a.Watch(ociRepository, Handler{}) // both funcs nil: skipped

	_, done := start(t, a)
	g.Eventually(func() State { return a.State(ociRepository) }, timeout, time.Millisecond).Should(Equal(NotServed))
	m.add(ociRepository)
	g.Eventually(done, timeout).Should(Receive(BeNil()))

	g.Expect(rec.served.Load()).To(BeEquivalentTo(2))
	g.Expect(rec.notServed.Load()).To(BeEquivalentTo(2))
	g.Expect(rec.calls()).To(Equal([]string{
		"first not served, State NotServed",
		"second not served, State NotServed",
		"first served, State NotServed",
		"second served, State NotServed",
	}))
	g.Expect(m.lookupsOf(ociRepository)).To(BeNumerically(">=", 2), "one API, looked up once per poll")
}

func TestStartWaitsForEveryAPI(t *testing.T) {
	g := NewWithT(t)
	m := newMapper()
	a := New(m, interval)
	oci, git := &recorder{}, &recorder{}
	a.Watch(ociRepository, oci.handler(a, ociRepository, "oci"))
	a.Watch(gitRepository, git.handler(a, gitRepository, "git"))

	_, done := start(t, a)
	g.Eventually(func() State { return a.State(gitRepository) }, timeout, time.Millisecond).Should(Equal(NotServed))
	m.add(ociRepository)
	g.Eventually(func() State { return a.State(ociRepository) }, timeout, time.Millisecond).Should(Equal(Served))

	// One served, one not: Start keeps looking, but only for the missing one.
	ociLookups := m.lookupsOf(ociRepository)
	gitLookups := m.lookupsOf(gitRepository)
	g.Eventually(func() int { return m.lookupsOf(gitRepository) }, timeout, time.Millisecond).Should(BeNumerically(">=", gitLookups+3))
	g.Expect(m.lookupsOf(ociRepository)).To(Equal(ociLookups))
	g.Expect(done).NotTo(Receive())
	g.Expect(a.State(gitRepository)).To(Equal(NotServed))

	m.add(gitRepository)
	g.Eventually(done, timeout).Should(Receive(BeNil()))
	g.Expect(a.State(ociRepository)).To(Equal(Served))
	g.Expect(a.State(gitRepository)).To(Equal(Served))
	for _, r := range []*recorder{oci, git} {
		g.Expect(r.served.Load()).To(BeEquivalentTo(1))
		g.Expect(r.notServed.Load()).To(BeEquivalentTo(1))
	}
}

func TestStartReturnsWhenCancelled(t *testing.T) {
	g := NewWithT(t)
	m := newMapper()
	a := New(m, interval)
	rec := &recorder{}
	a.Watch(ociRepository, rec.handler(a, ociRepository, "h"))

	cancel, done := start(t, a)
	g.Eventually(func() State { return a.State(ociRepository) }, timeout, time.Millisecond).Should(Equal(NotServed))
	cancel()

	g.Eventually(done, timeout).Should(Receive(BeNil()))
	g.Expect(a.State(ociRepository)).To(Equal(NotServed))
	g.Expect(rec.served.Load()).To(BeZero())
}

func TestStartWithCancelledContextLooksOnce(t *testing.T) {
	g := NewWithT(t)
	m := newMapper()
	a := New(m, time.Hour)
	rec := &recorder{}
	a.Watch(ociRepository, rec.handler(a, ociRepository, "h"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	g.Expect(a.Start(ctx)).To(Succeed())
	g.Expect(a.State(ociRepository)).To(Equal(NotServed))
	g.Expect(rec.notServed.Load()).To(BeEquivalentTo(1))
	g.Expect(m.lookupsOf(ociRepository)).To(Equal(1))
}

func TestStartWithNothingWatched(t *testing.T) {
	g := NewWithT(t)
	m := newMapper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	g.Expect(New(m, time.Hour).Start(ctx)).To(Succeed())
}

func TestHandlerErrorsStopStart(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name      string
		served    bool
		handler   Handler
		wantState State
	}{
		{"OnServed fails", true, Handler{OnServed: func(context.Context) error { return boom }}, Unknown},
		{"OnNotServed fails", false, Handler{OnNotServed: func(context.Context) error { return boom }}, NotServed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			m := newMapper()
			if tc.served {
				m.add(ociRepository)
			}
			a := New(m, interval)
			var after atomic.Int32
			a.Watch(ociRepository, tc.handler)
			a.Watch(ociRepository, Handler{
				OnServed:    func(context.Context) error { after.Add(1); return nil },
				OnNotServed: func(context.Context) error { after.Add(1); return nil },
			})

			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			g.Expect(a.Start(ctx)).To(MatchError(boom))
			g.Expect(a.State(ociRepository)).To(Equal(tc.wantState), "a failed OnServed does not make the API Served")
			g.Expect(after.Load()).To(BeZero(), "later handlers do not run")
		})
	}
}
