package verificationpolicy

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

var (
	namespacesGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "verification_operator_policy_namespaces",
		Help: "Target namespaces of a VerificationPolicy by state (targeted, synced, conflicted, failed).",
	}, []string{"policy", "state"})

	certificateExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "verification_operator_certificate_expiry_timestamp_seconds",
		Help: "NotAfter of each certificate in a policy's rendered Secret, in seconds since the epoch; alert before a CA expires.",
	}, []string{"policy", "key", "subject", "sha256"})
)

func init() {
	metrics.Registry.MustRegister(namespacesGauge, certificateExpiry)
}

func recordPolicyMetrics(obj *v1alpha1.VerificationPolicy) {
	n := obj.Status.Namespaces
	namespacesGauge.WithLabelValues(obj.Name, "targeted").Set(float64(n.Targeted))
	namespacesGauge.WithLabelValues(obj.Name, "synced").Set(float64(n.Synced))
	namespacesGauge.WithLabelValues(obj.Name, "conflicted").Set(float64(n.Conflicted))
	namespacesGauge.WithLabelValues(obj.Name, "failed").Set(float64(n.Failed))
	// Rotated-out certificates must not linger as series.
	certificateExpiry.DeletePartialMatch(prometheus.Labels{"policy": obj.Name})
	for _, c := range obj.Status.Certificates {
		certificateExpiry.WithLabelValues(obj.Name, c.Key, c.Subject, c.SHA256).Set(float64(c.NotAfter.Unix()))
	}
}

func deletePolicyMetrics(policy string) {
	namespacesGauge.DeletePartialMatch(prometheus.Labels{"policy": policy})
	certificateExpiry.DeletePartialMatch(prometheus.Labels{"policy": policy})
}
