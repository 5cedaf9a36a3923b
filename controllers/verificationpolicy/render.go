package verificationpolicy

import (
	"context"
	"errors"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
	"github.com/flux-notation/verification-operator/controllers/sources"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// renderSources resolves the certificate sources in the trust namespace and
// renders the Secret data into p.rendered. Bad input stops the pass (see
// rejectInput); nothing is written.
//
// Conditions: SecretsSynced=False and, for input only a spec change can
// fix, Stalled=True; Reconciling while a clusterTrustBundle source waits
// for API discovery (just after a start).
func (r *Reconciler) renderSources(ctx context.Context, p *pass) (bool, error) {
	srcs, err := r.Sources.Resolve(ctx, p.obj.Spec.Certificates)
	if errors.Is(err, sources.ErrAPIDiscoveryPending) {
		conditions.MarkReconciling(p.obj, v1alpha1.ReasonWaitingForAPIDiscovery,
			"waiting to learn which ClusterTrustBundle API version is served before rendering")
		p.end = waiting
		p.requeueAfter(discoveryRecheck)
		return true, nil
	}
	if err == nil {
		p.rendered, err = trustconfig.Render(trustconfig.Input{
			Statements: p.obj.Spec.TrustPolicies,
			Sources:    srcs,
			Now:        r.Now(),
		})
	}
	if err != nil {
		return true, r.rejectInput(ctx, p, err)
	}
	// What is about to be written is known by its digest from now on.
	r.Contents.Add(p.rendered.TrustDigest, p.rendered.Data)
	return false, nil
}

// rejectInput reports input that cannot be used. Nothing is written and
// nothing is pruned: the Secrets of the last good configuration stay. An
// error that is not about the input (the API server refused a read) is
// returned, to be retried.
func (r *Reconciler) rejectInput(ctx context.Context, p *pass, err error) error {
	obj := p.obj
	in, ok := inputerror.As(err)
	if !ok {
		conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, meta.FailedReason, "%s", err.Error())
		return err
	}
	msg := in.ConditionMessage()
	conditions.MarkFalse(obj, v1alpha1.SecretsSyncedCondition, in.Reason, "%s", msg)
	r.EventRecorder.Event(obj, corev1.EventTypeWarning, in.Reason, msg)
	log.FromContext(ctx).Info("rejected input", "reason", in.Reason, "field", in.Field)
	if in.Kind == inputerror.Stalling {
		// Only a spec change can fix this: no retry until one happens.
		conditions.MarkStalled(obj, in.Reason, "%s", msg)
		p.end = stalled
		return nil
	}
	// A source Secret or ConfigMap can fix it; their watches wake us, and
	// the full resync is the backstop.
	p.end = waiting
	p.requeueAfter(obj.GetRequeueAfter())
	return nil
}
