package verificationpolicy

import (
	"context"
	"errors"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
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
	if apierrors.IsConflict(err) {
		// The policy changed since it was read (the read may also have been
		// a stale copy from the cache): redo the pass from a fresh read.
		return r.redo(ctx)
	}
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
	werr := r.Status.Patch(ctx, p.before, p.obj)
	switch {
	case apierrors.IsConflict(werr):
		return r.redo(ctx)
	case werr != nil && !apierrors.IsNotFound(werr):
		return ctrl.Result{}, errors.Join(err, werr)
	}
	p.before = p.obj.DeepCopy()
	return result, err
}

// conflictRetry is how soon a pass whose status write conflicted is redone.
const conflictRetry = 200 * time.Millisecond

// redo schedules the pass again, from a fresh read, without writing the
// status it computed: the sync's status carries rollout progress forward,
// so it is never merged onto a version it was not computed from.
func (r *Reconciler) redo(ctx context.Context) (ctrl.Result, error) {
	log.FromContext(ctx).V(1).Info("the policy changed since it was read; redoing the pass")
	return ctrl.Result{RequeueAfter: conflictRetry}, nil
}
