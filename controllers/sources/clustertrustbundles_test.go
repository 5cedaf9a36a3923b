package sources

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/controllers/discovery"
	"github.com/flux-notation/verification-operator/controllers/inputerror"
	"github.com/flux-notation/verification-operator/controllers/trustconfig"
)

// bundleReader serves ClusterTrustBundles of any version from memory, as
// the manager's cache does, and records every read: its version, and the
// namespace it was asked for.
type bundleReader struct {
	bundles []*unstructured.Unstructured
	err     error

	mu    sync.Mutex
	reads []string
}

func (r *bundleReader) record(kind string, gvk schema.GroupVersionKind, namespace string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads = append(r.reads, fmt.Sprintf("%s %s namespace=%q", kind, gvk.GroupVersion(), namespace))
}

func (r *bundleReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	u := obj.(*unstructured.Unstructured)
	r.record("get", u.GroupVersionKind(), key.Namespace)
	if r.err != nil {
		return r.err
	}
	for _, b := range r.bundles {
		if b.GetName() == key.Name && b.GroupVersionKind() == u.GroupVersionKind() {
			b.DeepCopyInto(u)
			return nil
		}
	}
	return apierrors.NewNotFound(schema.GroupResource{Group: "certificates.k8s.io", Resource: "clustertrustbundles"}, key.Name)
}

func (r *bundleReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	ul := list.(*unstructured.UnstructuredList)
	o := (&client.ListOptions{}).ApplyOptions(opts)
	gvk := ul.GroupVersionKind()
	r.record("list", gvk, o.Namespace)
	if r.err != nil {
		return r.err
	}
	sel := o.LabelSelector
	if sel == nil {
		sel = labels.Everything()
	}
	// Deliberately not in name order: the resolver sorts.
	for i := len(r.bundles) - 1; i >= 0; i-- {
		b := r.bundles[i]
		if b.GroupVersionKind().GroupVersion() == gvk.GroupVersion() && sel.Matches(labels.Set(b.GetLabels())) {
			ul.Items = append(ul.Items, *b.DeepCopy())
		}
	}
	return nil
}

func ctb(gvk schema.GroupVersionKind, name, signer string, lbls map[string]string, pem string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"trustBundle": pem}}}
	if signer != "" {
		u.Object["spec"].(map[string]any)["signerName"] = signer
	}
	u.SetGroupVersionKind(gvk)
	u.SetName(name)
	u.SetLabels(lbls)
	return u
}

func served(gvk schema.GroupVersionKind) func() (schema.GroupVersionKind, discovery.State) {
	return func() (schema.GroupVersionKind, discovery.State) { return gvk, discovery.Served }
}

func bundles(r client.Reader, api func() (schema.GroupVersionKind, discovery.State)) *Resolver {
	return &Resolver{Namespace: trustNS, ClusterTrustBundles: &ClusterTrustBundles{Reader: r, API: api}}
}

const signer = "example.com/release-roots"

func byName(name string) *v1alpha1.ClusterTrustBundleSource {
	return &v1alpha1.ClusterTrustBundleSource{Name: name}
}

func bySigner(sel *metav1.LabelSelector) *v1alpha1.ClusterTrustBundleSource {
	return &v1alpha1.ClusterTrustBundleSource{SignerName: signer, LabelSelector: sel}
}

func TestResolveClusterTrustBundleByName(t *testing.T) {
	g := NewWithT(t)
	rd := &bundleReader{bundles: []*unstructured.Unstructured{
		ctb(ClusterTrustBundleV1beta1, "platform-roots", "", nil, "PLATFORM-PEM"),
		ctb(ClusterTrustBundleV1beta1, "other", "", nil, "OTHER-PEM"),
	}}
	got, err := bundles(rd, served(ClusterTrustBundleV1beta1)).Resolve(context.Background(), []v1alpha1.CertificateSource{
		{Name: "inline", Inline: "INLINE"},
		{Name: "platform", Type: v1alpha1.CertificateTypeCA, ClusterTrustBundle: byName("platform-roots")},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal([]trustconfig.Source{
		{Name: "inline", Origin: "inline", PEM: []byte("INLINE")},
		{Name: "platform", Type: v1alpha1.CertificateTypeCA, Origin: "ClusterTrustBundle platform-roots", FromObject: true, RequireCA: true,
			Parts: []trustconfig.Part{{Object: "ClusterTrustBundle platform-roots", PEM: []byte("PLATFORM-PEM")}}},
	}))
	g.Expect(rd.reads).To(Equal([]string{`get certificates.k8s.io/v1beta1 namespace=""`}), "cluster-scoped: no namespace")
}

// Every bundle of the signer that the selector matches, in name order; not
// those of another signer, nor those the selector leaves out.
func TestResolveClusterTrustBundlesBySigner(t *testing.T) {
	rd := &bundleReader{bundles: []*unstructured.Unstructured{
		ctb(ClusterTrustBundleV1beta1, "example.com:release-roots:g2", signer, map[string]string{"ring": "prod"}, "G2"),
		ctb(ClusterTrustBundleV1beta1, "example.com:release-roots:g1", signer, map[string]string{"ring": "prod"}, "G1"),
		ctb(ClusterTrustBundleV1beta1, "example.com:release-roots:g3", signer, map[string]string{"ring": "prod"}, "G3"),
		ctb(ClusterTrustBundleV1beta1, "example.com:release-roots:canary", signer, map[string]string{"ring": "canary"}, "CANARY"),
		ctb(ClusterTrustBundleV1beta1, "example.com:someone-else:g1", "example.com/someone-else", map[string]string{"ring": "prod"}, "ELSE"),
		ctb(ClusterTrustBundleV1beta1, "unsigned", "", map[string]string{"ring": "prod"}, "UNSIGNED"),
	}}
	objects := func(s trustconfig.Source) []string {
		var out []string
		for _, p := range s.Parts {
			out = append(out, p.Object+"="+string(p.PEM))
		}
		return out
	}
	cases := []struct {
		name string
		sel  *metav1.LabelSelector
		want []string
	}{
		{"matchLabels", &metav1.LabelSelector{MatchLabels: map[string]string{"ring": "prod"}}, []string{
			"ClusterTrustBundle example.com:release-roots:g1=G1",
			"ClusterTrustBundle example.com:release-roots:g2=G2",
			"ClusterTrustBundle example.com:release-roots:g3=G3",
		}},
		{"matchExpressions", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "ring", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}}}}, []string{
			"ClusterTrustBundle example.com:release-roots:canary=CANARY",
		}},
		{"no selector: every bundle of the signer", nil, []string{
			"ClusterTrustBundle example.com:release-roots:canary=CANARY",
			"ClusterTrustBundle example.com:release-roots:g1=G1",
			"ClusterTrustBundle example.com:release-roots:g2=G2",
			"ClusterTrustBundle example.com:release-roots:g3=G3",
		}},
		{"an empty selector: the same", &metav1.LabelSelector{}, []string{
			"ClusterTrustBundle example.com:release-roots:canary=CANARY",
			"ClusterTrustBundle example.com:release-roots:g1=G1",
			"ClusterTrustBundle example.com:release-roots:g2=G2",
			"ClusterTrustBundle example.com:release-roots:g3=G3",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := bundles(rd, served(ClusterTrustBundleV1beta1)).Resolve(context.Background(),
				[]v1alpha1.CertificateSource{{Name: "releases", ClusterTrustBundle: bySigner(tc.sel)}})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(HaveLen(1))
			g.Expect(got[0].Origin).To(Equal("ClusterTrustBundles of signer " + signer))
			g.Expect(got[0].RequireCA).To(BeTrue())
			g.Expect(objects(got[0])).To(Equal(tc.want))
		})
	}
}

// The version read is the one discovery prefers; v1 objects decode with
// the same fields as v1beta1 ones (k8s.io/api has no typed v1 yet, and the
// API servers the tests run do not serve v1).
func TestResolveClusterTrustBundlesReadsTheServedVersion(t *testing.T) {
	for _, gvk := range ClusterTrustBundleVersions {
		t.Run(gvk.Version, func(t *testing.T) {
			g := NewWithT(t)
			other := ClusterTrustBundleV1
			if gvk == ClusterTrustBundleV1 {
				other = ClusterTrustBundleV1beta1
			}
			rd := &bundleReader{bundles: []*unstructured.Unstructured{
				ctb(gvk, "example.com:release-roots:a", signer, nil, "SERVED-"+gvk.Version),
				ctb(other, "example.com:release-roots:a", signer, nil, "OTHER-VERSION"),
			}}
			r := bundles(rd, served(gvk))
			got, err := r.Resolve(context.Background(), []v1alpha1.CertificateSource{
				{Name: "by-name", ClusterTrustBundle: byName("example.com:release-roots:a")},
				{Name: "by-signer", ClusterTrustBundle: bySigner(nil)},
			})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(HaveLen(2))
			for _, s := range got {
				g.Expect(s.Parts).To(Equal([]trustconfig.Part{{Object: "ClusterTrustBundle example.com:release-roots:a", PEM: []byte("SERVED-" + gvk.Version)}}))
			}
			g.Expect(rd.reads).To(Equal([]string{
				fmt.Sprintf(`get %s namespace=""`, gvk.GroupVersion()),
				fmt.Sprintf(`list %s namespace=""`, gvk.GroupVersion()),
			}))
		})
	}
}

func TestBundleFromUnstructured(t *testing.T) {
	g := NewWithT(t)
	for _, gvk := range ClusterTrustBundleVersions {
		// As the API server returns it, with fields the operator ignores.
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": gvk.GroupVersion().String(),
			"kind":       "ClusterTrustBundle",
			"metadata":   map[string]any{"name": "example.com:roots:a", "labels": map[string]any{"a": "b"}},
			"spec":       map[string]any{"signerName": "example.com/roots", "trustBundle": "PEM", "future": true},
		}}
		signerName, pem, err := BundleFromUnstructured(u)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(signerName).To(Equal("example.com/roots"))
		g.Expect(pem).To(Equal("PEM"))
	}
	// A bundle without a signer.
	signerName, pem, err := BundleFromUnstructured(ctb(ClusterTrustBundleV1, "roots", "", nil, "PEM"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(signerName).To(BeEmpty())
	g.Expect(pem).To(Equal("PEM"))
	// A field of the wrong type is an error, not an empty bundle.
	bad := ctb(ClusterTrustBundleV1, "roots", "", nil, "")
	bad.Object["spec"] = map[string]any{"trustBundle": 42}
	_, _, err = BundleFromUnstructured(bad)
	g.Expect(err).To(MatchError(ContainSubstring("ClusterTrustBundle roots: spec.trustBundle")))
}

// expectInputError checks err is an *inputerror.Error of that kind,
// reason and field, and returns it.
func expectInputError(g Gomega, err error, kind inputerror.Kind, reason, field string) *inputerror.Error {
	ie, ok := inputerror.As(err)
	g.Expect(ok).To(BeTrue(), "%v", err)
	g.Expect(ie.Kind).To(Equal(kind))
	g.Expect(ie.Reason).To(Equal(reason))
	g.Expect(ie.Field).To(Equal(field))
	return ie
}

func TestResolveClusterTrustBundleNotFound(t *testing.T) {
	rd := &bundleReader{bundles: []*unstructured.Unstructured{
		ctb(ClusterTrustBundleV1beta1, "example.com:release-roots:g1", signer, map[string]string{"ring": "prod"}, "G1"),
	}}
	cases := []struct {
		name    string
		ref     *v1alpha1.ClusterTrustBundleSource
		message string
	}{
		{"by name", byName("absent"), "ClusterTrustBundle absent not found (set clusterTrustBundle.optional to allow none)"},
		{"by signer, no match", bySigner(&metav1.LabelSelector{MatchLabels: map[string]string{"ring": "canary"}}),
			"no ClusterTrustBundle of signer example.com/release-roots matches the label selector ring=canary (set clusterTrustBundle.optional to allow none)"},
		{"by signer, none of the signer", &v1alpha1.ClusterTrustBundleSource{SignerName: "example.com/nobody"},
			"no ClusterTrustBundle of signer example.com/nobody (set clusterTrustBundle.optional to allow none)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := bundles(rd, served(ClusterTrustBundleV1beta1)).Resolve(context.Background(),
				[]v1alpha1.CertificateSource{{Name: "inline", Inline: "X"}, {Name: "roots", ClusterTrustBundle: tc.ref}})
			g.Expect(got).To(BeNil())
			// Waiting: creating the bundle fixes it.
			ie := expectInputError(g, err, inputerror.Waiting, v1alpha1.ReasonSourceNotFound, "certificates[roots]")
			g.Expect(ie.Message).To(Equal(tc.message))

			// Optional: the source contributes nothing, and the others render.
			opt := *tc.ref
			opt.Optional = true
			got, err = bundles(rd, served(ClusterTrustBundleV1beta1)).Resolve(context.Background(),
				[]v1alpha1.CertificateSource{{Name: "inline", Inline: "X"}, {Name: "roots", ClusterTrustBundle: &opt}})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(HaveLen(1))
			g.Expect(got[0].Name).To(Equal("inline"))
		})
	}
}

// Optional sources may be empty only while another source supplies a
// certificate: a Secret without certificates is refused by Flux.
func TestResolveOptionalClusterTrustBundlesAloneAreNotEnough(t *testing.T) {
	g := NewWithT(t)
	rd := &bundleReader{}
	certs := []v1alpha1.CertificateSource{
		{Name: "a", ClusterTrustBundle: &v1alpha1.ClusterTrustBundleSource{Name: "absent", Optional: true}},
		{Name: "b", ClusterTrustBundle: &v1alpha1.ClusterTrustBundleSource{SignerName: signer, Optional: true}},
	}
	_, err := bundles(rd, served(ClusterTrustBundleV1beta1)).Resolve(context.Background(), certs)
	ie := expectInputError(g, err, inputerror.Waiting, v1alpha1.ReasonSourceNotFound, "certificates")
	g.Expect(ie.Message).To(HavePrefix("the optional clusterTrustBundle sources a, b select no ClusterTrustBundle and no other source supplies a certificate"))

	// One of them finds a bundle: fine.
	rd.bundles = []*unstructured.Unstructured{ctb(ClusterTrustBundleV1beta1, "example.com:release-roots:x", signer, nil, "X")}
	got, err := bundles(rd, served(ClusterTrustBundleV1beta1)).Resolve(context.Background(), certs)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(HaveLen(1))
	g.Expect(got[0].Name).To(Equal("b"))
}

func TestResolveClusterTrustBundleAPIStates(t *testing.T) {
	g := NewWithT(t)
	rd := &bundleReader{}
	certs := []v1alpha1.CertificateSource{{Name: "roots", ClusterTrustBundle: &v1alpha1.ClusterTrustBundleSource{Name: "x", Optional: true}}}

	// Neither version served: Waiting, naming the feature gate, even for an
	// optional source.
	_, err := bundles(rd, func() (schema.GroupVersionKind, discovery.State) {
		return schema.GroupVersionKind{}, discovery.NotServed
	}).
		Resolve(context.Background(), certs)
	ie := expectInputError(g, err, inputerror.Waiting, v1alpha1.ReasonClusterTrustBundleAPINotServed, "certificates[roots]")
	g.Expect(ie.Message).To(ContainSubstring("--feature-gates=ClusterTrustBundle=true"))

	// Not looked up yet: not bad input; the caller waits for discovery.
	_, err = bundles(rd, func() (schema.GroupVersionKind, discovery.State) { return schema.GroupVersionKind{}, discovery.Unknown }).
		Resolve(context.Background(), certs)
	g.Expect(errors.Is(err, ErrAPIDiscoveryPending)).To(BeTrue(), "%v", err)
	_, isInput := inputerror.As(err)
	g.Expect(isInput).To(BeFalse())
	g.Expect(rd.reads).To(BeEmpty(), "nothing is read before the API is known")

	// A resolver without a bundle reader (kubectl vpol's) says so, as an
	// error that is not about the input.
	_, err = (&Resolver{Namespace: trustNS}).Resolve(context.Background(), certs)
	g.Expect(err).To(MatchError(ContainSubstring("clusterTrustBundle sources cannot be read here")))
	_, isInput = inputerror.As(err)
	g.Expect(isInput).To(BeFalse())
}

func TestResolveClusterTrustBundleErrors(t *testing.T) {
	g := NewWithT(t)
	// A read failure is retried, not reported as bad input.
	boom := errors.New("boom")
	_, err := bundles(&bundleReader{err: boom}, served(ClusterTrustBundleV1beta1)).Resolve(context.Background(),
		[]v1alpha1.CertificateSource{{Name: "roots", ClusterTrustBundle: byName("x")}})
	g.Expect(err).To(MatchError(boom))
	_, isInput := inputerror.As(err)
	g.Expect(isInput).To(BeFalse())
	_, err = bundles(&bundleReader{err: boom}, served(ClusterTrustBundleV1beta1)).Resolve(context.Background(),
		[]v1alpha1.CertificateSource{{Name: "roots", ClusterTrustBundle: bySigner(nil)}})
	g.Expect(err).To(MatchError(boom))

	// A selector the API server let through but that does not parse: only
	// a spec change fixes it.
	_, err = bundles(&bundleReader{}, served(ClusterTrustBundleV1beta1)).Resolve(context.Background(),
		[]v1alpha1.CertificateSource{{Name: "roots", ClusterTrustBundle: bySigner(&metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "ring", Operator: "Near"}}})}})
	expectInputError(g, err, inputerror.Stalling, v1alpha1.ReasonInvalidSpec, "certificates[roots].clusterTrustBundle.labelSelector")
}

func TestClusterTrustBundleNamesAndSigners(t *testing.T) {
	g := NewWithT(t)
	certs := []v1alpha1.CertificateSource{
		{Name: "a", ClusterTrustBundle: byName("b1")},
		{Name: "b", Inline: "x"},
		{Name: "c", ClusterTrustBundle: bySigner(nil)},
		{Name: "d", ClusterTrustBundle: &v1alpha1.ClusterTrustBundleSource{SignerName: "example.com/other"}},
		{Name: "e", ClusterTrustBundle: byName("b0")},
	}
	g.Expect(ClusterTrustBundleNames(certs)).To(Equal([]string{"b1", "b0"}))
	g.Expect(ClusterTrustBundleSigners(certs)).To(Equal([]string{signer, "example.com/other"}))
	g.Expect(UsesClusterTrustBundles(certs)).To(BeTrue())
	g.Expect(UsesClusterTrustBundles(certs[1:2])).To(BeFalse())
	g.Expect(ClusterTrustBundleNames(nil)).To(BeNil())
}

// v1 is preferred whenever it is served; until both versions are looked up
// nothing is known; with neither served, NotServed.
func TestClusterTrustBundleAPI(t *testing.T) {
	cases := []struct {
		name    string
		served  []schema.GroupVersionKind
		want    schema.GroupVersionKind
		wantSta discovery.State
	}{
		{"v1beta1 only", []schema.GroupVersionKind{ClusterTrustBundleV1beta1}, ClusterTrustBundleV1beta1, discovery.Served},
		{"both", []schema.GroupVersionKind{ClusterTrustBundleV1beta1, ClusterTrustBundleV1}, ClusterTrustBundleV1, discovery.Served},
		{"v1 only", []schema.GroupVersionKind{ClusterTrustBundleV1}, ClusterTrustBundleV1, discovery.Served},
		{"neither", nil, schema.GroupVersionKind{}, discovery.NotServed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			mapper := meta.NewDefaultRESTMapper(nil)
			for _, gvk := range tc.served {
				mapper.Add(gvk, meta.RESTScopeRoot)
			}
			apis := discovery.New(mapper, time.Hour)
			for _, gvk := range ClusterTrustBundleVersions {
				apis.Watch(gvk, discovery.Handler{})
			}
			_, state := ClusterTrustBundleAPI(apis)
			g.Expect(state).To(Equal(discovery.Unknown), "before the first look")

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = apis.Start(ctx) }()
			g.Eventually(func() discovery.State { _, s := ClusterTrustBundleAPI(apis); return s }).
				WithTimeout(30 * time.Second).ShouldNot(Equal(discovery.Unknown))
			cancel()
			<-done
			gvk, state := ClusterTrustBundleAPI(apis)
			g.Expect(state).To(Equal(tc.wantSta))
			g.Expect(gvk).To(Equal(tc.want))
		})
	}
}
