package verificationpolicy

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// selectTargets works out the targeted namespaces (p.selection) and sorts
// the policy's Secrets into the ones in targeted namespaces (p.existing)
// and the ones no longer wanted (p.stale: namespace no longer targeted, or
// the Secret name changed). Secrets in terminating namespaces are neither:
// the namespace's deletion removes them.
//
// Conditions: on an unparsable selector, as renderSources.
func (r *Reconciler) selectTargets(ctx context.Context, p *pass) (bool, error) {
	sel, namespaces, err := targets.SelectNamespaces(ctx, r.Client, p.obj.Spec.Target)
	if err != nil {
		return true, r.rejectInput(ctx, p, err)
	}
	p.selection, p.namespaces = sel, namespaces

	secrets, err := targets.ListOurs(ctx, r.Secrets, p.obj.Name)
	if err != nil {
		return true, err
	}
	targeted, terminating := text.Set(sel.Targeted), text.Set(sel.Terminating)
	p.existing = make(map[string]*metav1.PartialObjectMetadata, len(secrets))
	for i := range secrets {
		s := &secrets[i]
		switch {
		case targets.IsBookkeeping(s):
		case terminating[s.Namespace]:
		case targeted[s.Namespace] && s.Name == p.obj.SecretName():
			p.existing[s.Namespace] = s
		default:
			p.stale = append(p.stale, s)
		}
	}
	return false, nil
}
