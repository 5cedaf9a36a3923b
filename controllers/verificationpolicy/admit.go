package verificationpolicy

import (
	"context"

	"github.com/flux-notation/verification-operator/controllers/targets"
)

// admitSecretName refuses a policy whose target.secretName the operator was
// not installed to write (targets.CheckSecretName, which kubectl vpol runs
// too): its RBAC grants Secret access by name only, so it could neither see
// such Secrets nor update them, and writes nothing. Secrets written under a
// previously allowed name are left alone.
//
// Conditions: SecretsSynced=False and Stalled=True, reason
// SecretNameNotAllowed.
func (r *Reconciler) admitSecretName(ctx context.Context, p *pass) (bool, error) {
	err := targets.CheckSecretName(p.obj.SecretName(), r.SecretNames)
	if err == nil {
		return false, nil
	}
	return true, r.rejectInput(ctx, p, err)
}
