package sources

import (
	"fmt"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
)

// A missing object or key in the trust namespace is Waiting input: creating
// or fixing the object fixes it, and its watch wakes the reconciler.

func notFound(source, kind, namespace, name string) error {
	return &inputerror.Error{
		Kind:   inputerror.Waiting,
		Reason: v1alpha1.ReasonSourceNotFound,
		Field:  fmt.Sprintf("certificates[%s]", source),
		Message: fmt.Sprintf("%s %s/%s not found (sources are read from the trust namespace %q only)",
			kind, namespace, name, namespace),
	}
}

func keyNotFound(source, kind, namespace string, ref v1alpha1.KeyReference) error {
	return &inputerror.Error{
		Kind:    inputerror.Waiting,
		Reason:  v1alpha1.ReasonSourceKeyNotFound,
		Field:   fmt.Sprintf("certificates[%s]", source),
		Message: fmt.Sprintf("%s %s/%s has no key %q", kind, namespace, ref.Name, ref.Key),
	}
}
