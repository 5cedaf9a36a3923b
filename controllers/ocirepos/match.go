package ocirepos

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// Governs reports whether the policy governs r: r lives in one of the
// policy's targeted namespaces, verifies with Notation using the policy's
// Secret name, and matches the policy's OCIRepository selector if any.
func Governs(p *v1alpha1.VerificationPolicy, selector labels.Selector, targeted map[string]bool, r *Repository) bool {
	v := r.Spec.Verify
	if v == nil || v.Provider != trustconfig.ProviderNotation || v.SecretRef == nil || v.SecretRef.Name != p.SecretName() {
		return false
	}
	if !targeted[r.Namespace] {
		return false
	}
	return selector == nil || selector.Matches(labels.Set(r.Labels))
}

// UsesSecretName reports whether r verifies with Notation using a Secret of
// that name, for mapping OCIRepository events to policies cheaply.
func UsesSecretName(r *Repository, name string) bool {
	v := r.Spec.Verify
	return v != nil && v.Provider == trustconfig.ProviderNotation && v.SecretRef != nil && v.SecretRef.Name == name
}
