package manifests

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// ApplyDefaults fills in what the API server's CRD defaulting would (the
// `default:` values of config/crd/bases), so a policy read from a file
// looks as it would once applied. Rendering does not depend on these (the
// renderer treats an empty type as ca, SecretName() an empty name as
// notation-config), but the Secret's owner reference, the governed
// artifacts and the verification settings do. A test compares this with
// the API server's own algorithm run over the CRD.
func ApplyDefaults(p *v1alpha1.VerificationPolicy) {
	s := &p.Spec
	for i := range s.Certificates {
		if s.Certificates[i].Type == "" {
			s.Certificates[i].Type = v1alpha1.CertificateTypeCA
		}
	}
	if s.Target.SecretName == "" {
		s.Target.SecretName = v1alpha1.DefaultSecretName
	}
	if s.Target.DeletionPolicy == "" {
		s.Target.DeletionPolicy = v1alpha1.DeletionPolicyDelete
	}
	if s.Interval == nil {
		s.Interval = &metav1.Duration{Duration: time.Hour}
	}
	o := &s.OCIRepositories
	if o.Interval == nil {
		o.Interval = &metav1.Duration{Duration: 10 * time.Minute}
	}
	if o.Reverify == "" {
		o.Reverify = v1alpha1.ReverifyForce
	}
	if o.Verification == "" {
		o.Verification = v1alpha1.VerificationEnabled
	}
	if s.Rollout.Strategy == "" {
		s.Rollout.Strategy = v1alpha1.RolloutAllAtOnce
	}
}
