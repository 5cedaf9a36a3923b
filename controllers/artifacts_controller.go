package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/internal/policystatus"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/verify"
)

// Reasons of the ArtifactsVerified condition and of ociRepositoryIssues.
const (
	ReasonOCIRepositoryAPINotFound = "OCIRepositoryAPINotFound"
	ReasonArtifactsFailed          = "VerificationFailed"
	ReasonArtifactsPending         = "VerificationPending"
	ReasonDelegatedToFlux          = "VerificationDelegatedToFlux"
	ReasonTrustSecretMissing       = "TrustSecretNotSynced"
	ReasonRegistryAccess           = "RegistryAccessInvalid"
	ReasonFluxStale                = "FluxResultStale"
	ReasonFluxFailed               = "FluxVerificationFailed"
)

// ArtifactReconciler is the companion reconciler: for each policy it finds
// the Flux OCIRepositories that verify with the policy's Secret, asks Flux
// to reconcile them after a trust change, verifies them itself with
// notation-go exactly as Flux would, and aggregates the outcome on the
// policy. It runs in its own workers, so a slow registry never delays the
// Secret sync.
type ArtifactReconciler struct {
	client.Client
	*ArtifactChecker
	EventRecorder kuberecorder.EventRecorder
	Now           func() time.Time
	// Status writes the verdicts and ArtifactsVerified, with Ready derived
	// from them, in one request.
	Status *policystatus.Writer

	// lastOutcome remembers each OCIRepository's last operator-side outcome,
	// to emit an event on a change rather than on every pass.
	lastOutcome sync.Map
}

// +kubebuilder:rbac:groups=source.toolkit.fluxcd.io,resources=ocirepositories,verbs=get;list;watch;patch
// (patch: only annotations: reconcile.fluxcd.io/requestedAt after a trust
// change, and our own bookkeeping of the digest seen and when we asked.)
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get
// (the imagePullSecrets of an OCIRepository's spec.serviceAccountName, read
// uncached, as source-controller does.)

// Reconcile verifies one policy's governed OCIRepositories.
func (r *ArtifactReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &v1alpha1.VerificationPolicy{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
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

	if !r.APIServed() {
		obj.Status.OCIRepositories = v1alpha1.OCIRepositoryCounts{}
		obj.Status.OCIRepositoryIssues = nil
		conditions.MarkUnknown(obj, v1alpha1.ArtifactsVerifiedCondition, ReasonOCIRepositoryAPINotFound,
			"the OCIRepository API (source.toolkit.fluxcd.io/v1) is not served: install Flux's source-controller; verification starts by itself when it appears")
		return ctrl.Result{}, nil
	}

	repos, secrets, err := r.Governed(ctx, obj)
	if err != nil {
		conditions.MarkUnknown(obj, v1alpha1.ArtifactsVerifiedCondition, meta.FailedReason, "%s", err.Error())
		return ctrl.Result{}, err
	}

	if err := r.requestReconciles(ctx, repos, secrets, obj.Spec.OCIRepositories.Reverify != v1alpha1.ReverifyNone); err != nil {
		return ctrl.Result{}, err
	}

	outcomes := r.Check(ctx, obj, repos, secretsTrust(secrets),
		obj.Spec.OCIRepositories.Verification != v1alpha1.VerificationDisabled, cacheTTL(obj))
	r.report(obj, outcomes)
	return ctrl.Result{RequeueAfter: cacheTTL(obj)}, nil
}

// requestReconciles asks Flux, once per trust change of a namespace's
// Secret, to reconcile each governed OCIRepository there. First sight only
// records the digest: nothing changed that Flux must hear about.
func (r *ArtifactReconciler) requestReconciles(ctx context.Context, repos []*ocirepos.Repository, secrets map[string]*corev1.Secret, reverify bool) error {
	var errs []error
	now := r.Now()
	for _, repo := range repos {
		s := secrets[repo.Namespace]
		if s == nil {
			continue
		}
		digest := s.Annotations[v1alpha1.TrustDigestAnnotation]
		annotations := map[string]string{ocirepos.ReverifiedDigestAnnotation: digest}
		switch ocirepos.NextAction(repo, digest) {
		case ocirepos.Nothing:
			continue
		case ocirepos.Request:
			if reverify {
				maps.Copy(annotations, ocirepos.RequestAnnotations(repo, now))
			}
		}
		// Guarded by the resourceVersion read: the baseline recorded is
		// exactly Flux's verdict at the moment of the request. A conflict
		// (Flux wrote status meanwhile) is retried with the newer read.
		body, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations": annotations, "resourceVersion": repo.ResourceVersion}})
		if err != nil {
			return err
		}
		u := ocirepos.New()
		u.SetNamespace(repo.Namespace)
		u.SetName(repo.Name)
		if err := r.Patch(ctx, u, client.RawPatch(types.MergePatchType, body), client.FieldOwner(FieldOwner)); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("annotating OCIRepository %s: %w", key(repo), err))
			continue
		}
		if repo.Annotations == nil {
			repo.Annotations = map[string]string{}
		}
		maps.Copy(repo.Annotations, annotations)
	}
	return errors.Join(errs...)
}

// report aggregates outcomes into status, conditions and events.
func (r *ArtifactReconciler) report(obj *v1alpha1.VerificationPolicy, outcomes []outcome) {
	var counts v1alpha1.OCIRepositoryCounts
	var issues []v1alpha1.OCIRepositoryIssue
	addIssue := func(o outcome, reason, msg string) {
		if len(issues) < maxIssues {
			issues = append(issues, v1alpha1.OCIRepositoryIssue{Namespace: o.repo.Namespace, Name: o.repo.Name, Reason: reason, Message: truncate(msg, 512)})
		}
	}
	var failed []string
	for _, o := range outcomes {
		counts.Matched++
		switch o.state {
		case "verified":
			counts.Verified++
		case "failed":
			counts.Failed++
			failed = append(failed, fmt.Sprintf("%s (%s)", key(o.repo), o.reason))
			addIssue(o, o.reason, o.msg)
		default:
			counts.Pending++
			addIssue(o, o.reason, o.msg)
		}
		if o.flux.Verified {
			counts.FluxVerified++
		}
		if o.flux.Stale {
			counts.FluxStale++
			if o.state != "failed" {
				addIssue(o, ReasonFluxStale, "Flux reports SourceVerified=True from before the last trust change; source-controller before v1.10 re-verifies only on a new revision or generation")
			}
		}
		r.emitOutcomeEvent(o)
	}
	obj.Status.OCIRepositories = counts
	obj.Status.OCIRepositoryIssues = issues

	stale := ""
	if counts.FluxStale > 0 {
		stale = fmt.Sprintf("; Flux's result is stale for %d", counts.FluxStale)
	}
	switch {
	case counts.Failed > 0:
		conditions.MarkFalse(obj, v1alpha1.ArtifactsVerifiedCondition, ReasonArtifactsFailed,
			"%d of %d OCIRepositories fail verification: %s%s", counts.Failed, counts.Matched, listUpTo(failed, 5), stale)
	case counts.Pending > 0:
		conditions.MarkUnknown(obj, v1alpha1.ArtifactsVerifiedCondition, ReasonArtifactsPending,
			"%d of %d OCIRepositories verified, %d pending%s", counts.Verified, counts.Matched, counts.Pending, stale)
	case counts.Matched == 0:
		conditions.MarkTrue(obj, v1alpha1.ArtifactsVerifiedCondition, meta.SucceededReason,
			"no OCIRepository in the target namespaces verifies with Secret %q", obj.SecretName())
	default:
		conditions.MarkTrue(obj, v1alpha1.ArtifactsVerifiedCondition, meta.SucceededReason,
			"%d/%d OCIRepositories verified%s", counts.Verified, counts.Matched, stale)
	}
}

// emitOutcomeEvent puts our verdict next to Flux's own events on the
// OCIRepository, once per change.
func (r *ArtifactReconciler) emitOutcomeEvent(o outcome) {
	if o.ours == nil {
		return
	}
	k := key(o.repo)
	prev, seen := r.lastOutcome.Load(k)
	cur := string(o.ours.Outcome) + "/" + o.ours.Reason + "/" + o.ours.Digest
	r.lastOutcome.Store(k, cur)
	if seen && prev == cur {
		return
	}
	u := ocirepos.New()
	u.SetNamespace(o.repo.Namespace)
	u.SetName(o.repo.Name)
	u.SetUID(o.repo.UID)
	u.SetResourceVersion(o.repo.ResourceVersion)
	switch o.ours.Outcome {
	case verify.Failed:
		r.EventRecorder.Eventf(u, corev1.EventTypeWarning, "VerificationFailed",
			"verification-operator: %s: %s", o.ours.Reason, truncate(o.ours.Message, 512))
	case verify.Verified:
		if seen {
			r.EventRecorder.Eventf(u, corev1.EventTypeNormal, "VerificationSucceeded",
				"verification-operator: verified the signature of %s with the current trust configuration", o.ours.Digest)
		}
	}
}

func (r *ArtifactReconciler) forget(namespace, name string) {
	r.lastOutcome.Delete(namespace + "/" + name)
}

func reference(repo *ocirepos.Repository) verify.Reference {
	if repo.Spec.Reference == nil {
		return verify.Reference{}
	}
	ref := repo.Spec.Reference
	return verify.Reference{Digest: ref.Digest, SemVer: ref.SemVer, SemverFilter: ref.SemverFilter, Tag: ref.Tag}
}

func revision(repo *ocirepos.Repository) string {
	if repo.Status.Artifact == nil {
		return ""
	}
	return repo.Status.Artifact.Revision
}

func isCloudProvider(p string) bool {
	return p == "aws" || p == "azure" || p == "gcp"
}

func cacheTTL(obj *v1alpha1.VerificationPolicy) time.Duration {
	if i := obj.Spec.OCIRepositories.Interval; i != nil && i.Duration > 0 {
		return i.Duration
	}
	return 10 * time.Minute
}

func key(repo *ocirepos.Repository) string { return repo.Namespace + "/" + repo.Name }

func listUpTo(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
