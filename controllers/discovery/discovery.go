package discovery

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
)

// State is what is known about an API.
type State int

const (
	// Unknown: not looked up yet.
	Unknown State = iota
	// NotServed: the API server does not serve it (yet).
	NotServed
	// Served: the API server serves it, and OnServed has run.
	Served
)

func (s State) String() string {
	switch s {
	case NotServed:
		return "NotServed"
	case Served:
		return "Served"
	default:
		return "Unknown"
	}
}

// Handler is told about an API's state changes. OnServed runs once, when the
// API is first seen served (typically to add a watch); OnNotServed once,
// when it is first seen missing (to report that).
type Handler struct {
	OnServed    func(context.Context) error
	OnNotServed func(context.Context) error
}

type api struct {
	gvk      schema.GroupVersionKind
	state    State
	handlers []Handler
}

// APIs polls discovery for the registered APIs until each is served. It is
// a manager Runnable.
type APIs struct {
	mapper   meta.RESTMapper
	interval time.Duration

	mu   sync.Mutex
	apis []*api
}

// New returns an APIs that looks every interval for APIs not yet served,
// through mapper (the manager's, which re-reads discovery for unknown
// kinds).
func New(mapper meta.RESTMapper, interval time.Duration) *APIs {
	return &APIs{mapper: mapper, interval: interval}
}

// Watch registers gvk, with a handler. Call before the manager starts.
func (a *APIs) Watch(gvk schema.GroupVersionKind, h Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.apis {
		if x.gvk == gvk {
			x.handlers = append(x.handlers, h)
			return
		}
	}
	a.apis = append(a.apis, &api{gvk: gvk, handlers: []Handler{h}})
}

// State returns what is known about gvk; Unknown for an API never
// registered.
func (a *APIs) State(gvk schema.GroupVersionKind) State {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.apis {
		if x.gvk == gvk {
			return x.state
		}
	}
	return Unknown
}

// Start looks at once, then every interval, until every API is served.
func (a *APIs) Start(ctx context.Context) error {
	ctx = ctrl.LoggerInto(ctx, ctrl.Log.WithName("api-discovery"))
	for {
		pending, err := a.look(ctx)
		if err != nil || pending == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.interval):
		}
	}
}

// look checks every API not served yet, runs the handlers of those whose
// state changed, and returns how many are still not served.
func (a *APIs) look(ctx context.Context) (int, error) {
	a.mu.Lock()
	apis := append([]*api(nil), a.apis...)
	a.mu.Unlock()
	pending := 0
	for _, x := range apis {
		if a.state(x) == Served {
			continue
		}
		_, err := a.mapper.RESTMapping(x.gvk.GroupKind(), x.gvk.Version)
		switch {
		case err != nil && !meta.IsNoMatchError(err):
			// Discovery itself failed (the API server is unreachable, an
			// aggregated API is down): nothing is known; look again.
			ctrl.LoggerFrom(ctx).Error(err, "looking up an API", "api", x.gvk.String())
			pending++
		case err == nil:
			for _, h := range x.handlers {
				if h.OnServed != nil {
					if err := h.OnServed(ctx); err != nil {
						return 0, err
					}
				}
			}
			a.setState(x, Served)
			ctrl.LoggerFrom(ctx).Info("API served", "api", x.gvk.String())
		case a.state(x) == Unknown:
			// Reported once, not on every poll.
			a.setState(x, NotServed)
			ctrl.LoggerFrom(ctx).Info("API not served; waiting for it", "api", x.gvk.String())
			for _, h := range x.handlers {
				if h.OnNotServed != nil {
					if err := h.OnNotServed(ctx); err != nil {
						return 0, err
					}
				}
			}
			pending++
		default:
			pending++
		}
	}
	return pending, nil
}

func (a *APIs) state(x *api) State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return x.state
}

func (a *APIs) setState(x *api, s State) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x.state = s
}
