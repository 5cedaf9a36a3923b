package manifests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/flux-notation/verification-operator/api/v1alpha1"
	testenv "github.com/flux-notation/verification-operator/test/envtest"
)

// apiServerDefaults applies the CRD's defaults with the API server's own
// algorithm (structural schema defaulting), for comparison with ApplyDefaults.
func apiServerDefaults(t *testing.T, p *v1alpha1.VerificationPolicy) *v1alpha1.VerificationPolicy {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "verification.flux-notation.io_verificationpolicies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &internal, nil); err != nil {
		t.Fatal(err)
	}
	s, err := structuralschema.NewStructural(&internal)
	if err != nil {
		t.Fatal(err)
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	if err != nil {
		t.Fatal(err)
	}
	structuraldefaulting.Default(u, s)
	out := &v1alpha1.VerificationPolicy{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDefaultIsWhatTheAPIServerDoes(t *testing.T) {
	for _, name := range []string{"minimal", "sample"} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			p := &v1alpha1.VerificationPolicy{}
			p.Name = "p"
			p.Spec.Certificates = []v1alpha1.CertificateSource{{Name: "a", Inline: "x"}, {Name: "b", Type: v1alpha1.CertificateTypeTSA, Inline: "y"}}
			p.Spec.Target.Namespaces = []string{"team-a"}
			if name == "sample" {
				set, err := Read([]string{filepath.Join(testenv.RepoRoot(), "config", "samples", "verification_v1alpha1_verificationpolicy.yaml")}, nil)
				g.Expect(err).NotTo(HaveOccurred())
				p = set.Policies[0].DeepCopy()
				p.Spec.Rollout.Strategy = v1alpha1.RolloutStaged
			}
			want := apiServerDefaults(t, p)
			got := p.DeepCopy()
			ApplyDefaults(got)
			g.Expect(got).To(Equal(want))
		})
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadFindsFilesLikeKubectlApply(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	write(t, dir, "a.yaml", `# comment only
---
apiVersion: v1
kind: Secret
metadata: {name: roots, namespace: trust}
stringData: {ca.crt: from-string-data}
data: {ca.crt: ZnJvbS1kYXRh, other: b3RoZXI=}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
`)
	write(t, dir, "b.json", `{"apiVersion": "v1", "kind": "List", "items": [
	  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "trust"}, "data": {"k": "v"}}]}`)
	write(t, dir, "notes.txt", "not read")

	set, err := Read([]string{dir}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(set.Secrets).To(HaveLen(1))
	g.Expect(set.Secrets[0].Data).To(Equal(map[string][]byte{"ca.crt": []byte("from-string-data"), "other": []byte("other")}), "stringData wins, as on the API server")
	g.Expect(set.ConfigMaps).To(HaveLen(1))
	g.Expect(set.Notes).To(ConsistOf(ContainSubstring("ignored apps/v1 Deployment web")))
	g.Expect(set.OutsideNamespace("trust")).To(BeEmpty())
	g.Expect(set.OutsideNamespace("elsewhere")).To(HaveLen(2))

	r := set.Reader(nil)
	var cm corev1.ConfigMap
	g.Expect(r.Get(context.Background(), client.ObjectKey{Namespace: "trust", Name: "cm"}, &cm)).To(Succeed())
	g.Expect(cm.Data).To(HaveKeyWithValue("k", "v"))
	err = r.Get(context.Background(), client.ObjectKey{Namespace: "other", Name: "cm"}, &cm)
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "sources resolve in their own namespace only")
}

func TestReadIsStrict(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"unknown field":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndatta: {}\n",
		"duplicate field": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {}\ndata: {}\n",
		"no name":         "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
		"twice":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"other version":   "apiVersion: verification.flux-notation.io/v1beta9\nkind: VerificationPolicy\nmetadata: {name: a}\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Read([]string{write(t, dir, strings.ReplaceAll(name, " ", "-")+".yaml", content)}, nil)
			NewWithT(t).Expect(err).To(HaveOccurred())
		})
	}
}

func TestPolicyPicksOne(t *testing.T) {
	g := NewWithT(t)
	set := &Set{Policies: []*v1alpha1.VerificationPolicy{{}, {}}}
	set.Policies[0].Name, set.Policies[1].Name = "a", "b"
	_, err := set.Policy("")
	g.Expect(err).To(MatchError(ContainSubstring("name one with --policy")))
	p, err := set.Policy("b")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(p.Name).To(Equal("b"))
	_, err = set.Policy("c")
	g.Expect(err).To(HaveOccurred())
}
