package sources

import (
	"fmt"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// Error is a source that cannot be resolved until the user acts: the object
// or key does not exist in the trust namespace.
type Error struct {
	// Reason is a condition reason from api/v1alpha1.
	Reason string
	// Field names the offending source, e.g. certificates[corp-ca].
	Field string
	// Message is safe to show: it never holds source contents.
	Message string
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

func notFound(source, kind, namespace, name string) error {
	return &Error{
		Reason: v1alpha1.ReasonSourceNotFound,
		Field:  fmt.Sprintf("certificates[%s]", source),
		Message: fmt.Sprintf("%s %s/%s not found (sources are read from the trust namespace %q only)",
			kind, namespace, name, namespace),
	}
}

func keyNotFound(source, kind, namespace string, ref v1alpha1.KeyReference) error {
	return &Error{
		Reason:  v1alpha1.ReasonSourceKeyNotFound,
		Field:   fmt.Sprintf("certificates[%s]", source),
		Message: fmt.Sprintf("%s %s/%s has no key %q", kind, namespace, ref.Name, ref.Key),
	}
}
