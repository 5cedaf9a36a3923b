package ocirepos

import (
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
)

func repo(ns, provider, secret string, lbls map[string]string) *Repository {
	r := &Repository{}
	r.Namespace, r.Name, r.Labels = ns, "app", lbls
	if provider != "" {
		r.Spec.Verify = &sourcev1.OCIRepositoryVerification{Provider: provider}
		if secret != "" {
			r.Spec.Verify.SecretRef = &meta.LocalObjectReference{Name: secret}
		}
	}
	return r
}

func TestGoverns(t *testing.T) {
	p := &v1alpha1.VerificationPolicy{}
	p.Spec.Target.SecretName = "notation-config"
	targeted := map[string]bool{"team-a": true}
	sel := labels.SelectorFromSet(labels.Set{"verify": "yes"})
	cases := []struct {
		name     string
		repo     *Repository
		selector labels.Selector
		want     bool
	}{
		{"governed", repo("team-a", "notation", "notation-config", nil), nil, true},
		{"other namespace", repo("team-b", "notation", "notation-config", nil), nil, false},
		{"cosign", repo("team-a", "cosign", "notation-config", nil), nil, false},
		{"no verify", repo("team-a", "", "", nil), nil, false},
		{"no secretRef", repo("team-a", "notation", "", nil), nil, false},
		{"other Secret", repo("team-a", "notation", "other", nil), nil, false},
		{"selector matches", repo("team-a", "notation", "notation-config", map[string]string{"verify": "yes"}), sel, true},
		{"selector does not match", repo("team-a", "notation", "notation-config", nil), sel, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(Governs(p, tc.selector, targeted, tc.repo)).To(Equal(tc.want))
		})
	}
}

func TestFromUnstructuredKeepsNewerFields(t *testing.T) {
	g := NewWithT(t)
	u := New()
	u.SetNamespace("a")
	u.SetName("app")
	g.Expect(unstructured.SetNestedField(u.Object, "oci://registry.example.com/app", "spec", "url")).To(Succeed())
	g.Expect(unstructured.SetNestedField(u.Object, "sha256:abc", "status", "sourceVerificationFingerprint")).To(Succeed())
	g.Expect(unstructured.SetNestedField(u.Object, "something new", "status", "fieldFromTheFuture")).To(Succeed())
	r, err := FromUnstructured(u)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.Spec.URL).To(Equal("oci://registry.example.com/app"))
	g.Expect(r.Fingerprint).To(Equal("sha256:abc"))
}
