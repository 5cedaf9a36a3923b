package preview

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/kube"
	"github.com/flux-notation/verification-operator/cmd/kubectl-vpol/internal/manifests"
	"github.com/flux-notation/verification-operator/controllers/sources"
)

// clusterBundles stands in for a cluster's ClusterTrustBundles: one bundle
// of signer example.com/roots, at whatever version it is asked for, which
// it records.
type clusterBundles struct {
	client.Reader
	pem    string
	listed []schema.GroupVersionKind
}

func (c *clusterBundles) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	l := list.(*unstructured.UnstructuredList)
	c.listed = append(c.listed, l.GroupVersionKind())
	u := unstructured.Unstructured{}
	gvk := l.GroupVersionKind()
	gvk.Kind = "ClusterTrustBundle"
	u.SetGroupVersionKind(gvk)
	u.SetName("example.com:roots:a")
	u.Object["spec"] = map[string]any{"signerName": "example.com/roots", "trustBundle": c.pem}
	l.Items = []unstructured.Unstructured{u}
	return nil
}

// mapper serves the given ClusterTrustBundle versions, as an API server's
// discovery would.
func mapper(versions ...string) meta.RESTMapper {
	var gvs []schema.GroupVersion
	for _, v := range versions {
		gvs = append(gvs, schema.GroupVersion{Group: "certificates.k8s.io", Version: v})
	}
	m := meta.NewDefaultRESTMapper(gvs)
	for _, gv := range gvs {
		m.Add(gv.WithKind("ClusterTrustBundle"), meta.RESTScopeRoot)
	}
	return m
}

type failingMapper struct{ meta.RESTMapper }

func (failingMapper) RESTMapping(schema.GroupKind, ...string) (*meta.RESTMapping, error) {
	return nil, errors.New("the server is currently unable to handle the request")
}

// In a cluster, bundles are read at the version the manager's discovery
// prefers (v1, else v1beta1), and neither served is the manager's
// ClusterTrustBundleAPINotServed: the one rejection only a cluster tells.
func TestClusterTrustBundleAPIVersions(t *testing.T) {
	pem, err := os.ReadFile(filepath.Join("..", "..", "testdata", "certs", "release-root-g2.crt"))
	if err != nil {
		t.Fatal(err)
	}
	p := &v1alpha1.VerificationPolicy{}
	p.Name = "bundles"
	p.Spec.Certificates = []v1alpha1.CertificateSource{{Name: "roots", Type: v1alpha1.CertificateTypeCA,
		ClusterTrustBundle: &v1alpha1.ClusterTrustBundleSource{SignerName: "example.com/roots"}}}
	p.Spec.TrustPolicies = []v1alpha1.TrustPolicyStatement{{Name: "all", RegistryScopes: []string{"*"},
		SignatureVerification: v1alpha1.SignatureVerification{Level: "strict"}, TrustedIdentities: []string{"*"}}}
	set, err := manifests.Read(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	render := func(g Gomega, m meta.RESTMapper) (Outcome, *clusterBundles) {
		apis, err := kube.DiscoverClusterTrustBundles(m)
		g.Expect(err).NotTo(HaveOccurred())
		cluster := &clusterBundles{pem: string(pem)}
		out, err := Render(context.Background(), Input{Policy: p, ClusterTrustBundles: set.ClusterTrustBundles(cluster, apis),
			SecretNames: []string{v1alpha1.DefaultSecretName}})
		g.Expect(err).NotTo(HaveOccurred())
		return out, cluster
	}

	for _, tc := range []struct {
		served []string
		read   schema.GroupVersionKind
	}{
		{[]string{"v1", "v1beta1"}, sources.ClusterTrustBundleV1},
		{[]string{"v1beta1"}, sources.ClusterTrustBundleV1beta1},
	} {
		t.Run("served "+tc.served[0], func(t *testing.T) {
			g := NewWithT(t)
			out, cluster := render(g, mapper(tc.served...))
			g.Expect(out.Rejection).To(BeNil())
			g.Expect(out.Rendered.Data).To(HaveKey("roots.crt"))
			g.Expect(cluster.listed).To(ConsistOf(tc.read.GroupVersion().WithKind("ClusterTrustBundleList")))
		})
	}
	t.Run("not served", func(t *testing.T) {
		g := NewWithT(t)
		out, cluster := render(g, mapper())
		g.Expect(cluster.listed).To(BeEmpty())
		g.Expect(out.Rejection).NotTo(BeNil())
		g.Expect(out.Rejection.Reason).To(Equal(v1alpha1.ReasonClusterTrustBundleAPINotServed))
		g.Expect(out.Rejection.Message).To(ContainSubstring("--feature-gates=ClusterTrustBundle=true"))
		g.Expect(out.Rejection.Stalled).To(BeFalse(), "the API appearing fixes it")
	})
	t.Run("discovery fails", func(t *testing.T) {
		_, err := kube.DiscoverClusterTrustBundles(failingMapper{mapper()})
		NewWithT(t).Expect(err).To(MatchError(ContainSubstring("unable to handle the request")))
	})
}
