package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers"
	testenv "github.com/flux-notation/verification-operator/test/envtest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const trustNS = "vo-trust"

var (
	// k8s is the tests' own client: uncached, so assertions see the API
	// server's truth, not the manager's cache. k8sWatch watches.
	k8s      client.Client
	k8sWatch client.WithWatch
	// testEnv installs the Flux OCIRepository CRD mid-run: the companion
	// must discover it without a restart.
	testEnv *envtest.Environment
	scheme  = runtime.NewScheme()
	// writes counts the manager's write requests to Secrets at the HTTP
	// level, so no write path can escape the count.
	writes = &writeCounter{}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Every log line, at the most verbose level, goes to managerLogs so tests
	// can prove what is never logged; stderr gets them only on request.
	var out io.Writer = &managerLogs
	if os.Getenv("TEST_VERBOSE_MANAGER") != "" {
		out = io.MultiWriter(&managerLogs, os.Stderr)
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapcore.Level(-5)), zap.WriteTo(out)))
	env, cfg, err := testenv.Start()
	testEnv = env
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	if k8sWatch, err = client.NewWithWatch(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8s = k8sWatch
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: trustNS}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// The shared plane serves Flux's OCIRepository, HelmChart and
	// HelmRepository APIs from the start, so no test depends on running
	// before or after their installation (TestArtifactAPIAppearsLater has a
	// plane of its own).
	if err := installFluxCRD(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := installHelmCRDs(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := startOperator(ctx, cfg, writes.wrap); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// startOperator runs the operator's controllers in this process against
// cfg's API server, with the settings the tests rely on (short retry and
// discovery intervals), until ctx ends. wrap, if set, wraps the manager's
// HTTP transport.
func startOperator(ctx context.Context, cfg *rest.Config, wrap func(http.RoundTripper) http.RoundTripper) error {
	mgrCfg := rest.CopyConfig(cfg)
	mgrCfg.QPS, mgrCfg.Burst = 200, 400
	mgrCfg.WrapTransport = wrap
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   controllers.CacheOptions(),
		Client:  controllers.ClientOptions(),
		// Several managers may run in one test binary.
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		TrustNamespace:         trustNS,
		Concurrency:            4,
		WriteConcurrency:       16,
		ConflictRetryInterval:  2 * time.Second,
		VerifyTimeout:          3 * time.Second,
		VerifyConcurrency:      16,
		VerifyPerRegistry:      4,
		APIDiscoveryInterval:   300 * time.Millisecond,
		RolloutRecheckInterval: time.Second,
		TargetSecretNames:      []string{v1alpha1.DefaultSecretName, "notation-trust"},
		ForceBackoff:           forceBackoff,
	}); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return nil
}

// managerLogs holds everything the manager logged in this test binary.
var managerLogs syncBuffer

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// writeCounter counts mutating requests to Secrets per namespace, and
// every request (reads too) per namespace and resource.
type writeCounter struct {
	mu       sync.Mutex
	counts   map[string]int // Secret write requests, by namespace
	done     map[string]int // those the API server carried out (2xx)
	requests map[string]int // "<namespace>/<resource>"
}

// requestsTo returns the manager's requests of any verb to resource in ns.
func (w *writeCounter) requestsTo(ns, resource string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests[ns+"/"+resource]
}

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		// Paths look like /api/v1/namespaces/<ns>/secrets[/<name>].
		parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
		if len(parts) >= 5 && parts[2] == "namespaces" {
			w.mu.Lock()
			if w.requests == nil {
				w.requests = map[string]int{}
			}
			w.requests[parts[3]+"/"+parts[4]]++
			w.mu.Unlock()
		}
		if req.Method == http.MethodGet || len(parts) < 5 || parts[2] != "namespaces" || parts[4] != "secrets" {
			return rt.RoundTrip(req)
		}
		w.mu.Lock()
		if w.counts == nil {
			w.counts, w.done = map[string]int{}, map[string]int{}
		}
		w.counts[parts[3]]++
		w.mu.Unlock()
		resp, err := rt.RoundTrip(req)
		if err == nil && resp.StatusCode/100 == 2 {
			w.mu.Lock()
			w.done[parts[3]]++
			w.mu.Unlock()
		}
		return resp, err
	})
}

// carriedOut returns the number of Secret writes in the given namespaces
// that the API server carried out. A create refused as AlreadyExists (the
// manager's cache had not yet seen its own create) is a request, not a
// write.
func (w *writeCounter) carriedOut(namespaces ...string) int { return w.sum(w.done, namespaces) }

// in returns the number of Secret write requests made in the given
// namespaces, refused or not.
func (w *writeCounter) in(namespaces ...string) int { return w.sum(w.counts, namespaces) }

// sum adds up one of the counters' namespaces.
func (w *writeCounter) sum(counts map[string]int, namespaces []string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ns := range namespaces {
		n += counts[ns]
	}
	return n
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
