package verify

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// metricSet are the verifier's Prometheus metrics, registered once on
// controller-runtime's registry so the manager's /metrics serves them.
type metricSet struct {
	verifications *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	cacheHits     prometheus.Counter
}

var (
	metricsOnce sync.Once
	sharedSet   *metricSet
)

// verifierMetrics returns the process-wide metrics, registering them on
// first use. Several Verifiers (tests, a restarted component) share them.
func verifierMetrics() *metricSet {
	metricsOnce.Do(func() {
		sharedSet = &metricSet{
			verifications: register(prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "verification_operator_artifact_verifications_total",
				Help: "Artifact signature verifications by kind (OCIRepository, HelmChart), outcome (Verified, Failed, Ignored, Unavailable) and reason, cache hits included.",
			}, []string{"kind", "outcome", "reason"})),
			duration: register(prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name:    "verification_operator_artifact_verification_duration_seconds",
				Help:    "Time to verify an artifact's signatures, registry round-trips included; cache hits excluded.",
				Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
			}, []string{"outcome"})),
			cacheHits: register(prometheus.NewCounter(prometheus.CounterOpts{
				Name: "verification_operator_artifact_verification_cache_hits_total",
				Help: "Verifications answered from the verdict cache or a shared in-flight verification.",
			})),
		}
	})
	return sharedSet
}

// register adds c to controller-runtime's registry. If an equal collector is
// already there (another copy of this package's state, e.g. after a test
// re-created it), that one is used instead of failing.
func register[T prometheus.Collector](c T) T {
	if err := metrics.Registry.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

func (m *metricSet) observe(kind string, r Result, elapsed time.Duration) {
	m.verifications.WithLabelValues(kind, string(r.Outcome), r.Reason).Inc()
	if r.CacheHit {
		m.cacheHits.Inc()
		return
	}
	m.duration.WithLabelValues(string(r.Outcome)).Observe(elapsed.Seconds())
}
