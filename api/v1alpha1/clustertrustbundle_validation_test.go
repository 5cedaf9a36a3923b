package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

// withBundle replaces the policy's inline source with a clusterTrustBundle
// source.
func withBundle(ref v1alpha1.ClusterTrustBundleSource) func(*v1alpha1.VerificationPolicy) {
	return func(p *v1alpha1.VerificationPolicy) {
		p.Spec.Certificates[0] = v1alpha1.CertificateSource{Name: "root", ClusterTrustBundle: &ref}
	}
}

func TestCRDAcceptsClusterTrustBundleSources(t *testing.T) {
	prod := &metav1.LabelSelector{MatchLabels: map[string]string{"ring": "prod"}}
	cases := []struct {
		name   string
		mutate func(*v1alpha1.VerificationPolicy)
	}{
		{"by name", withBundle(v1alpha1.ClusterTrustBundleSource{Name: "platform-roots"})},
		{"by name, with a signer prefix", withBundle(v1alpha1.ClusterTrustBundleSource{Name: "example.com:release-roots:g2"})},
		{"by name, optional", withBundle(v1alpha1.ClusterTrustBundleSource{Name: "platform-roots", Optional: true})},
		{"by signer", withBundle(v1alpha1.ClusterTrustBundleSource{SignerName: "example.com/release-roots"})},
		{"by signer and labels", withBundle(v1alpha1.ClusterTrustBundleSource{SignerName: "roots.example.com/releases.v2", LabelSelector: prod})},
		{"a tsa bundle next to an inline root", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Certificates = append(p.Spec.Certificates, v1alpha1.CertificateSource{Name: "tsa", Type: v1alpha1.CertificateTypeTSA,
				ClusterTrustBundle: &v1alpha1.ClusterTrustBundleSource{SignerName: "example.com/tsa", Optional: true}})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := validPolicy("ctb-valid")
			tc.mutate(obj)
			g.Expect(k8s.Create(context.Background(), obj, client.DryRunAll)).To(Succeed())
		})
	}
}

func TestCRDRejectsInvalidClusterTrustBundleSources(t *testing.T) {
	prod := &metav1.LabelSelector{MatchLabels: map[string]string{"ring": "prod"}}
	cases := []struct {
		name    string
		mutate  func(*v1alpha1.VerificationPolicy)
		message string
	}{
		{"inline and clusterTrustBundle", func(p *v1alpha1.VerificationPolicy) {
			p.Spec.Certificates[0].ClusterTrustBundle = &v1alpha1.ClusterTrustBundleSource{Name: "roots"}
		}, "exactly one of inline, secretRef, configMapRef or clusterTrustBundle must be set"},
		{"neither name nor signerName", withBundle(v1alpha1.ClusterTrustBundleSource{Optional: true}),
			"exactly one of name or signerName must be set"},
		{"both name and signerName", withBundle(v1alpha1.ClusterTrustBundleSource{Name: "example.com:roots:a", SignerName: "example.com/roots"}),
			"exactly one of name or signerName must be set"},
		{"labelSelector with name", withBundle(v1alpha1.ClusterTrustBundleSource{Name: "roots", LabelSelector: prod}),
			"labelSelector chooses among the bundles of a signerName and cannot be used with name"},
		{"signerName without a path", withBundle(v1alpha1.ClusterTrustBundleSource{SignerName: "example.com"}),
			"spec.certificates[0].clusterTrustBundle.signerName"},
		{"signerName without a domain", withBundle(v1alpha1.ClusterTrustBundleSource{SignerName: "roots/releases"}),
			"spec.certificates[0].clusterTrustBundle.signerName"},
		{"signerName with two slashes", withBundle(v1alpha1.ClusterTrustBundleSource{SignerName: "example.com/a/b"}),
			"spec.certificates[0].clusterTrustBundle.signerName"},
		{"name with a slash", withBundle(v1alpha1.ClusterTrustBundleSource{Name: "example.com/roots"}),
			"spec.certificates[0].clusterTrustBundle.name"},
		{"name too long", withBundle(v1alpha1.ClusterTrustBundleSource{Name: strings.Repeat("a", 826)}),
			"spec.certificates[0].clusterTrustBundle.name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := validPolicy("ctb-invalid")
			tc.mutate(obj)
			err := k8s.Create(context.Background(), obj, client.DryRunAll)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring(tc.message))
		})
	}
}
