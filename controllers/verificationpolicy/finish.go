package verificationpolicy

import (
	"context"
	"errors"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
)

// finish is the one place that settles how a pass ended: Reconciling,
// Stalled, observedGeneration and lastHandledReconcileAt, from the pass's
// ending and the error, and then writes the sync reconciler's share of
// status (Ready derived with it) in one request.
//
//   - an error: Reconciling=True/ProgressingWithRetry with the error (Ready
//     says Failed); the generation is not handled, the request neither.
//   - stalled: Reconciling removed, Stalled kept, generation handled.
//   - waiting: Reconciling kept (processing generation N), generation not
//     handled: a source object, or discovery, can still unblock it.
//   - rollingOut: Reconciling kept (set by the stage step), generation
//     handled.
//   - held, done: Reconciling removed, generation handled.
//   - suspended: nothing is settled.
//
// Stalled is removed unless the pass stalled.
func (r *Reconciler) finish(ctx context.Context, p *pass, err error) (ctrl.Result, error) {
	obj := p.obj
	if p.end == suspended && err == nil {
		return r.writeStatus(ctx, p, ctrl.Result{}, nil)
	}
	if p.end != stalled || err != nil {
		conditions.Delete(obj, meta.StalledCondition)
	}
	handled := true
	switch {
	case err != nil:
		conditions.MarkReconciling(obj, meta.ProgressingWithRetryReason, "%s", err.Error())
		handled = false
	case p.end == waiting:
		if conditions.GetReason(obj, meta.ReconcilingCondition) == meta.ProgressingWithRetryReason {
			conditions.Delete(obj, meta.ReconcilingCondition)
		}
	case p.end == rollingOut:
		obj.Status.ObservedGeneration = obj.Generation
	default: // done, held, stalled
		conditions.Delete(obj, meta.ReconcilingCondition)
		obj.Status.ObservedGeneration = obj.Generation
	}
	if handled {
		if v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok {
			obj.Status.SetLastHandledReconcileRequest(v)
		}
	}
	result := ctrl.Result{RequeueAfter: p.requeue}
	if err != nil {
		result = ctrl.Result{}
	}
	return r.writeStatus(ctx, p, result, err)
}

func (r *Reconciler) writeStatus(ctx context.Context, p *pass, result ctrl.Result, err error) (ctrl.Result, error) {
	if werr := r.Status.Patch(ctx, p.before, p.obj); werr != nil && !apierrors.IsNotFound(werr) {
		return ctrl.Result{}, errors.Join(err, werr)
	}
	p.before = p.obj.DeepCopy()
	return result, err
}
