// Package v1alpha1 contains the VerificationPolicy API: one cluster-scoped
// object that describes the Notation trust configuration Flux needs, and the
// namespaces it must be rolled out to.
//
// +kubebuilder:object:generate=true
// +groupName=verification.flux-notation.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "verification.flux-notation.io", Version: "v1alpha1"}

	// SchemeBuilder registers the API's Go types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the API's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
