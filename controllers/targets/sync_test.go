package targets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

const fieldOwner = "verification-operator"

func newScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	g := NewWithT(t)
	g.Expect(clientgoscheme.AddToScheme(s)).To(Succeed())
	g.Expect(v1alpha1.AddToScheme(s)).To(Succeed())
	return s
}

// recorder counts the Secret writes a fake client is asked for and can make
// some of them fail, as the API server would.
type recorder struct {
	creates, updates, deletes, gets atomic.Int32

	failCreate func(obj client.Object) error
	failUpdate func(obj client.Object) error
	failGet    func(key client.ObjectKey) error
	failDelete func(ctx context.Context, c client.WithWatch, obj client.Object, opts *client.DeleteOptions) error

	mu          sync.Mutex
	fieldOwners []string
	deleteOpts  map[string]client.DeleteOptions
}

func (r *recorder) noteOwner(opts []client.CreateOption, uopts []client.UpdateOption) {
	var owner string
	if opts != nil {
		o := &client.CreateOptions{}
		o.ApplyOptions(opts)
		owner = o.FieldManager
	} else {
		o := &client.UpdateOptions{}
		o.ApplyOptions(uopts)
		owner = o.FieldManager
	}
	r.mu.Lock()
	r.fieldOwners = append(r.fieldOwners, owner)
	r.mu.Unlock()
}

func (r *recorder) client(t *testing.T, objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				r.creates.Add(1)
				r.noteOwner(append([]client.CreateOption{}, opts...), nil)
				if r.failCreate != nil {
					if err := r.failCreate(obj); err != nil {
						return err
					}
				}
				return c.Create(ctx, obj, opts...)
			},
			Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				r.updates.Add(1)
				r.noteOwner(nil, opts)
				if r.failUpdate != nil {
					if err := r.failUpdate(obj); err != nil {
						return err
					}
				}
				return c.Update(ctx, obj, opts...)
			},
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				r.gets.Add(1)
				if r.failGet != nil {
					if err := r.failGet(key); err != nil {
						return err
					}
				}
				return c.Get(ctx, key, obj, opts...)
			},
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				r.deletes.Add(1)
				o := client.DeleteOptions{}
				o.ApplyOptions(opts)
				r.mu.Lock()
				if r.deleteOpts == nil {
					r.deleteOpts = map[string]client.DeleteOptions{}
				}
				r.deleteOpts[obj.GetNamespace()+"/"+obj.GetName()] = o
				r.mu.Unlock()
				if r.failDelete != nil {
					if err := r.failDelete(ctx, c, obj, &o); err != nil {
						return err
					}
				}
				return c.Delete(ctx, obj, opts...)
			},
		}).Build()
}

func newWriter(c client.Client) *Writer {
	return &Writer{Client: c, APIReader: c, FieldOwner: fieldOwner, Concurrency: 4}
}

func getSecret(t *testing.T, c client.Reader, ns, name string) *corev1.Secret {
	s := &corev1.Secret{}
	NewWithT(t).Expect(c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, s)).To(Succeed())
	return s
}

func secretExists(t *testing.T, c client.Reader, ns, name string) bool {
	err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &corev1.Secret{})
	if apierrors.IsNotFound(err) {
		return false
	}
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return true
}

// cacheOf reads back the policy's Secrets as Store would hold them: their
// metadata, through Store's transform.
func cacheOf(t *testing.T, c client.Reader, name string, namespaces ...string) map[string]*metav1.PartialObjectMetadata {
	out := map[string]*metav1.PartialObjectMetadata{}
	for _, ns := range namespaces {
		out[ns] = metaOf(t, getSecret(t, c, ns, name))
	}
	return out
}

// metaOf is s as Store caches it.
func metaOf(t *testing.T, s *corev1.Secret) *metav1.PartialObjectMetadata {
	m := NewSecretMeta()
	m.ObjectMeta = *s.ObjectMeta.DeepCopy()
	got, err := stripManagedFields(fieldOwner)(m)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return got.(*metav1.PartialObjectMetadata)
}

// proven marks m as Store's transform does when managedFields show only
// our field manager wrote the data (intact_test.go tests that part).
func proven(m *metav1.PartialObjectMetadata, keys ...string) *metav1.PartialObjectMetadata {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	slices.Sort(keys)
	m.Annotations[intactKeysAnnotation] = strings.Join(append([]string{intactMark}, keys...), "\n")
	return m
}

func metasOf(t *testing.T, secrets ...*corev1.Secret) []*metav1.PartialObjectMetadata {
	var out []*metav1.PartialObjectMetadata
	for _, s := range secrets {
		out = append(out, metaOf(t, s))
	}
	return out
}

func namespacesOf(outcomes []Outcome) []string {
	var out []string
	for _, o := range outcomes {
		out = append(out, o.Namespace)
	}
	return out
}

func syncPolicy() *v1alpha1.VerificationPolicy {
	return testPolicy("pol", "uid-1", v1alpha1.Target{
		Labels:      map[string]string{"team": "a"},
		Annotations: map[string]string{"note": "n"},
	})
}

func TestSyncCreatesMissingSecrets(t *testing.T) {
	g := NewWithT(t)
	rec := &recorder{}
	c := rec.client(t)
	tmpl := testTemplate(syncPolicy(), testData)

	outcomes := newWriter(c).Sync(context.Background(), tmpl, []string{"c", "a", "b"}, nil)

	g.Expect(outcomes).To(Equal([]Outcome{
		{Namespace: "a", State: Synced, Wrote: true},
		{Namespace: "b", State: Synced, Wrote: true},
		{Namespace: "c", State: Synced, Wrote: true},
	}))
	g.Expect(rec.creates.Load()).To(BeEquivalentTo(3))
	g.Expect(rec.updates.Load()).To(BeEquivalentTo(0))
	g.Expect(rec.fieldOwners).To(HaveEach(fieldOwner))
	for _, ns := range []string{"a", "b", "c"} {
		live := getSecret(t, c, ns, v1alpha1.DefaultSecretName)
		g.Expect(UpToDate(live, tmpl.Desired(ns))).To(BeTrue(), ns)
		g.Expect(IsOwnedBy(live, "pol")).To(BeTrue(), ns)
		g.Expect(live.Data).To(Equal(testData), ns)
	}
	g.Expect(tmpl.Data).To(Equal(testData), "the template's data is not modified")
}

func TestSyncNoWriteWhenUpToDate(t *testing.T) {
	g := NewWithT(t)
	rec := &recorder{}
	c := rec.client(t)
	tmpl := testTemplate(syncPolicy(), testData)
	w := newWriter(c)
	namespaces := []string{"a", "b", "c"}
	g.Expect(w.Sync(context.Background(), tmpl, namespaces, nil)).To(HaveEach(HaveField("State", Synced)))
	rec.creates.Store(0)
	rec.gets.Store(0)
	synced := []Outcome{{Namespace: "a", State: Synced}, {Namespace: "b", State: Synced}, {Namespace: "c", State: Synced}}

	// Seen in the cache with the data proven intact: no API call at all.
	proof := cacheOf(t, c, v1alpha1.DefaultSecretName, namespaces...)
	for _, m := range proof {
		proven(m, "trustpolicy.json", "ca-roots.pem")
	}
	rec.gets.Store(0)
	g.Expect(newWriter(c).Sync(context.Background(), tmpl, namespaces, proof)).To(Equal(synced))
	g.Expect(rec.creates.Load() + rec.updates.Load() + rec.gets.Load()).To(BeZero())

	// Without the proof each Secret is read once, found as desired, and
	// remembered at that resourceVersion: no write, and no second read.
	outcomes := w.Sync(context.Background(), tmpl, namespaces, cacheOf(t, c, v1alpha1.DefaultSecretName, namespaces...))
	g.Expect(outcomes).To(Equal(synced))
	g.Expect(rec.creates.Load()).To(BeEquivalentTo(0))
	g.Expect(rec.updates.Load()).To(BeEquivalentTo(0))
	reads := rec.gets.Load()
	g.Expect(w.Sync(context.Background(), tmpl, namespaces, cacheOf(t, c, v1alpha1.DefaultSecretName, namespaces...))).To(Equal(synced))
	g.Expect(rec.gets.Load()-reads).To(BeEquivalentTo(3), "cacheOf's own reads only")

	// Extra metadata other tools add does not cause a write either.
	cached := cacheOf(t, c, v1alpha1.DefaultSecretName, namespaces...)
	cached["b"].Labels["kustomize.toolkit.fluxcd.io/name"] = "apps"
	cached["b"].Annotations["example.com/checked"] = "yes"
	g.Expect(w.Sync(context.Background(), tmpl, namespaces, cached)).To(HaveEach(HaveField("Wrote", false)))
	g.Expect(rec.updates.Load()).To(BeEquivalentTo(0))

	// Not in the cache yet (it has not caught up with our own create): the
	// create is refused, the live Secret is read and found up to date, so
	// nothing is written.
	outcomes = w.Sync(context.Background(), tmpl, namespaces, nil)
	g.Expect(outcomes).To(Equal([]Outcome{
		{Namespace: "a", State: Synced}, {Namespace: "b", State: Synced}, {Namespace: "c", State: Synced},
	}))
	g.Expect(rec.updates.Load()).To(BeEquivalentTo(0))
}

func TestSyncUpdatesDriftedSecret(t *testing.T) {
	cases := []struct {
		name  string
		drift func(s *corev1.Secret)
	}{
		{"hand-edited data, digest annotation kept", func(s *corev1.Secret) { s.Data["ca-roots.pem"] = []byte("tampered") }},
		{"managed label changed", func(s *corev1.Secret) { s.Labels["team"] = "b" }},
		{"managed annotation removed", func(s *corev1.Secret) { delete(s.Annotations, "note") }},
		{"owner reference removed", func(s *corev1.Secret) { s.OwnerReferences = nil }},
	}
	for _, cached := range []bool{true, false} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s, in cache %v", tc.name, cached), func(t *testing.T) {
				g := NewWithT(t)
				tmpl := testTemplate(syncPolicy(), testData)
				drifted := tmpl.Desired("a")
				drifted.Data = map[string][]byte{"trustpolicy.json": testData["trustpolicy.json"], "ca-roots.pem": testData["ca-roots.pem"]}
				tc.drift(drifted)
				drifted.Labels["foreign"] = "kept"
				drifted.OwnerReferences = append(drifted.OwnerReferences, foreignRef)
				rec := &recorder{}
				c := rec.client(t, drifted)
				var existing map[string]*metav1.PartialObjectMetadata
				if cached {
					existing = cacheOf(t, c, v1alpha1.DefaultSecretName, "a")
				}

				outcomes := newWriter(c).Sync(context.Background(), tmpl, []string{"a"}, existing)

				g.Expect(outcomes).To(Equal([]Outcome{{Namespace: "a", State: Synced, Wrote: true}}))
				g.Expect(rec.updates.Load()).To(BeEquivalentTo(1))
				g.Expect(rec.fieldOwners).To(HaveEach(fieldOwner))
				live := getSecret(t, c, "a", v1alpha1.DefaultSecretName)
				g.Expect(UpToDate(live, tmpl.Desired("a"))).To(BeTrue())
				g.Expect(live.Labels).To(HaveKeyWithValue("foreign", "kept"))
				g.Expect(live.OwnerReferences).To(ContainElement(foreignRef))
			})
		}
	}
}

// An update carries the resourceVersion it was computed from: a Secret
// changed since the cache saw it is not overwritten.
func TestSyncUpdateIsConditional(t *testing.T) {
	g := NewWithT(t)
	tmpl := testTemplate(syncPolicy(), testData)
	old := tmpl.Desired("a")
	old.Data = map[string][]byte{"old.pem": []byte("old")}
	old.Annotations[v1alpha1.TrustDigestAnnotation] = "sha256:old" // the configuration before a rotation
	rec := &recorder{}
	c := rec.client(t, old)
	stale := cacheOf(t, c, v1alpha1.DefaultSecretName, "a")

	changed := getSecret(t, c, "a", v1alpha1.DefaultSecretName)
	changed.Labels["touched"] = "by someone else"
	g.Expect(c.Update(context.Background(), changed)).To(Succeed())
	rec.updates.Store(0)

	outcomes := newWriter(c).Sync(context.Background(), tmpl, []string{"a"}, stale)
	g.Expect(outcomes).To(HaveLen(1))
	g.Expect(outcomes[0].State).To(Equal(Failed))
	g.Expect(outcomes[0].Reason).To(Equal(v1alpha1.ReasonWriteFailed))
	g.Expect(outcomes[0].Message).To(HavePrefix("update failed: "))
	g.Expect(getSecret(t, c, "a", v1alpha1.DefaultSecretName)).To(Equal(changed))
}

func TestSyncConflicts(t *testing.T) {
	cases := []struct {
		name        string
		labels      map[string]string
		wantMessage string
	}{
		{"a user's Secret", nil,
			`Secret a/notation-config exists and is not managed by this policy; it is left untouched`},
		{"a user's Secret with unrelated labels", map[string]string{"app": "x"},
			`Secret a/notation-config exists and is not managed by this policy; it is left untouched`},
		{"another manager's Secret claiming our policy", map[string]string{v1alpha1.ManagedByLabel: "helm", v1alpha1.PolicyLabel: "pol"},
			`Secret a/notation-config exists and is not managed by this policy; it is left untouched`},
		{"another policy's Secret", map[string]string{v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "other"},
			`Secret a/notation-config is managed by VerificationPolicy "other", which wrote it first`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			inTheWay := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: "a", Name: v1alpha1.DefaultSecretName, UID: "user-uid", Labels: tc.labels,
					Annotations: map[string]string{"owner": "someone"},
				},
				Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{"tls.crt": []byte("crt"), "tls.key": []byte("key")},
			}
			rec := &recorder{}
			c := rec.client(t, inTheWay)
			before := getSecret(t, c, "a", v1alpha1.DefaultSecretName)
			tmpl := testTemplate(syncPolicy(), testData)

			outcomes := newWriter(c).Sync(context.Background(), tmpl, []string{"b", "a"}, nil)

			g.Expect(outcomes).To(Equal([]Outcome{
				{Namespace: "a", State: Conflicted, Reason: v1alpha1.ReasonSecretConflict, Message: tc.wantMessage},
				{Namespace: "b", State: Synced, Wrote: true},
			}))
			g.Expect(rec.updates.Load()).To(BeEquivalentTo(0), "no update is attempted")
			g.Expect(getSecret(t, c, "a", v1alpha1.DefaultSecretName)).To(Equal(before), "left byte-for-byte untouched")
		})
	}
}

func TestSyncFailuresAreIsolated(t *testing.T) {
	boom := errors.New("boom")
	tmpl := testTemplate(syncPolicy(), testData)
	drifted := tmpl.Desired("b")
	drifted.Data = map[string][]byte{"old.pem": []byte("old")}
	inB := func(key string) bool { return key == "b" }
	cases := []struct {
		name        string
		objs        []client.Object
		cached      bool
		setup       func(r *recorder)
		wantMessage string
	}{
		{"create refused", nil, false, func(r *recorder) {
			r.failCreate = func(obj client.Object) error {
				if inB(obj.GetNamespace()) {
					return boom
				}
				return nil
			}
		}, "create failed: boom"},
		{"create forbidden", nil, false, func(r *recorder) {
			r.failCreate = func(obj client.Object) error {
				if inB(obj.GetNamespace()) {
					return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, obj.GetName(), errors.New("no"))
				}
				return nil
			}
		}, `create failed: secrets "notation-config" is forbidden: no`},
		{"update refused", []client.Object{drifted}, true, func(r *recorder) {
			r.failUpdate = func(obj client.Object) error {
				if inB(obj.GetNamespace()) {
					return boom
				}
				return nil
			}
		}, "update failed: boom"},
		{"live read refused after AlreadyExists", []client.Object{drifted}, false, func(r *recorder) {
			r.failGet = func(key client.ObjectKey) error {
				if inB(key.Namespace) {
					return boom
				}
				return nil
			}
		}, "read failed: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			rec := &recorder{}
			c := rec.client(t, tc.objs...)
			var existing map[string]*metav1.PartialObjectMetadata
			if tc.cached {
				existing = cacheOf(t, c, v1alpha1.DefaultSecretName, "b")
			}
			tc.setup(rec)

			outcomes := newWriter(c).Sync(context.Background(), tmpl, []string{"c", "b", "a"}, existing)

			g.Expect(outcomes).To(Equal([]Outcome{
				{Namespace: "a", State: Synced, Wrote: true},
				{Namespace: "b", State: Failed, Reason: v1alpha1.ReasonWriteFailed, Message: tc.wantMessage},
				{Namespace: "c", State: Synced, Wrote: true},
			}))
			for _, ns := range []string{"a", "c"} {
				g.Expect(UpToDate(getSecret(t, c, ns, v1alpha1.DefaultSecretName), tmpl.Desired(ns))).To(BeTrue(), ns)
			}
		})
	}
}

func TestSyncManyNamespacesSorted(t *testing.T) {
	for _, concurrency := range []int{0, 1, 3, 64} {
		t.Run(fmt.Sprint(concurrency), func(t *testing.T) {
			g := NewWithT(t)
			rec := &recorder{}
			c := rec.client(t)
			w := newWriter(c)
			w.Concurrency = concurrency
			var namespaces []string
			for i := range 25 {
				namespaces = append(namespaces, fmt.Sprintf("ns-%02d", (i*7)%25))
			}
			outcomes := w.Sync(context.Background(), testTemplate(syncPolicy(), testData), namespaces, nil)
			g.Expect(outcomes).To(HaveLen(25))
			g.Expect(outcomes).To(HaveEach(HaveField("State", Synced)))
			got := namespacesOf(outcomes)
			g.Expect(sort.StringsAreSorted(got)).To(BeTrue(), "%v", got)
			g.Expect(got).To(ConsistOf(namespaces))
			g.Expect(rec.creates.Load()).To(BeEquivalentTo(25))
		})
	}
}

func TestSyncNoNamespaces(t *testing.T) {
	g := NewWithT(t)
	rec := &recorder{}
	outcomes := newWriter(rec.client(t)).Sync(context.Background(), testTemplate(syncPolicy(), testData), nil, nil)
	g.Expect(outcomes).To(BeEmpty())
	g.Expect(rec.creates.Load()).To(BeEquivalentTo(0))
}

func ownedSecret(ns string, uid types.UID) *corev1.Secret {
	s := testTemplate(syncPolicy(), testData).Desired(ns)
	s.UID = uid
	s.Labels["foreign"] = "f"
	s.OwnerReferences = append(s.OwnerReferences, foreignRef)
	return s
}

func TestPrune(t *testing.T) {
	g := NewWithT(t)
	rec := &recorder{}
	c := rec.client(t, ownedSecret("a", "uid-a"), ownedSecret("b", "uid-b"), ownedSecret("keep", "uid-keep"))
	listed := metasOf(t, getSecret(t, c, "a", v1alpha1.DefaultSecretName), getSecret(t, c, "b", v1alpha1.DefaultSecretName))

	g.Expect(newWriter(c).Prune(context.Background(), listed)).To(Succeed())

	g.Expect(secretExists(t, c, "a", v1alpha1.DefaultSecretName)).To(BeFalse())
	g.Expect(secretExists(t, c, "b", v1alpha1.DefaultSecretName)).To(BeFalse())
	g.Expect(secretExists(t, c, "keep", v1alpha1.DefaultSecretName)).To(BeTrue())
	for _, s := range listed {
		o := rec.deleteOpts[s.Namespace+"/"+s.Name]
		g.Expect(o.Preconditions).NotTo(BeNil(), s.Namespace)
		g.Expect(o.Preconditions.UID).To(HaveValue(Equal(s.UID)), s.Namespace)
		g.Expect(o.Preconditions.ResourceVersion).To(HaveValue(Equal(s.ResourceVersion)), s.Namespace)
		g.Expect(*o.Preconditions.ResourceVersion).NotTo(BeEmpty())
	}

	// Already gone: nothing to do.
	g.Expect(newWriter(c).Prune(context.Background(), listed)).To(Succeed())
	g.Expect(newWriter(c).Prune(context.Background(), nil)).To(Succeed())
}

// The fake client checks a resourceVersion precondition but not a UID one;
// checkUID adds what the API server does.
func checkUID(ctx context.Context, c client.WithWatch, obj client.Object, o *client.DeleteOptions) error {
	if o.Preconditions == nil || o.Preconditions.UID == nil {
		return nil
	}
	live := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		return err
	}
	if live.UID != *o.Preconditions.UID {
		return apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, obj.GetName(),
			fmt.Errorf("precondition failed: UID in precondition: %s, UID in object meta: %s", *o.Preconditions.UID, live.UID))
	}
	return nil
}

func TestPruneNeverDeletesAReplacement(t *testing.T) {
	g := NewWithT(t)
	rec := &recorder{failDelete: checkUID}
	replacement := ownedSecret("a", "uid-new")
	c := rec.client(t, replacement, ownedSecret("b", "uid-b"))
	// What was listed before the Secret was deleted and re-created: same
	// name, same resourceVersion as far as the fake knows, another UID.
	listedA := getSecret(t, c, "a", v1alpha1.DefaultSecretName)
	listedA.UID = "uid-old"
	listedB := getSecret(t, c, "b", v1alpha1.DefaultSecretName)

	err := newWriter(c).Prune(context.Background(), metasOf(t, listedA, listedB))

	g.Expect(err).To(HaveOccurred())
	g.Expect(apierrors.IsConflict(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("a/notation-config: "))
	g.Expect(getSecret(t, c, "a", v1alpha1.DefaultSecretName).UID).To(Equal(types.UID("uid-new")), "the replacement is kept")
	g.Expect(secretExists(t, c, "b", v1alpha1.DefaultSecretName)).To(BeFalse(), "a failure does not stop the others")
}

func TestPruneNeverDeletesAChangedSecret(t *testing.T) {
	g := NewWithT(t)
	rec := &recorder{}
	c := rec.client(t, ownedSecret("a", "uid-a"))
	listed := getSecret(t, c, "a", v1alpha1.DefaultSecretName)
	changed := listed.DeepCopy()
	changed.Labels["touched"] = "yes"
	g.Expect(c.Update(context.Background(), changed)).To(Succeed())

	err := newWriter(c).Prune(context.Background(), metasOf(t, listed))

	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(HavePrefix("a/notation-config: "))
	g.Expect(secretExists(t, c, "a", v1alpha1.DefaultSecretName)).To(BeTrue())
}

func TestRelease(t *testing.T) {
	g := NewWithT(t)
	rec := &recorder{}
	c := rec.client(t, ownedSecret("a", "uid-a"), ownedSecret("b", "uid-b"))
	listed := metasOf(t, getSecret(t, c, "a", v1alpha1.DefaultSecretName), getSecret(t, c, "b", v1alpha1.DefaultSecretName))

	g.Expect(newWriter(c).Release(context.Background(), listed)).To(Succeed())

	g.Expect(rec.updates.Load()).To(BeEquivalentTo(2))
	g.Expect(rec.fieldOwners).To(HaveEach(fieldOwner))
	for _, ns := range []string{"a", "b"} {
		live := getSecret(t, c, ns, v1alpha1.DefaultSecretName)
		g.Expect(live.Labels).To(Equal(map[string]string{"team": "a", "foreign": "f"}), ns)
		g.Expect(live.Annotations).To(Equal(map[string]string{"note": "n"}), ns)
		g.Expect(live.OwnerReferences).To(Equal([]metav1.OwnerReference{foreignRef}), ns)
		g.Expect(live.Data).To(Equal(testData), ns)
		g.Expect(PolicyOfSecret(context.Background(), live)).To(BeEmpty(), ns)
	}
	g.Expect(listed[0].Labels).To(HaveKey(v1alpha1.ManagedByLabel), "the inputs are not modified")

	// Gone already: nothing to release.
	c2 := (&recorder{}).client(t)
	g.Expect(newWriter(c2).Release(context.Background(), metasOf(t, ownedSecret("x", "uid-x")))).To(Succeed())
}

func TestReleaseErrorsAreCollected(t *testing.T) {
	g := NewWithT(t)
	boom := errors.New("boom")
	rec := &recorder{failUpdate: func(obj client.Object) error {
		if obj.GetNamespace() != "b" {
			return boom
		}
		return nil
	}}
	c := rec.client(t, ownedSecret("a", "uid-a"), ownedSecret("b", "uid-b"), ownedSecret("c", "uid-c"))
	listed := metasOf(t,
		getSecret(t, c, "a", v1alpha1.DefaultSecretName),
		getSecret(t, c, "b", v1alpha1.DefaultSecretName),
		getSecret(t, c, "c", v1alpha1.DefaultSecretName),
	)

	err := newWriter(c).Release(context.Background(), listed)

	g.Expect(err).To(MatchError(boom))
	g.Expect(err.Error()).To(ContainSubstring("a/notation-config: boom"))
	g.Expect(err.Error()).To(ContainSubstring("c/notation-config: boom"))
	g.Expect(err.Error()).NotTo(ContainSubstring("b/"))
	g.Expect(IsOwnedBy(getSecret(t, c, "b", v1alpha1.DefaultSecretName), "pol")).To(BeFalse())
	g.Expect(IsOwnedBy(getSecret(t, c, "a", v1alpha1.DefaultSecretName), "pol")).To(BeTrue())
}
