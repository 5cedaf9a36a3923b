package verificationpolicy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
)

// admitSecretName refuses a policy whose target.secretName the operator was
// not installed to write: its RBAC grants Secret access by name only, so it
// could neither see such Secrets nor update them, and writes nothing.
// Secrets written under a previously allowed name are left alone.
//
// Conditions: SecretsSynced=False and Stalled=True, reason
// SecretNameNotAllowed.
func (r *Reconciler) admitSecretName(ctx context.Context, p *pass) (bool, error) {
	name := p.obj.SecretName()
	if slices.Contains(r.SecretNames, name) {
		return false, nil
	}
	return true, r.rejectInput(ctx, p, &inputerror.Error{
		Kind:   inputerror.Stalling,
		Reason: v1alpha1.ReasonSecretNameNotAllowed,
		Field:  "target.secretName",
		Message: fmt.Sprintf("Secret name %q is not one the operator is allowed to write (--target-secret-names=%s); "+
			"use an allowed name, or add it to the flag and to the resourceNames of the manager's ClusterRole",
			name, strings.Join(r.SecretNames, ",")),
	})
}
