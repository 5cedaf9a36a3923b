package verificationpolicy

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/internal/policystatus"
	"github.com/flux-notation/verification-operator/controllers/ocirepos"
	"github.com/flux-notation/verification-operator/controllers/sources"
	"github.com/flux-notation/verification-operator/controllers/targets"
	"github.com/flux-notation/verification-operator/test/certs"
)

const trustNS = "trust"

// requests counts the writes a fake client receives.
type requests struct {
	secretWrites, statusPatches atomic.Int32
}

// newReconciler returns a Reconciler on a fake client holding objs, with
// the OCIRepository API never discovered (State Unknown). funcs, if set,
// intercept the client's calls (after the counting).
func newReconciler(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) (*Reconciler, client.Client, *requests) {
	t.Helper()
	scheme := runtime.NewScheme()
	NewWithT(t).Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	NewWithT(t).Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
	n := &requests{}
	counting := interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				n.secretWrites.Add(1)
			}
			if funcs != nil && funcs.Create != nil {
				return funcs.Create(ctx, c, obj, opts...)
			}
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				n.secretWrites.Add(1)
			}
			return c.Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			n.statusPatches.Add(1)
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	}
	if funcs != nil {
		counting.List = funcs.List
	}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&v1alpha1.VerificationPolicy{}).
		WithObjects(objs...).
		WithInterceptorFuncs(counting).
		Build()
	r := &Reconciler{
		Client:        c,
		EventRecorder: record.NewFakeRecorder(100),
		Sources:       &sources.Resolver{Namespace: trustNS, Secrets: c, ConfigMaps: c},
		Secrets:       c,
		Contents:      &targets.Contents{Reader: c},
		SecretNames:   []string{v1alpha1.DefaultSecretName},
		Writer:        &targets.Writer{Client: c, APIReader: c, FieldOwner: FieldOwner, Concurrency: 4},
		Status:        &policystatus.Writer{Client: c, Reader: c, Share: policystatus.Sync},
		APIs:          discovery.New(apimeta.NewDefaultRESTMapper(nil), time.Hour),
		Now:           time.Now,

		ConflictRetryInterval:  time.Second,
		RolloutRecheckInterval: time.Minute,
	}
	return r, c, n
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func policy(namespaces ...string) *v1alpha1.VerificationPolicy {
	return &v1alpha1.VerificationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 1, UID: "uid-p"},
		Spec: v1alpha1.VerificationPolicySpec{
			TrustPolicies: []v1alpha1.TrustPolicyStatement{{
				Name: "apps", RegistryScopes: []string{"*"},
				SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"},
				TrustedIdentities:     []string{"*"},
			}},
			Certificates: []v1alpha1.CertificateSource{{Name: "root", Type: v1alpha1.CertificateTypeCA, Inline: string(certs.NewCA("root").PEM())}},
			Target:       v1alpha1.Target{Namespaces: namespaces},
		},
	}
}

func runPass(t *testing.T, r *Reconciler) ctrl.Result {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "p"}})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return res
}

func get(g Gomega, c client.Client) *v1alpha1.VerificationPolicy {
	p := &v1alpha1.VerificationPolicy{}
	g.Expect(c.Get(context.Background(), client.ObjectKey{Name: "p"}, p)).To(Succeed())
	return p
}

func TestAFullPassWritesEveryNamespaceAndSettlesStatus(t *testing.T) {
	g := NewWithT(t)
	r, c, n := newReconciler(t, nil, namespace("a"), namespace("b"), policy("a", "b"))

	res := runPass(t, r)
	g.Expect(res.RequeueAfter).To(Equal(time.Hour), "the full resync")
	got := get(g, c)
	g.Expect(got.Finalizers).To(ContainElement(v1alpha1.FinalizerName))
	g.Expect(got.Status.ObservedGeneration).To(BeEquivalentTo(1))
	g.Expect(got.Status.Namespaces).To(Equal(v1alpha1.NamespaceCounts{Targeted: 2, Synced: 2, Summary: "2/2"}))
	g.Expect(conditions.IsTrue(got, v1alpha1.SecretsSyncedCondition)).To(BeTrue())
	g.Expect(conditions.IsTrue(got, meta.ReadyCondition)).To(BeTrue())
	g.Expect(conditions.Has(got, meta.ReconcilingCondition)).To(BeFalse())
	g.Expect(n.secretWrites.Load()).To(BeEquivalentTo(2))
	// Once to show the new digest being written, once to finish.
	g.Expect(n.statusPatches.Load()).To(BeEquivalentTo(2))
	for _, ns := range []string{"a", "b"} {
		s := &corev1.Secret{}
		g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "notation-config"}, s)).To(Succeed())
		g.Expect(s.Annotations).To(HaveKeyWithValue(v1alpha1.TrustDigestAnnotation, got.Status.TrustDigest))
	}

	// Nothing changed: no write of any kind.
	runPass(t, r)
	g.Expect(n.secretWrites.Load()).To(BeEquivalentTo(2))
	g.Expect(n.statusPatches.Load()).To(BeEquivalentTo(2))
}

func TestInputEndsThePassByWhatCanFixIt(t *testing.T) {
	key := certs.NewCA("signer").KeyPEM()
	cases := []struct {
		name         string
		source       v1alpha1.CertificateSource
		reason       string
		stalled      bool
		handledGen   bool
		requeueAfter time.Duration
	}{
		{"a private key inline: only a spec change fixes it",
			v1alpha1.CertificateSource{Name: "root", Inline: string(key)}, v1alpha1.ReasonPrivateKeyRejected, true, true, 0},
		{"a private key in a source Secret: fixing the Secret fixes it",
			v1alpha1.CertificateSource{Name: "root", SecretRef: &v1alpha1.KeyReference{Name: "keyed", Key: "ca.crt"}}, v1alpha1.ReasonPrivateKeyRejected, false, false, time.Hour},
		{"a missing source: creating it fixes it",
			v1alpha1.CertificateSource{Name: "root", SecretRef: &v1alpha1.KeyReference{Name: "absent", Key: "ca.crt"}}, v1alpha1.ReasonSourceNotFound, false, false, time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			p := policy("a")
			p.Spec.Certificates[0] = tc.source
			p.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "now"}
			keyed := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: trustNS, Name: "keyed"}, Data: map[string][]byte{"ca.crt": key}}
			r, c, n := newReconciler(t, nil, namespace("a"), p, keyed)

			res := runPass(t, r)
			g.Expect(res.RequeueAfter).To(Equal(tc.requeueAfter))
			got := get(g, c)
			g.Expect(n.secretWrites.Load()).To(BeZero(), "bad input wrote a Secret")
			g.Expect(conditions.GetReason(got, v1alpha1.SecretsSyncedCondition)).To(Equal(tc.reason))
			g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(tc.reason))
			g.Expect(conditions.IsTrue(got, meta.StalledCondition)).To(Equal(tc.stalled))
			g.Expect(got.Status.ObservedGeneration == got.Generation).To(Equal(tc.handledGen))
			// Still processing the generation while a source can fix it.
			g.Expect(conditions.IsTrue(got, meta.ReconcilingCondition)).To(Equal(!tc.stalled))
			g.Expect(got.Status.LastHandledReconcileAt).To(Equal("now"))
		})
	}
}

// TestASecretNameNotAllowedWritesNothing: the operator's RBAC covers the
// allowed names only, so a policy targeting another is refused before
// anything is read or written, and its Secrets under the previous name
// stay.
func TestASecretNameNotAllowedWritesNothing(t *testing.T) {
	g := NewWithT(t)
	r, c, n := newReconciler(t, nil, namespace("a"), namespace("b"), policy("a", "b"))
	runPass(t, r)
	g.Expect(n.secretWrites.Load()).To(BeEquivalentTo(2))

	p := get(g, c)
	p.Spec.Target.SecretName = "team-trust"
	p.Generation = 2
	g.Expect(c.Update(context.Background(), p)).To(Succeed())
	res := runPass(t, r)

	got := get(g, c)
	g.Expect(res.RequeueAfter).To(BeZero(), "only a spec change fixes it")
	g.Expect(n.secretWrites.Load()).To(BeEquivalentTo(2), "nothing written under the refused name")
	synced := conditions.Get(got, v1alpha1.SecretsSyncedCondition)
	g.Expect(synced.Reason).To(Equal(v1alpha1.ReasonSecretNameNotAllowed))
	g.Expect(synced.Message).To(And(ContainSubstring(`"team-trust"`), ContainSubstring("--target-secret-names=notation-config")))
	g.Expect(conditions.IsTrue(got, meta.StalledCondition)).To(BeTrue())
	g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(v1alpha1.ReasonSecretNameNotAllowed))
	var events []string
	for len(r.EventRecorder.(*record.FakeRecorder).Events) > 0 {
		events = append(events, <-r.EventRecorder.(*record.FakeRecorder).Events)
	}
	g.Expect(events).To(ContainElement(HavePrefix("Warning SecretNameNotAllowed target.secretName")))

	var left corev1.SecretList
	g.Expect(c.List(context.Background(), &left)).To(Succeed())
	g.Expect(left.Items).To(HaveLen(2), "the last good configuration stays")
	for _, s := range left.Items {
		g.Expect(s.Name).To(Equal("notation-config"))
	}
}

func TestAnErrorIsRetriedAndSaysSo(t *testing.T) {
	g := NewWithT(t)
	failing := &interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		if _, ok := list.(*corev1.NamespaceList); ok {
			return errors.New("the API server is away")
		}
		return c.List(ctx, list, opts...)
	}}
	p := policy("a")
	p.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "now"}
	r, c, _ := newReconciler(t, failing, namespace("a"), p)
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "p"}})
	g.Expect(err).To(MatchError(ContainSubstring("select targets: listing namespaces: the API server is away")))

	got := get(g, c)
	g.Expect(conditions.GetReason(got, meta.ReconcilingCondition)).To(Equal(meta.ProgressingWithRetryReason))
	g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
	g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(meta.FailedReason))
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("the API server is away"))
	g.Expect(got.Status.ObservedGeneration).To(BeZero(), "a failed pass does not handle the generation")
	g.Expect(got.Status.LastHandledReconcileAt).To(BeEmpty(), "nor the request")
}

// A gated rollout of a new digest, right after a start, before discovery
// has looked for the OCIRepository API: it waits, it does not pass.
func TestTheGateWaitsForDiscovery(t *testing.T) {
	g := NewWithT(t)
	p := policy("a")
	p.Spec.Rollout.Preflight = true
	p.Status.TrustDigest = "sha256:deployed"
	r, c, n := newReconciler(t, nil, namespace("a"), p)
	g.Expect(r.APIs.State(schemaOCIRepository())).To(Equal(discovery.Unknown))

	res := runPass(t, r)
	g.Expect(res.RequeueAfter).To(Equal(discoveryRecheck))
	g.Expect(n.secretWrites.Load()).To(BeZero())
	got := get(g, c)
	g.Expect(conditions.GetReason(got, meta.ReconcilingCondition)).To(Equal(v1alpha1.ReasonWaitingForAPIDiscovery))
	g.Expect(got.Status.TrustDigest).To(Equal("sha256:deployed"), "status still describes what is deployed")
	g.Expect(got.Status.ObservedGeneration).To(BeZero())
}

func schemaOCIRepository() schema.GroupVersionKind { return ocirepos.GVK }
