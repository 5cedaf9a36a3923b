package targets

import (
	"fmt"
	"slices"
	"strings"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
)

// CheckSecretName refuses a target.secretName the operator was not
// installed to write (allowed is its --target-secret-names): its RBAC grants
// Secret access by name only, so it could neither see such Secrets nor
// update them. It is the manager's admission check and kubectl vpol's, so
// both refuse the same names with the same message. The error is an
// *inputerror.Error (Stalling: only a spec change fixes it).
func CheckSecretName(name string, allowed []string) error {
	if slices.Contains(allowed, name) {
		return nil
	}
	return &inputerror.Error{
		Kind:   inputerror.Stalling,
		Reason: v1alpha1.ReasonSecretNameNotAllowed,
		Field:  "target.secretName",
		Message: fmt.Sprintf("Secret name %q is not one the operator is allowed to write (--target-secret-names=%s); "+
			"use an allowed name, or add it to the flag and to the resourceNames of the manager's ClusterRole",
			name, strings.Join(allowed, ",")),
	}
}
