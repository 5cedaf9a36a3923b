package verify

import (
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

func TestMetricsAreRegisteredOnceAndCount(t *testing.T) {
	g := NewWithT(t)
	m := New(Options{}).metrics
	g.Expect(New(Options{}).metrics).To(BeIdenticalTo(m))

	// A second registration of an equal collector reuses the first.
	again := register(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "verification_operator_artifact_verification_cache_hits_total",
		Help: "Verifications answered from the verdict cache or a shared in-flight verification.",
	}))
	g.Expect(again).To(BeIdenticalTo(m.cacheHits))

	before := counterValue(m.verifications.WithLabelValues("HelmChart", string(Failed), ReasonUntrustedSigner))
	hits := counterValue(m.cacheHits)
	m.observe("HelmChart", Result{Outcome: Failed, Reason: ReasonUntrustedSigner}, 0)
	m.observe("HelmChart", Result{Outcome: Failed, Reason: ReasonUntrustedSigner, CacheHit: true}, 0)
	g.Expect(counterValue(m.verifications.WithLabelValues("HelmChart", string(Failed), ReasonUntrustedSigner))).To(Equal(before + 2))
	g.Expect(counterValue(m.cacheHits)).To(Equal(hits + 1))

	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	g.Expect(names).To(ContainElements(
		"verification_operator_artifact_verifications_total",
		"verification_operator_artifact_verification_duration_seconds",
		"verification_operator_artifact_verification_cache_hits_total",
	))
}

// counterValue reads a counter without prometheus/testutil, whose
// dependencies this module does not carry.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
