package verificationpolicy

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// pass is one reconcile of one policy: what the steps compute, once, and
// hand to each other, and how the pass ended, which finish reads.
type pass struct {
	obj *v1alpha1.VerificationPolicy
	// before is obj as last written, the base of the next status write.
	before *v1alpha1.VerificationPolicy

	rendered  *trustconfig.Result
	selection targets.Selection
	// namespaces are the cache's Namespace objects (read-only).
	namespaces []corev1.Namespace
	// existing are the policy's Secrets in targeted namespaces; stale the
	// ones no longer wanted; snapshot its rollout snapshot, if any.
	existing map[string]*metav1.PartialObjectMetadata
	stale    []*metav1.PartialObjectMetadata
	plan     *rolloutPlan
	report   syncReport
	pruneErr error

	governed     []*checker.Artifact
	governedRead bool

	// How the pass ended (see finish).
	end     ending
	requeue time.Duration
}

// ending is how a pass ended; finish settles the kstatus conditions and
// observedGeneration from it.
type ending int

const (
	// done: the generation is handled; nothing is in progress.
	done ending = iota
	// stalled: only a spec change can fix the input.
	stalled
	// waiting: a source object or the API server's discovery can unblock it;
	// the generation is not handled yet.
	waiting
	// rollingOut: a staged rollout goes on; the generation is handled.
	rollingOut
	// held: a gate holds the new configuration back; the generation is
	// handled, nothing more is written until the gate opens.
	held
	// suspended: spec.suspend; nothing is written and nothing settled.
	suspended
)

// requeueAfter lowers the pass's requeue to d.
func (p *pass) requeueAfter(d time.Duration) {
	if p.requeue == 0 || d < p.requeue {
		p.requeue = d
	}
}

// governedArtifacts returns the policy's artifacts in the targeted
// namespaces, read once per pass (the preflight and the stage gate share
// them).
func (p *pass) governedArtifacts(ctx context.Context, r *Reconciler) ([]*checker.Artifact, error) {
	if p.governedRead {
		return p.governed, nil
	}
	repos, err := r.Checker.Governed(ctx, p.obj, func() (map[string]bool, error) {
		return text.Set(p.selection.Targeted), nil
	})
	if err != nil {
		return nil, err
	}
	p.governed, p.governedRead = repos, true
	return repos, nil
}
