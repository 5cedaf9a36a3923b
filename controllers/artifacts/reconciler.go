package artifacts

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/checker"
	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/fluxverdict"
	"github.com/flux-notation/verification-operator/controllers/internal/policystatus"
	"github.com/flux-notation/verification-operator/controllers/internal/text"
	"github.com/flux-notation/verification-operator/controllers/targets"
)

// FieldOwner names the companion in managedFields of what it patches.
const FieldOwner = "verification-operator"

// Reconciler is the companion reconciler.
type Reconciler struct {
	client.Client
	// Secrets reads the metadata of the Secrets the sync reconciler wrote
	// (targets.Store), and Contents their data, by digest.
	Secrets       client.Reader
	Contents      *targets.Contents
	Checker       *checker.Checker
	APIs          *discovery.APIs
	EventRecorder kuberecorder.EventRecorder
	// Status writes the verdicts and ArtifactsVerified, with Ready derived
	// from them, in one request.
	Status *policystatus.Writer
	Now    func() time.Time
	// ForceBackoff is the wait before a force Flux answered with the old
	// verdict is made again (fluxverdict.PlanReverify); it doubles after.
	ForceBackoff time.Duration

	// lastOutcome remembers each OCIRepository's last operator-side outcome,
	// to emit an event on a change rather than on every pass.
	lastOutcome sync.Map
	// handledRequests remembers the reconcile.fluxcd.io/requestedAt values
	// (of policies and OCIRepositories) answered with fresh verdicts.
	handledRequests sync.Map
	// changes remembers, for each artifact with a request to Flux still to
	// make, the trust digest and when it was first seen (see
	// fluxverdict.NotBefore). A restarted manager sees the change anew,
	// later, which only delays the request a little.
	changes changesSeen
}

// +kubebuilder:rbac:groups=source.toolkit.fluxcd.io,resources=ocirepositories;helmcharts,verbs=get;list;watch;patch
// (patch: only annotations: reconcile.fluxcd.io/requestedAt after a trust
// change, and our own bookkeeping of the digest seen and when we asked.)
// +kubebuilder:rbac:groups=source.toolkit.fluxcd.io,resources=helmrepositories,verbs=get;list;watch
// (a HelmChart is governed only when built from an OCI HelmRepository,
// whose URL and access settings say where and how to verify the chart.)
//
// Registry credentials (an OCIRepository's spec.secretRef and certSecretRef,
// its ServiceAccount's imagePullSecrets, a HelmRepository's secretRef) can
// have any name in any namespace, so reading them is not in this role: it
// is the optional ClusterRole checker.RegistryCredentialsClusterRole
// (config/components/registry-credentials). Without it, such artifacts get
// Flux's verdict, with reason RegistryCredentialsNotPermitted.

// Reconcile verifies one policy's governed OCIRepositories.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &v1alpha1.VerificationPolicy{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			deleteArtifactMetrics(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() || obj.Spec.Suspend {
		return ctrl.Result{}, nil
	}
	before := obj.DeepCopy()
	defer func() {
		if err := r.Status.Patch(ctx, before, obj); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
	}()

	if served, known := r.anyKindServed(); !served {
		if !known {
			// Discovery runs right after start and kicks every policy.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		obj.Status.Artifacts = v1alpha1.ArtifactCounts{}
		obj.Status.OCIRepositories = v1alpha1.ArtifactCounts{}
		obj.Status.HelmCharts = v1alpha1.ArtifactCounts{}
		obj.Status.ArtifactIssues = nil
		conditions.MarkUnknown(obj, v1alpha1.ArtifactsVerifiedCondition, v1alpha1.ReasonOCIRepositoryAPINotFound,
			"Flux's source APIs (OCIRepository, HelmChart in source.toolkit.fluxcd.io/v1) are not served: install Flux's source-controller; verification starts by itself when they appear")
		return ctrl.Result{}, nil
	}

	artifacts, secrets, err := r.governed(ctx, obj)
	if err != nil {
		conditions.MarkUnknown(obj, v1alpha1.ArtifactsVerifiedCondition, meta.FailedReason, "%s", err.Error())
		return ctrl.Result{}, err
	}
	mode := obj.Spec.OCIRepositories.Reverify
	if mode == "" {
		mode = v1alpha1.ReverifyForce // the API's default
	}
	rv, err := r.reverify(ctx, artifacts, secrets, mode)
	if err != nil {
		return ctrl.Result{}, err
	}
	ttl := checker.CacheTTL(obj)
	outcomes := r.Checker.Check(ctx, obj, artifacts, checker.InPlace(ctx, r.Contents, secrets), checker.Options{
		Enabled: obj.Spec.OCIRepositories.Verification != v1alpha1.VerificationDisabled,
		MaxAge:  ttl,
		Fresh:   r.freshRequests(obj, artifacts),
	})
	asked, err := r.proveFluxVerdicts(ctx, outcomes, secrets, mode, &rv)
	r.report(obj, outcomes, rv)
	if err != nil {
		return ctrl.Result{}, err
	}
	next := r.nextPass(outcomes, rv, ttl)
	if asked {
		// Flux's status change wakes us; this is the backstop.
		next = min(next, r.Checker.Verifier.FailedRecheck())
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// nextPass is how soon to look again: at the cache interval when every
// verdict is in; sooner while something failed or is pending (a re-signed
// artifact is seen within the verifier's FailedRecheck, the cache deciding
// whether a verdict is old enough to re-check), and while a force may have
// to be repeated. Flux's own status changes wake the reconciler anyway.
func (r *Reconciler) nextPass(outcomes []checker.Outcome, rv reverifyResult, ttl time.Duration) time.Duration {
	next := ttl
	for _, o := range outcomes {
		if o.State != checker.Verified {
			next = min(next, r.Checker.Verifier.FailedRecheck())
			break
		}
	}
	if rv.retry > 0 {
		next = min(next, rv.retry)
	}
	return next
}

// freshRequests tells which artifacts a user asked for a fresh verdict of:
// reconcile.fluxcd.io/requestedAt set on the policy (all of them) or on the
// Flux object (that one; not the value the operator set itself), not yet
// handled by this process. Restarting the process empties the verdict
// cache anyway, so remembering the handled values in memory is enough.
func (r *Reconciler) freshRequests(obj *v1alpha1.VerificationPolicy, artifacts []*checker.Artifact) func(*checker.Artifact) bool {
	policyAsked := false
	if v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok {
		if last, _ := r.handledRequests.Load("policy/" + obj.Name); last != v {
			policyAsked = true
			r.handledRequests.Store("policy/"+obj.Name, v)
		}
	}
	asked := map[string]bool{}
	for _, a := range artifacts {
		annotations := a.Object.GetAnnotations()
		v, ok := meta.ReconcileAnnotationValue(annotations)
		if !ok || v == annotations[fluxverdict.ReverifyRequestedAtAnnotation] {
			continue
		}
		if last, _ := r.handledRequests.Load(a.ID()); last != v {
			asked[a.ID()] = true
			r.handledRequests.Store(a.ID(), v)
		}
	}
	return func(a *checker.Artifact) bool { return policyAsked || asked[a.ID()] }
}

// anyKindServed reports whether the API of a governed kind is served, and
// whether that is known yet.
func (r *Reconciler) anyKindServed() (served, known bool) {
	for _, k := range checker.Kinds {
		switch r.kindState(k) {
		case discovery.Served:
			return true, true
		case discovery.NotServed:
			known = true
		}
	}
	return false, known
}

// kindState is what discovery knows of a kind.
func (r *Reconciler) kindState(k checker.Kind) discovery.State {
	return checker.KindState(r.APIs, k)
}

// governed returns the policy's artifacts and its Secrets (metadata) by
// namespace, working out the targeted namespaces only when there is a
// candidate.
func (r *Reconciler) governed(ctx context.Context, obj *v1alpha1.VerificationPolicy) ([]*checker.Artifact, map[string]*metav1.PartialObjectMetadata, error) {
	artifacts, err := r.Checker.Governed(ctx, obj, func() (map[string]bool, error) {
		sel, _, err := targets.SelectNamespaces(ctx, r.Client, obj.Spec.Target)
		return text.Set(sel.Targeted), err
	})
	if err != nil || len(artifacts) == 0 {
		return nil, map[string]*metav1.PartialObjectMetadata{}, err
	}
	list, err := targets.ListOurs(ctx, r.Secrets, obj.Name, client.UnsafeDisableDeepCopy)
	if err != nil {
		return nil, nil, err
	}
	secrets := map[string]*metav1.PartialObjectMetadata{}
	for i := range list {
		if s := &list[i]; s.Name == obj.SecretName() && !targets.IsBookkeeping(s) {
			secrets[s.Namespace] = s
		}
	}
	return artifacts, secrets, nil
}

// forget drops what is remembered of a deleted Flux object.
func (r *Reconciler) forget(kind checker.Kind, namespace, name string) {
	id := string(kind) + "/" + namespace + "/" + name
	r.lastOutcome.Delete(id)
	r.handledRequests.Delete(id)
}
