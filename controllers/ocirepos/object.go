package ocirepos

import (
	"fmt"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
)

// GVK is the OCIRepository API version this operator reads: source-controller
// v1.9+ serves and stores only v1.
var GVK = schema.GroupVersionKind{Group: sourcev1.GroupVersion.Group, Version: "v1", Kind: sourcev1.OCIRepositoryKind}

// ListGVK is the list kind of GVK.
var ListGVK = GVK.GroupVersion().WithKind(sourcev1.OCIRepositoryKind + "List")

// Repository is an OCIRepository as read from the API server: the typed view
// plus the fields newer Flux versions add.
type Repository struct {
	sourcev1.OCIRepository
	// Fingerprint is status.sourceVerificationFingerprint (source-controller
	// v1.10+): the digest of the trust material Flux last verified with.
	Fingerprint string
}

// New returns an empty unstructured OCIRepository for the client and cache.
func New() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(GVK)
	return u
}

// NewList returns an empty unstructured OCIRepository list.
func NewList() *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(ListGVK)
	return l
}

// FromUnstructured converts tolerantly: unknown fields are ignored by the
// typed conversion and the ones we need are read from the raw object.
func FromUnstructured(u *unstructured.Unstructured) (*Repository, error) {
	r := &Repository{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r.OCIRepository); err != nil {
		return nil, fmt.Errorf("decoding OCIRepository %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	r.Fingerprint, _, _ = unstructured.NestedString(u.Object, "status", "sourceVerificationFingerprint")
	return r, nil
}

// Flux is the view fluxverdict judges: Flux verifies an OCIRepository only
// when its revision or generation changed, or its last verification failed.
func (r *Repository) Flux() fluxverdict.Source {
	return fluxverdict.Source{
		Annotations:            r.Annotations,
		Conditions:             r.Status.Conditions,
		Generation:             r.Generation,
		LastHandledReconcileAt: r.Status.LastHandledReconcileAt,
		Fingerprint:            r.Fingerprint,
		Suspended:              r.Spec.Suspend,
	}
}
