package targets

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// TestStoreWorksWithSecretAccessByNameOnly runs a Store as a user whose
// only Secret permission is get, list and watch by resourceNames, as the
// shipped ClusterRole grants it: the Store's informers sync (their list and
// watch carry the name field selector the authorizer needs), hold exactly
// our Secrets of the allowed names, and follow changes; the same user's
// list without the selector is refused, and CheckAccess names what a
// --target-secret-names the role does not match is missing.
func TestStoreWorksWithSecretAccessByNameOnly(t *testing.T) {
	g := NewWithT(t)
	env, cfg, err := testenv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)

	const user = "store-test"
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"notation-config", "notation-trust", "notation-extra"},
				Verbs: []string{"get", "list", "watch", "update", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	g.Expect(admin.Create(ctx, role)).To(Succeed())
	g.Expect(admin.Create(ctx, binding)).To(Succeed())
	restricted, err := env.AddUser(envtest.User{Name: user}, cfg)
	g.Expect(err).NotTo(HaveOccurred())
	userCfg := restricted.Config()
	userClient, err := client.New(userCfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())

	ours := func(ns, name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{
			v1alpha1.ManagedByLabel: v1alpha1.ManagedByValue, v1alpha1.PolicyLabel: "p",
		}}}
	}
	for _, ns := range []string{"a", "b"} {
		g.Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}
	unrelated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "db-password"}, StringData: map[string]string{"p": "x"}}
	oursUnderAnotherName := ours("a", "other")
	notOurs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "notation-trust"}}
	for _, s := range []*corev1.Secret{ours("a", "notation-config"), ours("b", "notation-config"), ours("a", "notation-trust"),
		unrelated, oursUnderAnotherName, notOurs} {
		g.Expect(admin.Create(ctx, s)).To(Succeed())
	}

	// RBAC is really narrowing the user: no list without the selector,
	// cluster-wide or in a namespace, and no get of another name.
	var all corev1.SecretList
	g.Expect(apierrors.IsForbidden(userClient.List(ctx, &all))).To(BeTrue(), "cluster-wide list")
	g.Expect(apierrors.IsForbidden(userClient.List(ctx, &all, client.InNamespace("a")))).To(BeTrue(), "list in a namespace")
	g.Expect(apierrors.IsForbidden(userClient.Get(ctx, client.ObjectKeyFromObject(unrelated), &corev1.Secret{}))).To(BeTrue(), "get of another name")

	store, err := NewStore(userCfg, []string{"notation-config", "notation-trust"}, fieldOwner)
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = store.Start(ctx) }()
	syncCtx, done := context.WithTimeout(ctx, 30*time.Second)
	g.Expect(store.WaitForCacheSync(syncCtx)).To(BeTrue(), "the per-name informers sync with access by name only")
	done()

	keys := func(g Gomega) []string {
		list := NewSecretMetaList()
		g.Expect(store.List(ctx, list)).To(Succeed())
		var out []string
		for _, s := range list.Items {
			out = append(out, s.Namespace+"/"+s.Name)
			g.Expect(s.ManagedFields).To(BeEmpty(), "managed fields are not kept")
		}
		return out
	}
	g.Eventually(keys).WithTimeout(30 * time.Second).Should(ConsistOf("a/notation-config", "b/notation-config", "a/notation-trust"))

	// The two notation-config Secrets share their labels in the cache
	// (share.go); what the Store hands out is a copy, so a caller changing
	// one Secret's labels changes neither the cache nor the other Secret.
	first := NewSecretMeta()
	g.Expect(store.Get(ctx, client.ObjectKey{Namespace: "a", Name: "notation-config"}, first)).To(Succeed())
	first.Labels[v1alpha1.PolicyLabel] = "changed by a caller"
	for _, ns := range []string{"a", "b"} {
		again := NewSecretMeta()
		g.Expect(store.Get(ctx, client.ObjectKey{Namespace: ns, Name: "notation-config"}, again)).To(Succeed())
		g.Expect(again.Labels).To(HaveKeyWithValue(v1alpha1.PolicyLabel, "p"), ns)
	}
	g.Expect(store.Allowed("notation-config")).To(BeTrue())
	g.Expect(store.Allowed("other")).To(BeFalse())
	g.Expect(apierrors.IsNotFound(store.Get(ctx, client.ObjectKeyFromObject(oursUnderAnotherName), NewSecretMeta()))).To(BeTrue())
	g.Expect(store.Get(ctx, client.ObjectKeyFromObject(unrelated), &corev1.Secret{})).To(MatchError(ContainSubstring("metadata of Secrets only")),
		"the store holds no Secret data")

	// Changes reach it; a Secret of ours under another name does not.
	g.Expect(userClient.Create(ctx, ours("b", "notation-config-2"))).To(Succeed(), "create is not narrowed by name")
	g.Expect(admin.Delete(ctx, ours("a", "notation-trust"))).To(Succeed())
	g.Eventually(keys).WithTimeout(30 * time.Second).Should(ConsistOf("a/notation-config", "b/notation-config"))

	// The data is known intact from managedFields while only our field
	// manager wrote it, and no longer once another manager changes it.
	written := ours("c", "notation-trust")
	g.Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "c"}})).To(Succeed())
	written.Data = map[string][]byte{"trustpolicy.json": []byte("{}"), "root.crt": []byte("pem")}
	g.Expect(userClient.Create(ctx, written, client.FieldOwner(fieldOwner))).To(Succeed())
	cached := func(g Gomega) *metav1.PartialObjectMetadata {
		m := NewSecretMeta()
		g.Expect(store.Get(ctx, client.ObjectKeyFromObject(written), m)).To(Succeed())
		g.Expect(m.ManagedFields).To(BeEmpty(), "managed fields are not kept")
		return m
	}
	g.Eventually(func(g Gomega) bool { return DataIntact(cached(g), []string{"root.crt", "trustpolicy.json"}) }).WithTimeout(30 * time.Second).Should(BeTrue())
	g.Expect(DataIntact(cached(g), []string{"trustpolicy.json"})).To(BeFalse(), "another set of keys")
	edited := written.DeepCopy()
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(written), edited)).To(Succeed())
	edited.Data["root.crt"] = []byte("someone else's")
	g.Expect(admin.Update(ctx, edited, client.FieldOwner("kubectl-edit"))).To(Succeed())
	g.Eventually(func(g Gomega) bool { return DataIntact(cached(g), []string{"root.crt", "trustpolicy.json"}) }).WithTimeout(30*time.Second).Should(BeFalse(),
		"a foreign manager's edit of the data is seen in the metadata")
	// And a removed key, by whichever manager, leaves our set.
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(written), edited)).To(Succeed())
	delete(edited.Data, "root.crt")
	edited.Data["trustpolicy.json"] = []byte("{}")
	g.Expect(userClient.Update(ctx, edited, client.FieldOwner(fieldOwner))).To(Succeed())
	g.Eventually(func(g Gomega) bool { return DataIntact(cached(g), []string{"trustpolicy.json"}) }).WithTimeout(30 * time.Second).Should(BeTrue())

	// Controllers wait for the Store's sources: they sync only once the
	// Store has started.
	idle, err := NewStore(userCfg, []string{"notation-trust"}, fieldOwner)
	g.Expect(err).NotTo(HaveOccurred())
	src, ok := idle.Sources()[0].(source.SyncingSource)
	g.Expect(ok).To(BeTrue(), "a SyncingSource, as source.Kind is")
	early, cancelEarly := context.WithTimeout(ctx, 300*time.Millisecond)
	g.Expect(src.WaitForSync(early)).To(MatchError(ContainSubstring("Secrets named notation-trust did not sync")))
	cancelEarly()
	go func() { _ = idle.Start(ctx) }()
	syncCtx, done = context.WithTimeout(ctx, 30*time.Second)
	g.Expect(src.WaitForSync(syncCtx)).To(Succeed())
	done()

	// A Store started with the Secret already there (a restarted manager:
	// it arrives in the initial list, which client-go transforms twice)
	// knows it intact too, so a restart reads no Secret.
	// Three names: more than start their initial list at once, so the last
	// starts only after another has synced.
	restarted, err := NewStore(userCfg, []string{"notation-config", "notation-extra", "notation-trust"}, fieldOwner)
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = restarted.Start(ctx) }()
	syncCtx, done = context.WithTimeout(ctx, 30*time.Second)
	g.Expect(restarted.WaitForCacheSync(syncCtx)).To(BeTrue())
	done()
	m := NewSecretMeta()
	g.Expect(restarted.Get(ctx, client.ObjectKeyFromObject(written), m)).To(Succeed())
	g.Expect(DataIntact(m, []string{"trustpolicy.json"})).To(BeTrue(), "intact after the initial list")

	// CheckAccess: the role matches these names; a name it lacks is named.
	g.Expect(CheckAccess(ctx, userClient, []string{"notation-config", "notation-trust"})).To(Succeed())
	err = CheckAccess(ctx, userClient, []string{"notation-config", "team-trust"})
	g.Expect(err).To(MatchError(ContainSubstring("get Secrets named team-trust")))
	g.Expect(err).To(MatchError(ContainSubstring("list Secrets named team-trust")))
	g.Expect(err.Error()).NotTo(ContainSubstring("named notation-config"), "only the missing name")
}
