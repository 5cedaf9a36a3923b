package manifests

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flux-notation/verification-operator/controllers/sources"
)

const bundleDoc = `apiVersion: certificates.k8s.io/%s
kind: ClusterTrustBundle
metadata:
  name: %s
  labels: {ring: %s}
spec:
  signerName: example.com/roots
  trustBundle: "%s"
`

func bundle(version, name, ring, pem string) string {
	return fmt.Sprintf(bundleDoc, version, name, ring, pem)
}

func TestReadClusterTrustBundles(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	write(t, dir, "bundles.yaml", bundle("v1", "example.com:roots:a", "prod", "A")+"---\n"+
		bundle("v1beta1", "example.com:roots:b", "staging", "B")+"---\n"+
		"apiVersion: certificates.k8s.io/v1alpha1\nkind: ClusterTrustBundle\nmetadata: {name: old}\nspec: {trustBundle: x}\n")
	set, err := Read([]string{dir}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(set.Bundles).To(HaveLen(2), "v1 and v1beta1, as the operator reads them")
	g.Expect(set.Notes).To(ConsistOf(ContainSubstring("ignored certificates.k8s.io/v1alpha1 ClusterTrustBundle old")))

	cases := map[string]string{
		"unknown field":         "apiVersion: certificates.k8s.io/v1\nkind: ClusterTrustBundle\nmetadata: {name: a}\nspec: {trustBundel: x}\n",
		"signer prefix":         bundle("v1", "roots-a", "prod", "A"),
		"colon without signer":  "apiVersion: certificates.k8s.io/v1beta1\nkind: ClusterTrustBundle\nmetadata: {name: 'a:b'}\nspec: {trustBundle: x}\n",
		"twice across versions": bundle("v1", "example.com:roots:a", "prod", "A") + "---\n" + bundle("v1beta1", "example.com:roots:a", "prod", "A"),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Read([]string{write(t, t.TempDir(), "b.yaml", content)}, nil)
			NewWithT(t).Expect(err).To(HaveOccurred())
		})
	}
}

// The files' bundles are served at the version asked for, selected by
// label, and in place of the cluster's of the same name.
func TestClusterTrustBundlesReader(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "bundles.yaml", bundle("v1", "example.com:roots:a", "prod", "A-from-files")+"---\n"+
		bundle("v1", "example.com:roots:c", "staging", "C-from-files"))
	set, err := Read([]string{dir}, nil)
	g.Expect(err).NotTo(HaveOccurred())

	inCluster := func(name, ring, pem string) client.Object {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(sources.ClusterTrustBundleV1beta1)
		u.SetName(name)
		u.SetLabels(map[string]string{"ring": ring})
		u.Object["spec"] = map[string]any{"signerName": "example.com/roots", "trustBundle": pem}
		return u
	}
	cluster := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(
		inCluster("example.com:roots:a", "prod", "A-in-cluster"),
		inCluster("example.com:roots:b", "prod", "B-in-cluster"),
		inCluster("example.com:roots:c", "prod", "C-in-cluster"),
	).Build()

	list := func(r client.Reader) map[string]string {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(sources.ClusterTrustBundleV1beta1.GroupVersion().WithKind("ClusterTrustBundleList"))
		g.Expect(r.List(ctx, l, client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(labels.Set{"ring": "prod"})})).To(Succeed())
		out := map[string]string{}
		for _, u := range l.Items {
			g.Expect(u.GroupVersionKind()).To(Equal(sources.ClusterTrustBundleV1beta1))
			_, pem, err := sources.BundleFromUnstructured(&u)
			g.Expect(err).NotTo(HaveOccurred())
			out[u.GetName()] = pem
		}
		return out
	}
	g.Expect(list(set.ClusterTrustBundles(nil, nil).Reader)).To(Equal(map[string]string{"example.com:roots:a": "A-from-files"}))
	g.Expect(list(set.ClusterTrustBundles(cluster, nil).Reader)).To(Equal(map[string]string{
		"example.com:roots:a": "A-from-files",
		"example.com:roots:b": "B-in-cluster",
		// c is relabelled to staging by the files: out of the selection.
	}))

	r := set.ClusterTrustBundles(nil, nil).Reader
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(sources.ClusterTrustBundleV1)
	g.Expect(r.Get(ctx, client.ObjectKey{Name: "example.com:roots:c"}, u)).To(Succeed())
	g.Expect(u.GetAPIVersion()).To(Equal("certificates.k8s.io/v1"))
	g.Expect(apierrors.IsNotFound(r.Get(ctx, client.ObjectKey{Name: "example.com:roots:b"}, u))).To(BeTrue())
	fromCluster := &unstructured.Unstructured{}
	fromCluster.SetGroupVersionKind(sources.ClusterTrustBundleV1beta1)
	g.Expect(set.ClusterTrustBundles(cluster, nil).Reader.Get(ctx, client.ObjectKey{Name: "example.com:roots:b"}, fromCluster)).To(Succeed())
	g.Expect(fromCluster.GetLabels()).To(Equal(map[string]string{"ring": "prod"}))
}
