package artifacts

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// artifactsGauge is what status.ociRepositories and status.helmCharts
// count, for alerts that do not read status.
var artifactsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "verification_operator_policy_artifacts",
	Help: "Governed Flux artifacts of a VerificationPolicy by kind (OCIRepository, HelmChart) and state (matched, verified, failed, pending, flux_verified, flux_stale, forces_in_flight).",
}, []string{"policy", "kind", "state"})

func init() {
	metrics.Registry.MustRegister(artifactsGauge)
}

func recordArtifactMetrics(policy, kind string, c v1alpha1.ArtifactCounts) {
	for state, v := range map[string]int32{
		"matched": c.Matched, "verified": c.Verified, "failed": c.Failed, "pending": c.Pending,
		"flux_verified": c.FluxVerified, "flux_stale": c.FluxStale, "forces_in_flight": c.ForcesInFlight,
	} {
		artifactsGauge.WithLabelValues(policy, kind, state).Set(float64(v))
	}
}

func deleteArtifactMetrics(policy string) {
	artifactsGauge.DeletePartialMatch(prometheus.Labels{"policy": policy})
}
